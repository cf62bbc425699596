"""ONNX Runtime sessions behind a small, typed surface."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from visionflow.errors import InvalidModelPackageError, ModelLoadError
from visionflow.runtime.batcher import BatcherStats, RequestBatcher
from visionflow.runtime.providers import resolve_providers

__all__ = ["OnnxInfo", "OnnxSession", "TensorSpec", "check_providers", "read_onnx_info"]


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: name, element type and shape (``None`` for symbolic dims)."""

    name: str
    element_type: str
    shape: tuple[int | None, ...]


@dataclass(frozen=True)
class OnnxInfo:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: dict[str, str]


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in (arg.shape or ()))
    return TensorSpec(name=arg.name, element_type=str(arg.type), shape=shape)


def _session_options(intra_op_threads: int, allow_spinning: bool = False) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if intra_op_threads > 0:
        options.intra_op_num_threads = intra_op_threads
    # Idle intra-op threads busy-wait by default: on cores shared with other requests (or other
    # processes) that burns the CPU the next operator needs. Measured on 2 shared cores, YOLOv8n
    # 640: spinning off = 0.58-0.69x the sequential time and +18-49 % 4-thread throughput
    # (docs/performance.md).
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if allow_spinning else "0"
    )
    return options


def check_providers(requested: tuple[str, ...], *, fallback: bool = False) -> list[str]:
    """At startup: the providers sessions will use, or the ``ModelLoadError`` of a missing one
    (a logged warning with ``fallback``)."""
    return [
        name
        for name, _ in resolve_providers(
            requested, ort.get_available_providers(), fallback=fallback
        )
    ]


def read_onnx_info(path: Path) -> OnnxInfo:
    """Inputs, outputs and ``metadata_props`` of an ONNX file (an importer's first look at it).

    Without graph optimisations (which leave a graph's inputs, outputs and metadata as they
    are): a YOLOv8n's session is made in 8 ms instead of 19."""
    options = _session_options(1)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several unrelated types for bad files
        raise InvalidModelPackageError(f"{path.name} is not a loadable ONNX model: {exc}") from None
    meta = session.get_modelmeta()
    return OnnxInfo(
        inputs=tuple(_spec(a) for a in session.get_inputs()),
        outputs=tuple(_spec(a) for a in session.get_outputs()),
        metadata=dict(meta.custom_metadata_map),
    )


class OnnxSession:
    """A loaded ONNX model. ``run`` is safe to call from several threads."""

    def __init__(
        self,
        path: Path,
        *,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
        intra_op_threads: int = 0,
        provider_fallback: bool = False,
        trt_cache_dir: Path | None = None,
        allow_spinning: bool = False,
        max_batch: int = 1,
        max_wait_s: float = 0.0,
    ) -> None:
        """``providers``: priority order; one missing from this onnxruntime build is an error, or
        a logged fallback with ``provider_fallback`` (``runtime.providers``)."""
        chosen = resolve_providers(
            providers,
            ort.get_available_providers(),
            fallback=provider_fallback,
            trt_cache_dir=trt_cache_dir,
        )
        try:
            self._session = ort.InferenceSession(
                str(path),
                sess_options=_session_options(intra_op_threads, allow_spinning),
                providers=chosen,
            )
        except Exception as exc:
            raise ModelLoadError(f"could not load ONNX weights {path.name}: {exc}") from None
        self.inputs = tuple(_spec(a) for a in self._session.get_inputs())
        self.outputs = tuple(_spec(a) for a in self._session.get_outputs())
        self.providers = tuple(self._session.get_providers())
        # The weights' size on disk: what a loaded model's memory budget counts for it.
        self.weight_bytes = path.stat().st_size
        # Concurrent calls merged along the batch axis, where every input and output has a
        # symbolic first dimension (``runtime.batcher``); max_batch 1 = off.
        batchable = all(spec.shape[:1] == (None,) for spec in (*self.inputs, *self.outputs))
        self.batcher = (
            RequestBatcher(self._run_now, max_batch, max_wait_s)
            if max_batch > 1 and batchable
            else None
        )

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    def batcher_stats(self) -> BatcherStats | None:
        return self.batcher.stats() if self.batcher is not None else None

    def run(self, feeds: dict[str, npt.NDArray[np.generic]]) -> list[npt.NDArray[np.generic]]:
        """Run the graph; returns the outputs in declaration order."""
        if self.batcher is not None:
            return self.batcher.run(feeds)
        return self._run_now(feeds)

    def _run_now(self, feeds: dict[str, npt.NDArray[np.generic]]) -> list[npt.NDArray[np.generic]]:
        outputs = self._session.run(None, feeds)
        return [np.asarray(o) for o in outputs]
