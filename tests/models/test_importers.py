from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from tests.fixtures.onnx_graphs import (
    constant_output_graph,
    write_roboflow_folder,
    write_ultralytics_onnx,
    yolov5_rows,
    yolov8_rows,
)
from visionflow.errors import InvalidModelPackageError
from visionflow.models.importers import (
    detect_format,
    import_model,
    import_roboflow_folder,
    import_ultralytics_onnx,
)
from visionflow.models.manifest import MANIFEST_FILE, ModelManifest
from visionflow.models.package import ModelPackage, sha256_file

NAMES = ("circle", "square", "triangle")
V8_ROWS = yolov8_rows([[160, 160, 64, 64]], [[0.1, 0.9, 0.2]], anchors=2100)
V5_ROWS = yolov5_rows([[160, 160, 64, 64]], [0.8], [[0.1, 0.9, 0.2]], anchors=2100)


def _write_onnx(
    path: Path,
    metadata: dict[str, str],
    *,
    output0: np.ndarray = V8_ROWS,
    output1: np.ndarray | None = None,
    dynamic_batch: bool = False,
    symbolic_hw: bool = False,
) -> Path:
    outputs = {"output0": output0}
    if output1 is not None:
        outputs["output1"] = output1
    model = constant_output_graph(
        outputs, input_hw=(320, 320), dynamic_batch=dynamic_batch, metadata=metadata
    )
    if symbolic_hw:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
    onnx.save(model, path)
    return path


def _ultralytics_meta(**changes: str | None) -> dict[str, str]:
    meta: dict[str, str | None] = {
        "task": "detect",
        "stride": "32",
        "batch": "1",
        "imgsz": "[320, 320]",
        "names": str(dict(enumerate(NAMES))),
        **changes,
    }
    return {k: v for k, v in meta.items() if v is not None}


# -- Ultralytics ONNX ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dynamic_batch", "batch_size"),
    [pytest.param(False, 1, id="static-batch"), pytest.param(True, None, id="dynamic-batch")],
)
def test_ultralytics_onnx_metadata(
    tmp_path: Path, dynamic_batch: bool, batch_size: int | None
) -> None:
    path = write_ultralytics_onnx(
        tmp_path / "yolov8n.onnx", V8_ROWS, NAMES, dynamic_batch=dynamic_batch
    )

    package = import_ultralytics_onnx(path)

    manifest = package.manifest
    assert manifest.task == "object-detection"
    assert manifest.architecture == "yolov8"
    assert manifest.class_names == NAMES
    assert (manifest.input.width, manifest.input.height) == (320, 320)
    assert manifest.input.batch_size == batch_size
    assert manifest.input.resize_mode == "letterbox"
    assert manifest.input.padding_value == 114
    assert manifest.input.color_mode == "rgb"
    assert manifest.input.scaling_factor == 255.0
    assert manifest.weights["model"].sha256 == sha256_file(path)
    assert package.weight_path() == path
    assert manifest.source["format"] == "ultralytics-onnx"
    assert manifest.source["metadata"]["names"] == str(dict(enumerate(NAMES)))
    package.verify()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param("{0: 'only'}", ("only",), id="one-class"),
        pytest.param("{2: 'c', 0: 'a', 1: 'b'}", ("a", "b", "c"), id="ids-out-of-order"),
        pytest.param("{'1': 'b', '0': 'a'}", ("a", "b"), id="string-ids"),
        pytest.param(
            str({i: f"class{i}" for i in range(12)}),
            tuple(f"class{i}" for i in range(12)),
            id="ten-plus-sorted-numerically",
        ),
    ],
)
def test_ultralytics_names_order(tmp_path: Path, names: str, expected: tuple[str, ...]) -> None:
    output0 = np.zeros((1, 4 + len(expected), 100), dtype=np.float32)
    path = _write_onnx(tmp_path / "m.onnx", _ultralytics_meta(names=names), output0=output0)

    assert import_ultralytics_onnx(path).manifest.class_names == expected


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        pytest.param(None, "object-detection", id="missing-means-detect"),
        pytest.param("detect", "object-detection", id="detect"),
        pytest.param("segment", "instance-segmentation", id="segment"),
        pytest.param("pose", "keypoint-detection", id="pose"),
        pytest.param("classify", "classification", id="classify"),
    ],
)
def test_ultralytics_task(tmp_path: Path, task: str | None, expected: str) -> None:
    classes = len(NAMES)
    outputs: dict[str, np.ndarray] = {
        "segment": np.zeros((1, 4 + classes + 32, 100), np.float32),
        "pose": np.zeros((1, 4 + classes + 17 * 3, 100), np.float32),
        "classify": np.zeros((1, classes), np.float32),
    }
    protos = np.zeros((1, 32, 80, 80), np.float32) if task == "segment" else None
    path = _write_onnx(
        tmp_path / "m.onnx",
        _ultralytics_meta(task=task),
        output0=outputs.get(task or "", V8_ROWS),
        output1=protos,
    )

    assert import_ultralytics_onnx(path).manifest.task == expected


def test_ultralytics_symbolic_input_size_comes_from_imgsz(tmp_path: Path) -> None:
    meta = _ultralytics_meta(imgsz="[256, 480]")
    path = _write_onnx(tmp_path / "m.onnx", meta, symbolic_hw=True, dynamic_batch=True)

    spec = import_ultralytics_onnx(path).manifest.input

    assert (spec.height, spec.width, spec.batch_size) == (256, 480, None)


@pytest.mark.parametrize(
    ("changes", "symbolic_hw", "output0", "message"),
    [
        pytest.param(
            {}, False, np.zeros((1, 9, 100)), r"fits no detection layout.*C=3", id="class-count"
        ),
        pytest.param({"names": None}, False, V8_ROWS, "no 'names'", id="missing-names"),
        pytest.param({"names": "{0: 'a'"}, False, V8_ROWS, "'names' is unreadable", id="bad-names"),
        pytest.param({"names": "['a', 'b']"}, False, V8_ROWS, "must be a dict", id="names-list"),
        pytest.param({"names": "{}"}, False, V8_ROWS, "no classes", id="names-empty-detect"),
        pytest.param(
            {"names": "{}", "task": "segment"},
            False,
            V8_ROWS,
            "no classes",
            id="names-empty-segment",
        ),
        pytest.param(
            {"names": "{0: 'a', 2: 'c', 3: 'd'}"}, False, V8_ROWS, "without gaps", id="gap"
        ),
        pytest.param({"names": "{'x': 'a'}"}, False, V8_ROWS, "must be integers", id="name-ids"),
        # End-to-end metadata on a one-to-many output: the rows it promises are not there.
        pytest.param({"end2end": "True"}, False, V8_ROWS, "says end-to-end", id="end2end"),
        pytest.param(
            {"end2end": "true"}, False, V8_ROWS, "says end-to-end", id="end2end-lowercase"
        ),
        pytest.param({"task": "obb"}, False, V8_ROWS, "'obb' is not supported", id="obb"),
        pytest.param({"imgsz": None}, True, V8_ROWS, "no imgsz", id="no-input-size"),
    ],
)
def test_ultralytics_rejects(
    tmp_path: Path,
    changes: dict[str, str | None],
    symbolic_hw: bool,
    output0: np.ndarray,
    message: str,
) -> None:
    path = _write_onnx(
        tmp_path / "m.onnx",
        _ultralytics_meta(**changes),
        output0=output0.astype(np.float32),
        symbolic_hw=symbolic_hw,
    )

    with pytest.raises(InvalidModelPackageError, match=message) as caught:
        import_ultralytics_onnx(path)

    assert "m.onnx" in caught.value.message
    assert caught.value.status_code == 400


def test_ultralytics_end2end_false_is_accepted(tmp_path: Path) -> None:
    path = _write_onnx(tmp_path / "m.onnx", _ultralytics_meta(end2end="False"))

    assert import_ultralytics_onnx(path).manifest.architecture == "yolov8"


def test_ultralytics_yolov5_layout_detected(tmp_path: Path) -> None:
    path = _write_onnx(tmp_path / "m.onnx", _ultralytics_meta(), output0=V5_ROWS)

    assert import_ultralytics_onnx(path).manifest.architecture == "yolov5"


# -- Roboflow folders ---------------------------------------------------------------------------


def _rewrite_environment(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "environment.json"
    environment = json.loads(path.read_text())
    change(environment)
    path.write_text(json.dumps(environment))


@pytest.mark.parametrize(
    ("dynamic_batch", "batch_size"),
    [pytest.param(True, None, id="dynamic-batch"), pytest.param(False, 1, id="static-batch")],
)
def test_roboflow_folder(tmp_path: Path, dynamic_batch: bool, batch_size: int | None) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES, dynamic_batch=dynamic_batch)

    package = import_roboflow_folder(folder)

    manifest = package.manifest
    assert manifest.task == "object-detection"
    assert manifest.architecture == "yolov8"
    assert manifest.class_names == NAMES
    assert (manifest.input.width, manifest.input.height) == (320, 320)
    assert manifest.input.batch_size == batch_size
    assert manifest.input.resize_mode == "stretch"
    assert package.weight_path() == folder / "weights.onnx"
    assert manifest.source["format"] == "roboflow"
    assert manifest.source["model_type"]["model_type"] == "yolov8n"
    package.verify()


@pytest.mark.parametrize(
    ("resize", "mode", "padding"),
    [
        pytest.param(None, "stretch", None, id="no-resize-step"),
        pytest.param({"enabled": True}, "stretch", None, id="no-format"),
        pytest.param({"format": "Stretch to"}, "stretch", None, id="stretch"),
        pytest.param({"format": "Fit (black edges) in"}, "letterbox", 0, id="black-edges"),
        pytest.param({"format": "Fit (grey edges) in"}, "letterbox", 114, id="grey-edges"),
        pytest.param({"format": "Fit (white edges) in"}, "letterbox", 255, id="white-edges"),
        pytest.param({"format": "Fit (reflect edges) in"}, "letterbox", 0, id="reflect-as-black"),
        pytest.param({"format": "Fit within"}, "letterbox", 0, id="fit-within-as-black"),
        pytest.param({"format": "Fill (with center crop) in"}, "letterbox", 0, id="fill-as-black"),
        pytest.param({"format": "Squash"}, "stretch", None, id="unknown-falls-back-to-stretch"),
    ],
)
@pytest.mark.parametrize(
    "as_string", [pytest.param(True, id="json-string"), pytest.param(False, id="dict")]
)
def test_roboflow_resize_format(
    tmp_path: Path,
    resize: dict[str, Any] | None,
    mode: str,
    padding: int | None,
    as_string: bool,
) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    preprocessing: dict[str, Any] = {"auto-orient": {"enabled": True}}
    if resize is not None:
        preprocessing["resize"] = resize

    def change(environment: dict[str, Any]) -> None:
        environment["PREPROCESSING"] = json.dumps(preprocessing) if as_string else preprocessing

    _rewrite_environment(folder, change)

    manifest = import_roboflow_folder(folder).manifest

    assert manifest.input.resize_mode == mode
    if padding is not None:
        assert manifest.input.padding_value == padding
    assert manifest.source["preprocessing"] == preprocessing


@pytest.mark.parametrize(
    "preprocessing",
    [
        pytest.param("", id="empty-string"),
        pytest.param({}, id="empty-dict"),
        pytest.param(None, id="null"),
    ],
)
def test_roboflow_without_preprocessing_stretches(tmp_path: Path, preprocessing: object) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES, resize_format="Fit within")
    _rewrite_environment(folder, lambda env: env.update(PREPROCESSING=preprocessing))

    assert import_roboflow_folder(folder).manifest.input.resize_mode == "stretch"


def test_roboflow_preprocessing_not_json_is_a_package_error(tmp_path: Path) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    _rewrite_environment(folder, lambda env: env.update(PREPROCESSING="{'resize': "))

    with pytest.raises(InvalidModelPackageError, match="PREPROCESSING"):
        import_roboflow_folder(folder)


def test_roboflow_class_names_txt_wins_over_class_map(tmp_path: Path) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    _rewrite_environment(folder, lambda env: env.update(CLASS_MAP={"0": "x", "1": "y", "2": "z"}))

    assert import_roboflow_folder(folder).manifest.class_names == NAMES


@pytest.mark.parametrize(
    ("class_map", "expected"),
    [
        pytest.param({"0": "circle", "1": "square", "2": "triangle"}, NAMES, id="in-order"),
        pytest.param({"2": "triangle", "0": "circle", "1": "square"}, NAMES, id="out-of-order"),
    ],
)
def test_roboflow_class_map_fallback(
    tmp_path: Path, class_map: dict[str, str], expected: tuple[str, ...]
) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES, class_names_file=False)
    _rewrite_environment(folder, lambda env: env.update(CLASS_MAP=class_map))

    assert import_roboflow_folder(folder).manifest.class_names == expected


def test_roboflow_class_names_txt_skips_blank_lines(tmp_path: Path) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    (folder / "class_names.txt").write_text("circle\n\n square \ntriangle\n\n")

    assert import_roboflow_folder(folder).manifest.class_names == NAMES


@pytest.mark.parametrize(
    ("model_type", "output0", "architecture"),
    [
        pytest.param("yolov8n", V8_ROWS, "yolov8", id="yolov8"),
        pytest.param("yolov11s", V8_ROWS, "yolov8", id="yolov11-layout-is-yolov8"),
        pytest.param("yolov5v2s", V5_ROWS, "yolov5", id="yolov5"),
        pytest.param("", V5_ROWS, "yolov5", id="no-hint-v5-layout"),
        pytest.param("", V8_ROWS, "yolov8", id="no-hint-v8-layout"),
    ],
)
def test_roboflow_architecture(
    tmp_path: Path, model_type: str, output0: np.ndarray, architecture: str
) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", output0, NAMES, model_type=model_type)

    assert import_roboflow_folder(folder).manifest.architecture == architecture


def test_roboflow_symbolic_input_size_comes_from_resize(tmp_path: Path) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    model = onnx.load(folder / "weights.onnx")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    onnx.save(model, folder / "weights.onnx")

    def change(environment: dict[str, Any]) -> None:
        environment["PREPROCESSING"] = {"resize": {"width": 416, "height": 288}}

    _rewrite_environment(folder, change)

    spec = import_roboflow_folder(folder).manifest.input
    assert (spec.width, spec.height) == (416, 288)


def test_roboflow_extras(tmp_path: Path) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)

    def change(environment: dict[str, Any]) -> None:
        environment["MULTICLASS"] = True
        environment["PREPROCESSING"] = {
            "grayscale": {"enabled": True},
            "contrast": {"enabled": False, "type": "Histogram Equalization"},
            "static-crop": {"enabled": True, "x_min": 10},
        }

    _rewrite_environment(folder, change)

    extra = import_roboflow_folder(folder).manifest.extra
    # MULTICLASS only means something for classifiers; this folder holds a detector.
    assert extra == {"roboflow_preprocessing_ignored": ["static-crop", "grayscale"]}


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        pytest.param(
            lambda f: (f / "environment.json").write_text("{"),
            "environment.json is not valid JSON",
            id="environment-not-json",
        ),
        pytest.param(
            lambda f: (f / "model_type.json").write_text("[]"),
            "must be objects",
            id="model-type-not-object",
        ),
        pytest.param(
            lambda f: (f / "model_type.json").write_text('{"project_task_type": "ocr"}'),
            "'ocr' is not one of",
            id="unknown-task",
        ),
        pytest.param(
            lambda f: (f / "model_type.json").write_text("{}"),
            "project_task_type '' is not one of",
            id="no-task",
        ),
        pytest.param(
            lambda f: (
                (f / "class_names.txt").unlink(),
                _rewrite_environment(f, lambda env: env.pop("CLASS_MAP")),
            ),
            "no class_names.txt and no CLASS_MAP",
            id="no-class-names",
        ),
        pytest.param(
            lambda f: (f / "class_names.txt").write_text("a\nb\n"),
            r"fits no detection layout.*C=2",
            id="class-count-mismatch",
        ),
        pytest.param(
            lambda f: (f / "weights.onnx").write_bytes(b"not a model"),
            "not a loadable ONNX model",
            id="weights-not-onnx",
        ),
    ],
)
def test_roboflow_rejects(tmp_path: Path, breakage: Callable[[Path], object], message: str) -> None:
    folder = write_roboflow_folder(tmp_path / "rf", V8_ROWS, NAMES)
    breakage(folder)

    with pytest.raises(InvalidModelPackageError, match=message):
        import_roboflow_folder(folder)


# -- detect_format / import_model ---------------------------------------------------------------


def _roboflow(root: Path) -> Path:
    return write_roboflow_folder(root / "rf", V8_ROWS, NAMES)


def _native(root: Path) -> Path:
    source = write_ultralytics_onnx(root / "source.onnx", V8_ROWS, NAMES)
    import_ultralytics_onnx(source).write_folder(root / "native")
    return root / "native"


def _onnx_file(root: Path) -> Path:
    return write_ultralytics_onnx(root / "model.onnx", V8_ROWS, NAMES)


def _garbage_onnx(root: Path) -> Path:
    (root / "model.ONNX").write_bytes(b"\x00garbage")
    return root / "model.ONNX"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(_onnx_file, "ultralytics-onnx", id="onnx-file"),
        pytest.param(_garbage_onnx, "ultralytics-onnx", id="garbage-onnx-by-suffix"),
        pytest.param(_roboflow, "roboflow", id="roboflow-folder"),
        pytest.param(_native, "visionflow", id="native-folder"),
    ],
)
def test_detect_format(tmp_path: Path, make: Callable[[Path], Path], expected: str) -> None:
    assert detect_format(make(tmp_path)) == expected


def _empty_folder(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _weights_only_folder(root: Path) -> Path:
    folder = root / "partial"
    folder.mkdir()
    (folder / "weights.onnx").write_bytes(b"")
    return folder


def _text_file(root: Path) -> Path:
    (root / "weights.pt").write_bytes(b"\x80\x02garbage")
    return root / "weights.pt"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda root: root / "missing", "does not exist", id="missing"),
        pytest.param(
            _empty_folder,
            "no model.json.*lacks weights.onnx, environment.json, model_type.json$",
            id="empty-folder",
        ),
        pytest.param(
            _weights_only_folder,
            r"lacks environment.json, model_type.json \(found weights.onnx\)",
            id="weights-only",
        ),
        pytest.param(_text_file, "not an .onnx model", id="other-file"),
    ],
)
def test_detect_format_rejects(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    with pytest.raises(InvalidModelPackageError, match=message):
        detect_format(make(tmp_path))


def test_import_model_garbage_onnx(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelPackageError, match="not a loadable ONNX model"):
        import_model(_garbage_onnx(tmp_path))


@pytest.mark.parametrize(
    ("make", "source_format"),
    [
        pytest.param(_onnx_file, "ultralytics-onnx", id="ultralytics"),
        pytest.param(_roboflow, "roboflow", id="roboflow"),
        pytest.param(_native, "ultralytics-onnx", id="native-keeps-source"),
    ],
)
def test_import_model_dispatches(
    tmp_path: Path, make: Callable[[Path], Path], source_format: str
) -> None:
    package = import_model(make(tmp_path))

    assert package.manifest.source["format"] == source_format
    assert package.manifest.class_names == NAMES
    package.verify()


# -- native packages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "importer",
    [
        pytest.param(lambda root: import_ultralytics_onnx(_onnx_file(root)), id="ultralytics"),
        pytest.param(lambda root: import_roboflow_folder(_roboflow(root)), id="roboflow"),
    ],
)
def test_package_folder_round_trip(
    tmp_path: Path, importer: Callable[[Path], ModelPackage]
) -> None:
    package = importer(tmp_path)
    out = tmp_path / "out" / "nested"

    package.write_folder(out)
    loaded = ModelPackage.from_folder(out)

    assert loaded.manifest == package.manifest
    assert loaded.checksum == package.checksum
    assert loaded.files == {"model": out / "weights.onnx"}
    assert (out / "weights.onnx").read_bytes() == package.weight_path().read_bytes()
    assert (out / MANIFEST_FILE).read_bytes() == package.manifest.to_json_bytes()


def test_checksum_is_sha256_of_the_canonical_manifest(tmp_path: Path) -> None:
    package = import_ultralytics_onnx(_onnx_file(tmp_path))
    package.write_folder(tmp_path / "out")

    on_disk = (tmp_path / "out" / MANIFEST_FILE).read_bytes()
    assert package.checksum == hashlib.sha256(on_disk).hexdigest()
    assert json.loads(on_disk) == package.manifest.model_dump(mode="json")
    assert list(json.loads(on_disk)) == sorted(json.loads(on_disk))


def test_checksum_changes_with_the_weights(tmp_path: Path) -> None:
    first = import_ultralytics_onnx(_onnx_file(tmp_path))
    other = write_ultralytics_onnx(tmp_path / "other.onnx", V8_ROWS * 0.5, NAMES)

    assert import_ultralytics_onnx(other).checksum != first.checksum


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        pytest.param(
            lambda f: (f / "weights.onnx").write_bytes(b"tampered"),
            "has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}",
            id="checksum-mismatch",
        ),
        pytest.param(
            lambda f: (f / "weights.onnx").write_bytes(b""),
            "has sha256",
            id="truncated-to-empty",
        ),
        pytest.param(lambda f: (f / "weights.onnx").unlink(), "is missing", id="weights-missing"),
        pytest.param(lambda f: (f / MANIFEST_FILE).unlink(), "has no model.json", id="no-manifest"),
    ],
)
def test_package_folder_verification(
    tmp_path: Path, breakage: Callable[[Path], object], message: str
) -> None:
    import_ultralytics_onnx(_onnx_file(tmp_path)).write_folder(tmp_path / "pkg")
    breakage(tmp_path / "pkg")

    with pytest.raises(InvalidModelPackageError, match=message):
        ModelPackage.from_folder(tmp_path / "pkg")


def test_weight_path_unknown_key(tmp_path: Path) -> None:
    package = import_ultralytics_onnx(_onnx_file(tmp_path))

    with pytest.raises(InvalidModelPackageError, match="no weight file 'extra'"):
        package.weight_path("extra")


def _valid_manifest(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = import_ultralytics_onnx(_onnx_file(tmp_path)).manifest.model_dump(
        mode="json"
    )
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda m: m.pop("task"), r"task: Field required", id="missing-task"),
        pytest.param(lambda m: m.pop("input"), r"input: Field required", id="missing-input"),
        pytest.param(lambda m: m.pop("weights"), r"weights: Field required", id="missing-weights"),
        pytest.param(lambda m: m.update(class_names=[]), r"class_names: ", id="no-classes"),
        pytest.param(lambda m: m.update(weights={}), r"weights: ", id="no-weight-files"),
        pytest.param(lambda m: m.update(task="ocr"), r"task: ", id="unknown-task"),
        pytest.param(
            lambda m: m.update(format="visionflow-model-package/2"), r"format: ", id="format"
        ),
        pytest.param(lambda m: m.update(surprise=1), r"surprise: Extra", id="extra-field"),
        pytest.param(
            lambda m: m["input"].update(resize_mode="crop"), r"input.resize_mode", id="resize"
        ),
        pytest.param(lambda m: m["input"].update(width=0), r"input.width", id="zero-width"),
        pytest.param(
            lambda m: m["input"].update(padding_value=256), r"input.padding_value", id="padding"
        ),
        pytest.param(
            lambda m: m["weights"]["model"].update(file="../weights.onnx"),
            r"weights.model.file: .*plain file name",
            id="weight-path-escape",
        ),
        pytest.param(
            lambda m: m["weights"]["model"].update(sha256="ABC"),
            r"weights.model.sha256",
            id="bad-sha256",
        ),
    ],
)
def test_manifest_validation_errors(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = _valid_manifest(tmp_path)
    change(data)

    with pytest.raises(InvalidModelPackageError, match=message) as caught:
        ModelManifest.from_json_bytes(json.dumps(data).encode())

    assert caught.value.message.startswith("model.json is invalid: ")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    ],
)
def test_manifest_not_json(tmp_path: Path, data: bytes) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / MANIFEST_FILE).write_bytes(data)

    with pytest.raises(InvalidModelPackageError, match="is not valid JSON"):
        ModelPackage.from_folder(folder)


def test_manifest_root_must_be_an_object() -> None:
    with pytest.raises(InvalidModelPackageError, match="<root>"):
        ModelManifest.from_json_bytes(b"[]")


@pytest.mark.parametrize(
    ("kpt_names", "expected"),
    [
        pytest.param(None, {}, id="absent"),
        pytest.param("{0: ['nose', 'tail']}", {"0": ["nose", "tail"]}, id="names"),
        pytest.param("{}", {}, id="empty"),
    ],
)
def test_ultralytics_keypoint_names(
    tmp_path: Path, kpt_names: str | None, expected: dict[str, list[str]]
) -> None:
    meta = _ultralytics_meta(task="pose", kpt_shape="[2, 3]", kpt_names=kpt_names)
    output0 = np.zeros((1, 4 + len(NAMES) + 2 * 3, 100), np.float32)
    path = _write_onnx(tmp_path / "m.onnx", meta, output0=output0)

    keypoints = import_ultralytics_onnx(path).manifest.extra["keypoints"]

    assert keypoints["count"] == 2
    assert keypoints["names"] == expected


def test_ultralytics_bad_keypoint_names(tmp_path: Path) -> None:
    meta = _ultralytics_meta(task="pose", kpt_names="['nose']")
    output0 = np.zeros((1, 4 + len(NAMES) + 3, 100), np.float32)
    path = _write_onnx(tmp_path / "m.onnx", meta, output0=output0)
    with pytest.raises(InvalidModelPackageError, match="kpt_names"):
        import_ultralytics_onnx(path)
