"""Execution providers: what is asked for (``VISIONFLOW_ONNX_PROVIDERS``) against what this
onnxruntime build has, and the options each accelerator gets.

A provider that is asked for but missing from the build is never dropped silently: it is a
``ModelLoadError`` naming the ``gpu`` extra, or, with ``fallback``
(VISIONFLOW_ONNX_PROVIDER_FALLBACK), a logged warning and the providers that remain (CPU last).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from visionflow.errors import ModelLoadError

__all__ = ["GPU_EXTRA", "KNOWN_PROVIDERS", "ProviderSpec", "resolve_providers"]

logger = logging.getLogger("visionflow.runtime")

GPU_EXTRA = "gpu"
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
KNOWN_PROVIDERS = frozenset(
    {
        CPU,
        CUDA,
        TENSORRT,
        "CoreMLExecutionProvider",
        "OpenVINOExecutionProvider",
        "DmlExecutionProvider",
        "ROCMExecutionProvider",
    }
)

# What ``ort.InferenceSession(providers=...)`` takes: a name, or a name and its options.
ProviderSpec = tuple[str, dict[str, Any]]


def _options(name: str, trt_cache_dir: Path | None) -> dict[str, Any]:
    if name == TENSORRT and trt_cache_dir is not None:
        # Building a TensorRT engine takes minutes; the cache keeps it across restarts.
        return {
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(trt_cache_dir),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(trt_cache_dir),
        }
    return {}


def resolve_providers(
    requested: Sequence[str],
    available: Iterable[str],
    *,
    fallback: bool = False,
    trt_cache_dir: Path | None = None,
) -> list[ProviderSpec]:
    """``requested`` providers (in priority order) as session specs, CPU always last.

    An unknown name, or a known one this onnxruntime build lacks, raises ``ModelLoadError``
    unless ``fallback``, which logs a warning and goes on without it.
    """
    have = set(available)
    chosen: list[ProviderSpec] = []
    missing: list[str] = []
    for name in dict.fromkeys(requested):
        if name not in KNOWN_PROVIDERS:
            raise ModelLoadError(
                f"unknown ONNX Runtime execution provider {name!r} in VISIONFLOW_ONNX_PROVIDERS "
                f"(known: {', '.join(sorted(KNOWN_PROVIDERS))})"
            )
        if name in have:
            chosen.append((name, _options(name, trt_cache_dir)))
        else:
            missing.append(name)
    if missing:
        message = (
            f"execution provider(s) {', '.join(missing)} asked for in VISIONFLOW_ONNX_PROVIDERS "
            f"are not in this onnxruntime build (it has: {', '.join(sorted(have))}); for "
            f"CUDA/TensorRT install onnxruntime-gpu in place of onnxruntime "
            f"(pip install 'visionflow[{GPU_EXTRA}]') on a machine with the NVIDIA libraries"
        )
        if not fallback:
            raise ModelLoadError(
                message + ", or set VISIONFLOW_ONNX_PROVIDER_FALLBACK=true to run without them"
            )
        logger.warning("%s; falling back (VISIONFLOW_ONNX_PROVIDER_FALLBACK)", message)
    if all(name != CPU for name, _ in chosen):
        chosen.append((CPU, {}))
    return chosen
