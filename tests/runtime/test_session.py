from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.fixtures.onnx_graphs import (
    constant_output_graph,
    write_ultralytics_onnx,
    yolov8_rows,
)
from visionflow.errors import InvalidModelPackageError, ModelLoadError
from visionflow.runtime import OnnxSession, TensorSpec, read_onnx_info

NAMES = ("circle", "square", "triangle")
ROWS = yolov8_rows([[160, 160, 64, 64]], [[0.1, 0.9, 0.2]], anchors=2100)


def _graph(path: Path, *, dynamic_batch: bool, metadata: dict[str, str] | None = None) -> Path:
    extra = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    model = constant_output_graph(
        {"output0": ROWS, "extra": extra},
        input_hw=(320, 256),
        dynamic_batch=dynamic_batch,
        metadata=metadata,
    )
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    ("dynamic_batch", "batch_dim"),
    [pytest.param(False, 1, id="static"), pytest.param(True, None, id="dynamic")],
)
def test_read_onnx_info_shapes(tmp_path: Path, dynamic_batch: bool, batch_dim: int | None) -> None:
    info = read_onnx_info(_graph(tmp_path / "m.onnx", dynamic_batch=dynamic_batch))

    assert info.inputs == (TensorSpec("images", "tensor(float)", (batch_dim, 3, 320, 256)),)
    assert info.outputs == (
        TensorSpec("output0", "tensor(float)", (batch_dim, 7, 2100)),
        TensorSpec("extra", "tensor(float)", (batch_dim, 2, 3)),
    )
    assert info.metadata == {}


def test_read_onnx_info_ultralytics_metadata(tmp_path: Path) -> None:
    path = write_ultralytics_onnx(tmp_path / "yolo.onnx", ROWS, NAMES, imgsz=(320, 320))

    info = read_onnx_info(path)

    assert info.metadata["names"] == "{0: 'circle', 1: 'square', 2: 'triangle'}"
    assert info.metadata["imgsz"] == "[320, 320]"
    assert info.metadata["task"] == "detect"
    assert info.metadata["stride"] == "32"
    assert all(isinstance(v, str) for v in info.metadata.values())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(path: Path) -> Path:
    full = _graph(path, dynamic_batch=False).read_bytes()
    return _write(path, full[: len(full) // 2])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: _write(p, b""), id="empty"),
        pytest.param(lambda p: _write(p, b"PK\x03\x04 a zip, not a model"), id="zip"),
        pytest.param(lambda p: _write(p, b"\x89PNG\r\n\x1a\n" + bytes(64)), id="png"),
        pytest.param(_truncated, id="truncated"),
        pytest.param(lambda p: p, id="missing"),
    ],
)
def test_read_onnx_info_rejects_non_onnx(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path / "model.onnx")

    with pytest.raises(
        InvalidModelPackageError, match=r"model\.onnx is not a loadable ONNX"
    ) as err:
        read_onnx_info(path)

    assert err.value.status_code == 400


@pytest.mark.parametrize(
    ("dynamic_batch", "batch"),
    [
        pytest.param(False, 1, id="static-1"),
        pytest.param(True, 1, id="dynamic-1"),
        pytest.param(True, 5, id="dynamic-5"),
    ],
)
def test_session_run_output_shapes(tmp_path: Path, dynamic_batch: bool, batch: int) -> None:
    session = OnnxSession(_graph(tmp_path / "m.onnx", dynamic_batch=dynamic_batch))

    outputs = session.run({"images": np.zeros((batch, 3, 320, 256), dtype=np.float32)})

    assert [o.shape for o in outputs] == [(batch, 7, 2100), (batch, 2, 3)]
    assert all(isinstance(o, np.ndarray) for o in outputs)
    np.testing.assert_array_equal(outputs[0], np.repeat(ROWS, batch, axis=0))
    np.testing.assert_array_equal(outputs[1][-1], [[0, 1, 2], [3, 4, 5]])


def test_session_describes_its_graph(tmp_path: Path) -> None:
    session = OnnxSession(_graph(tmp_path / "m.onnx", dynamic_batch=True), intra_op_threads=1)

    assert session.input == TensorSpec("images", "tensor(float)", (None, 3, 320, 256))
    assert [o.name for o in session.outputs] == ["output0", "extra"]
    assert session.providers == ("CPUExecutionProvider",)


def test_session_refuses_a_missing_provider_unless_told_to_fall_back(tmp_path: Path) -> None:
    # Never silent (issue 12): this CPU build has no CUDA, so asking for it is an error...
    graph = _graph(tmp_path / "m.onnx", dynamic_batch=False)
    with pytest.raises(ModelLoadError, match="CUDAExecutionProvider"):
        OnnxSession(graph, providers=("CUDAExecutionProvider",))

    # ...or, with the fallback setting, a CPU session (and a logged warning).
    session = OnnxSession(graph, providers=("CUDAExecutionProvider",), provider_fallback=True)

    assert session.providers == ("CPUExecutionProvider",)


def test_session_run_is_thread_safe(tmp_path: Path) -> None:
    session = OnnxSession(_graph(tmp_path / "m.onnx", dynamic_batch=True))

    def run(batch: int) -> tuple[int, ...]:
        return session.run({"images": np.zeros((batch, 3, 320, 256), dtype=np.float32)})[0].shape

    with ThreadPoolExecutor(max_workers=4) as pool:
        shapes = list(pool.map(run, [1, 2, 3, 4] * 4))

    assert shapes == [(b, 7, 2100) for b in [1, 2, 3, 4] * 4]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: _write(p, b""), id="empty"),
        pytest.param(lambda p: _write(p, b"\x00garbage\xff" * 10), id="garbage"),
        pytest.param(_truncated, id="truncated"),
        pytest.param(lambda p: p, id="missing"),
    ],
)
def test_session_broken_file_is_a_load_error(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path / "weights.onnx")

    with pytest.raises(ModelLoadError, match=r"could not load ONNX weights weights\.onnx") as err:
        OnnxSession(path)

    assert err.value.status_code == 500


@pytest.mark.parametrize(("allow", "entry"), [(False, "0"), (True, "1")])
def test_intra_op_spinning_is_a_setting(tmp_path: Path, allow: bool, entry: str) -> None:
    session = OnnxSession(_graph(tmp_path / "m.onnx", dynamic_batch=False), allow_spinning=allow)

    options = session._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == entry
