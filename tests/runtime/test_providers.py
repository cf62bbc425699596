from __future__ import annotations

import logging
from pathlib import Path

import pytest

from visionflow.errors import ModelLoadError
from visionflow.runtime import check_providers
from visionflow.runtime.providers import resolve_providers

CPU_ONLY = ["CPUExecutionProvider"]
GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        pytest.param((), CPU_ONLY, ["CPUExecutionProvider"], id="empty-means-cpu"),
        pytest.param(("CPUExecutionProvider",), CPU_ONLY, ["CPUExecutionProvider"], id="cpu"),
        pytest.param(
            ("CUDAExecutionProvider",),
            GPU_BUILD,
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            id="cuda-then-cpu",
        ),
        pytest.param(
            ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CUDAExecutionProvider"),
            GPU_BUILD,
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
            id="order-kept-duplicates-dropped",
        ),
    ],
)
def test_resolve_providers(
    requested: tuple[str, ...], available: list[str], expected: list[str]
) -> None:
    assert [name for name, _ in resolve_providers(requested, available)] == expected


def test_tensorrt_gets_an_engine_cache_folder(tmp_path: Path) -> None:
    specs = dict(
        resolve_providers(("TensorrtExecutionProvider",), GPU_BUILD, trt_cache_dir=tmp_path)
    )

    assert specs["TensorrtExecutionProvider"]["trt_engine_cache_enable"] is True
    assert specs["TensorrtExecutionProvider"]["trt_engine_cache_path"] == str(tmp_path)
    assert specs["CPUExecutionProvider"] == {}


def test_a_missing_provider_is_an_error_naming_the_extra_and_the_setting() -> None:
    with pytest.raises(ModelLoadError, match=r"CUDAExecutionProvider.*visionflow\[gpu\].*FALLBACK"):
        resolve_providers(("CUDAExecutionProvider",), CPU_ONLY)


def test_with_fallback_a_missing_provider_is_logged_not_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="visionflow.runtime"):
        specs = resolve_providers(("CUDAExecutionProvider",), CPU_ONLY, fallback=True)

    assert [name for name, _ in specs] == ["CPUExecutionProvider"]
    assert "CUDAExecutionProvider" in caplog.text
    assert "falling back" in caplog.text


def test_an_unknown_provider_name_is_an_error_even_with_fallback() -> None:
    with pytest.raises(ModelLoadError, match="unknown ONNX Runtime execution provider 'Cuda'"):
        resolve_providers(("Cuda",), CPU_ONLY, fallback=True)


def test_check_providers_against_this_build() -> None:
    # This onnxruntime build (the CPU wheel in CI): CUDA is missing and said so at startup.
    assert check_providers(("CPUExecutionProvider",)) == ["CPUExecutionProvider"]
    with pytest.raises(ModelLoadError, match="not in this onnxruntime build"):
        check_providers(("CUDAExecutionProvider",))
