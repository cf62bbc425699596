"""Importers tell every export layout apart from the ONNX outputs and metadata
(``visionflow.models.layouts``), and say what they saw when none fits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from tests.fixtures.export_graphs import (
    detr_rows,
    end2end_rows,
    rfdetr_outputs,
    write_ultralytics_export,
)
from tests.fixtures.onnx_graphs import region_planes, write_roboflow_task_folder, yolov8_rows
from visionflow.errors import InvalidModelPackageError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.importers import (
    RFDETR_BACKGROUND_CLASS,
    import_roboflow_folder,
    import_ultralytics_onnx,
)

NAMES = ("circle", "square", "triangle")
ROWS = end2end_rows([[100, 100, 160, 180, 0.9, 1]])
V8 = yolov8_rows([[160, 160, 64, 64]], [[0.1, 0.9, 0.2]], anchors=2100)
PROTOS = region_planes(32, (80, 80), [(0, (0, 0, 80, 80), 10.0)])
SEG_V8 = np.concatenate([V8, np.zeros((1, 32, 2100), dtype=np.float32)], axis=1)
POSE_V8 = np.zeros((1, 4 + 1 + 51, 2100), dtype=np.float32)

Export = dict[str, Any]


def _export(outputs: dict[str, np.ndarray], **meta: Any) -> Export:
    return {"outputs": outputs, **meta}


ULTRALYTICS = [
    # One-to-many heads (default nms=None) stay YOLOv8 layouts, whatever the head.
    pytest.param(_export({"output0": V8}), "yolov8", {}, id="yolo11-one-to-many"),
    pytest.param(_export({"output0": V8}, head="Detect"), "yolov8", {}, id="yolo26-one-to-many"),
    pytest.param(_export({"output0": V8}, head="v10Detect"), "yolov8", {}, id="yolov10-o2m"),
    pytest.param(
        _export({"output0": ROWS}, end2end=True, nms=False), "yolo-end2end", {}, id="yolo26-e2e"
    ),
    pytest.param(
        _export({"output0": ROWS}, end2end=True, nms=False, head="v10Detect"),
        "yolo-end2end",
        {},
        id="yolov10-e2e",
    ),
    pytest.param(_export({"output0": ROWS}, nms=True), "yolo-end2end", {}, id="yolov8-nms-true"),
    pytest.param(
        _export({"output0": ROWS}, nms=True, version="8.3.0"),
        "yolo-end2end",
        {},
        id="yolo11-nms-true",
    ),
    pytest.param(
        {"outputs": {"output0": ROWS}, "drop_meta": ("end2end", "args")},
        "yolo-end2end",
        {},
        id="rows-without-metadata",
    ),
    pytest.param(
        _export({"output0": detr_rows([])}, head="RTDETRDecoder"),
        "rtdetr",
        {"rows": "rows"},
        id="rtdetr-8.4",
    ),
    pytest.param(
        _export({"output0": detr_rows([], width=7)}, head="RTDETRDecoder", version="8.3.40"),
        "rtdetr",
        {"rows": "scores"},
        id="rtdetr-4-plus-c",
    ),
    pytest.param(
        _export({"output0": SEG_V8, "output1": PROTOS}, task="segment", head="Segment"),
        "yolov8-seg",
        {},
        id="yolo11-seg-one-to-many",
    ),
    pytest.param(
        _export({"output0": SEG_V8, "output1": PROTOS}, task="segment", head="Segment26"),
        "yolov8-seg",
        {"masks": "logits"},
        id="yolo26-seg-one-to-many",
    ),
    pytest.param(
        _export(
            {"output0": end2end_rows([], extra=32), "output1": PROTOS},
            task="segment",
            head="Segment26",
            end2end=True,
            nms=False,
        ),
        "yolo-end2end-seg",
        {"masks": "logits"},
        id="yolo26-seg-e2e",
    ),
    pytest.param(
        _export(
            {"output0": end2end_rows([], extra=32), "output1": PROTOS}, task="segment", nms=True
        ),
        "yolo-end2end-seg",
        {},
        id="yolo11-seg-nms-true",
    ),
    pytest.param(
        _export({"output0": POSE_V8}, task="pose", kpt_shape=[17, 3], names=("person",)),
        "yolov8-pose",
        {"keypoints": {"count": 17, "names": {}}},
        id="yolo11-pose-one-to-many",
    ),
    pytest.param(
        _export(
            {"output0": end2end_rows([], extra=51)},
            task="pose",
            kpt_shape=[17, 3],
            end2end=True,
            nms=False,
            head="Pose26",
            names=("person",),
        ),
        "yolo-end2end-pose",
        {"keypoints": {"count": 17, "names": {}}},
        id="yolo26-pose-e2e",
    ),
    pytest.param(
        _export(
            {"output0": end2end_rows([], extra=6)},
            task="pose",
            kpt_shape=[2, 3],
            nms=True,
            names=("person",),
        ),
        "yolo-end2end-pose",
        {"keypoints": {"count": 2, "names": {}}},
        id="yolo11-pose-nms-true",
    ),
]


def _write(tmp_path: Path, export: Export) -> Path:
    meta = {k: v for k, v in export.items() if k not in ("outputs", "drop_meta", "names")}
    path = write_ultralytics_export(
        tmp_path / "m.onnx", export["outputs"], export.get("names", NAMES), **meta
    )
    drop = export.get("drop_meta", ())
    if drop:
        model = onnx.load(path)
        kept = [prop for prop in model.metadata_props if prop.key not in drop]
        del model.metadata_props[:]
        model.metadata_props.extend(kept)
        onnx.save(model, path)
    return path


@pytest.mark.parametrize(("export", "architecture", "extra"), ULTRALYTICS)
def test_ultralytics_layouts(
    tmp_path: Path, export: Export, architecture: str, extra: dict[str, Any]
) -> None:
    package = import_ultralytics_onnx(_write(tmp_path, export))

    assert package.manifest.architecture == architecture
    assert {k: v for k, v in package.manifest.extra.items() if k != "scores"} == extra
    assert architecture in ArchitectureRegistry().names()


def test_ultralytics_rtdetr_is_stretched_and_yolo_letterboxed(tmp_path: Path) -> None:
    rtdetr = write_ultralytics_export(
        tmp_path / "rtdetr.onnx", {"output0": detr_rows([])}, NAMES, head="RTDETRDecoder"
    )
    yolo = write_ultralytics_export(
        tmp_path / "yolo.onnx", {"output0": ROWS}, NAMES, end2end=True, nms=False
    )

    assert import_ultralytics_onnx(rtdetr).manifest.input.resize_mode == "stretch"
    assert import_ultralytics_onnx(yolo).manifest.input.resize_mode == "letterbox"


@pytest.mark.parametrize(
    ("version", "rows"),
    [
        pytest.param("8.4.190", "rows", id="checked-version"),
        pytest.param("8.5.0", "rows", id="later"),
        pytest.param("8.3.99", "scores", id="before-8.4"),
    ],
)
def test_ultralytics_rtdetr_two_classes_by_version(tmp_path: Path, version: str, rows: str) -> None:
    path = write_ultralytics_export(
        tmp_path / "m.onnx",
        {"output0": detr_rows([])},
        ("cat", "dog"),
        head="RTDETRDecoder",
        version=version,
    )

    assert import_ultralytics_onnx(path).manifest.extra == {"rows": rows}


@pytest.mark.parametrize(
    ("export", "message"),
    [
        pytest.param(
            _export({"output0": V8}, end2end=True, nms=False),
            r"says end-to-end \(or nms=True\), but output0 is not \(B, N, 6\)",
            id="end2end-metadata-on-a-yolov8-output",
        ),
        pytest.param(
            _export({"output0": np.zeros((1, 300, 9), dtype=np.float32)}),
            r"output0\[1, 300, 9\] fits no detection layout for C=3",
            id="no-layout",
        ),
        pytest.param(
            _export({"output0": detr_rows([])}, head="RTDETRDecoder", names=("a", "b"), version=""),
            r"with C=2 both are 6 wide: exported by Ultralytics unknown version",
            id="rtdetr-two-classes-unknown-version",
        ),
        pytest.param(
            _export({"output0": detr_rows([], width=9)}, head="RTDETRDecoder"),
            r"an RT-DETR output for C=3 classes must be \(B, Q, 6\) or \(B, Q, 4\+C\)",
            id="rtdetr-width",
        ),
        pytest.param(
            _export(
                {"output0": end2end_rows([], extra=16), "output1": PROTOS},
                task="segment",
                end2end=True,
                nms=False,
            ),
            r"no 32 mask coefficients after 3 classes \(the metadata says end-to-end rows\)",
            id="seg-e2e-coefficients",
        ),
        pytest.param(
            _export({"output0": end2end_rows([], extra=32)}, task="segment", end2end=True),
            r"needs a prototype output",
            id="seg-without-protos",
        ),
        pytest.param(
            _export(
                {"output0": end2end_rows([], extra=9)},
                task="pose",
                kpt_shape=[17, 3],
                end2end=True,
                names=("person",),
            ),
            r"no 17 \(x, y, confidence\) keypoint triples",
            id="pose-e2e-count",
        ),
    ],
)
def test_ultralytics_layout_errors_name_the_outputs_and_the_layouts(
    tmp_path: Path, export: Export, message: str
) -> None:
    with pytest.raises(InvalidModelPackageError, match=message) as caught:
        import_ultralytics_onnx(_write(tmp_path, export))

    text = caught.value.message
    assert text.startswith("m.onnx: ")
    assert "The graph's outputs are output0[1, " in text
    assert " layouts: yolov8" in text or " layouts: yolov8-seg" in text or "yolov8-pose" in text
    assert caught.value.status_code == 400


# -- Roboflow folders ---------------------------------------------------------------------------

RF_DETR = rfdetr_outputs([[0.5, 0.5, 0.2, 0.2]], [[4.0, -4.0, -4.0, -4.0]], columns=4)


def _folder(
    tmp_path: Path,
    outputs: dict[str, np.ndarray],
    model_type: str,
    names: tuple[str, ...] = NAMES,
    **options: Any,
) -> Path:
    return write_roboflow_task_folder(
        tmp_path / "rf",
        outputs,
        names,
        task=options.pop("task", "object-detection"),
        model_type=model_type,
        **options,
    )


@pytest.mark.parametrize(
    ("outputs", "model_type", "names", "architecture"),
    [
        # (1, 300, 6) with one class fits both the end-to-end rows and YOLOv5's 5 + C.
        pytest.param({"output0": ROWS}, "yolo26n", ("a",), "yolo-end2end", id="yolo26-one-class"),
        pytest.param({"output0": ROWS}, "yolov10s", ("a",), "yolo-end2end", id="yolov10"),
        pytest.param({"output0": ROWS}, "yolov5s", ("a",), "yolov5", id="yolov5-one-class"),
        pytest.param({"output0": ROWS}, "yolov8n", NAMES, "yolo-end2end", id="yolov8-nms"),
        pytest.param({"output0": V8}, "yolo26n", NAMES, "yolov8", id="yolo26-one-to-many"),
        pytest.param(RF_DETR, "rfdetr-base", NAMES, "rfdetr", id="rfdetr"),
        pytest.param(RF_DETR, "", NAMES, "rfdetr", id="rfdetr-by-output-names"),
        pytest.param(
            {"boxes": RF_DETR["dets"], "logits": RF_DETR["labels"]},
            "rfdetr-nano",
            NAMES,
            "rfdetr",
            id="rfdetr-by-shapes",
        ),
    ],
)
def test_roboflow_detection_layouts(
    tmp_path: Path,
    outputs: dict[str, np.ndarray],
    model_type: str,
    names: tuple[str, ...],
    architecture: str,
) -> None:
    package = import_roboflow_folder(_folder(tmp_path, outputs, model_type, names))

    assert package.manifest.architecture == architecture


RF_DETR_SEG = rfdetr_outputs(
    [[0.5, 0.5, 0.2, 0.2]],
    [[4.0, -4.0, -4.0, -4.0]],
    columns=4,
    masks=np.zeros((1, 30, 80, 80), dtype=np.float32),
)


@pytest.mark.parametrize(
    ("outputs", "model_type", "architecture", "extra"),
    [
        pytest.param(
            RF_DETR_SEG,
            "rfdetr-seg-preview",
            "rfdetr-seg",
            {"outputs": {"boxes": 0, "logits": 1, "masks": 2}},
            id="rfdetr-seg",
        ),
        pytest.param(
            {"a": RF_DETR_SEG["masks"], "b": RF_DETR_SEG["dets"], "c": RF_DETR_SEG["labels"]},
            "rfdetr-seg-preview",
            "rfdetr-seg",
            {"outputs": {"masks": 0, "boxes": 1, "logits": 2}},
            id="rfdetr-seg-by-shapes",
        ),
        pytest.param(
            {"output0": end2end_rows([], extra=32), "output1": PROTOS},
            "yolo26n-seg",
            "yolo-end2end-seg",
            {"masks": "logits"},
            id="yolo26-seg-e2e",
        ),
        pytest.param(
            {"output0": SEG_V8, "output1": PROTOS},
            "yolo26n-seg",
            "yolov8-seg",
            {"masks": "logits"},
            id="yolo26-seg-one-to-many",
        ),
        pytest.param(
            {"output0": SEG_V8, "output1": PROTOS}, "yolov8n-seg", "yolov8-seg", {}, id="yolov8-seg"
        ),
    ],
)
def test_roboflow_segmentation_layouts(
    tmp_path: Path,
    outputs: dict[str, np.ndarray],
    model_type: str,
    architecture: str,
    extra: dict[str, Any],
) -> None:
    folder = _folder(tmp_path, outputs, model_type, task="instance-segmentation")

    manifest = import_roboflow_folder(folder).manifest

    assert (manifest.architecture, manifest.extra) == (architecture, extra)


def test_roboflow_rfdetr_manifest(tmp_path: Path) -> None:
    package = import_roboflow_folder(_folder(tmp_path, RF_DETR, "rfdetr-base"))
    manifest = package.manifest

    assert manifest.class_names == NAMES
    assert manifest.extra == {"outputs": {"boxes": 0, "logits": 1}}
    assert manifest.input.resize_mode == "stretch"
    assert manifest.input.normalization is not None
    assert manifest.input.normalization.mean == (0.485, 0.456, 0.406)
    assert manifest.input.normalization.std == (0.229, 0.224, 0.225)


def test_roboflow_rfdetr_background_class_is_dropped(tmp_path: Path) -> None:
    names = ("circle", RFDETR_BACKGROUND_CLASS, "square", "triangle")
    package = import_roboflow_folder(_folder(tmp_path, RF_DETR, "rfdetr-base", names))

    assert package.manifest.class_names == NAMES
    assert package.manifest.extra["class_columns"] == [0, -1, 1, 2]


@pytest.mark.parametrize(
    ("resize_format", "padding", "letterbox"),
    [
        pytest.param("Stretch to", 0, None, id="stretch"),
        pytest.param("Fit (black edges) in", 0, [320, 320], id="black-edges"),
        pytest.param("Fit (grey edges) in", 114, [320, 320], id="grey-edges"),
    ],
)
def test_roboflow_rfdetr_letterboxed_dataset(
    tmp_path: Path, resize_format: str, padding: int, letterbox: list[int] | None
) -> None:
    folder = _folder(tmp_path, RF_DETR, "rfdetr-base", resize_format=resize_format)
    manifest = import_roboflow_folder(folder).manifest

    assert manifest.input.padding_value == padding
    assert manifest.extra.get("letterbox_wh") == letterbox


@pytest.mark.parametrize(
    ("outputs", "model_type", "task", "message"),
    [
        pytest.param(
            {"output0": V8},
            "rfdetr-base",
            "object-detection",
            r"model_type 'rfdetr-base' is an RF-DETR, but the outputs are not dets",
            id="rfdetr-hint-yolo-outputs",
        ),
        pytest.param(
            rfdetr_outputs([[0.5, 0.5, 0.2, 0.2]], [[1.0, 1.0]], columns=2),
            "rfdetr-base",
            "object-detection",
            r"labels \(B, Q, >=C\) for C=3 classes",
            id="rfdetr-too-few-logits",
        ),
        pytest.param(
            RF_DETR,
            "rfdetr-seg-preview",
            "instance-segmentation",
            r"\+ masks \(B, Q, Hm, Wm\) for C=3 classes",
            id="rfdetr-seg-without-masks",
        ),
    ],
)
def test_roboflow_layout_errors(
    tmp_path: Path, outputs: dict[str, np.ndarray], model_type: str, task: str, message: str
) -> None:
    folder = _folder(tmp_path, outputs, model_type, task=task)

    with pytest.raises(InvalidModelPackageError, match=message) as caught:
        import_roboflow_folder(folder)

    assert "The graph's outputs are " in caught.value.message


def test_errors_list_every_output(tmp_path: Path) -> None:
    path = write_ultralytics_export(
        tmp_path / "m.onnx",
        {"output0": np.zeros((1, 300, 9), dtype=np.float32), "extra": np.zeros((1, 2))},
        NAMES,
    )

    with pytest.raises(InvalidModelPackageError) as caught:
        import_ultralytics_onnx(path)

    assert "outputs are output0[1, 300, 9], extra[1, 2]" in caught.value.message


def _with_inference_config(folder: Path, **network_input: Any) -> Path:
    operations = network_input.pop("class_names_operations", None)
    config: dict[str, Any] = {
        "network_input": {
            "training_input_size": {"height": 320, "width": 320},
            "dynamic_spatial_size_supported": False,
            "color_mode": "rgb",
            "resize_mode": "stretch",
            "input_channels": 3,
            "scaling_factor": 255,
            "normalization": [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]],
            **network_input,
        }
    }
    if operations is not None:
        config["class_names_operations"] = operations
    (folder / "inference_config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("network_input", "resize_mode", "padding", "letterbox", "mean"),
    [
        pytest.param({}, "stretch", 0, None, (0.485, 0.456, 0.406), id="stretch"),
        # The reference stretches a letterbox package straight to the input unless it gives the
        # dataset version's size.
        pytest.param(
            {"resize_mode": "letterbox"}, "stretch", 0, None, (0.485, 0.456, 0.406), id="letterbox"
        ),
        pytest.param(
            {
                "resize_mode": "letterbox",
                "padding_value": 114,
                "dataset_version_resize_dimensions": {"width": 400, "height": 300},
            },
            "letterbox",
            114,
            [400, 300],
            (0.485, 0.456, 0.406),
            id="letterbox-dataset-size",
        ),
        pytest.param(
            {
                "resize_mode": "fit-longer-edge",
                "dataset_version_resize_dimensions": {"width": 400, "height": 300},
            },
            "letterbox",
            127,
            [400, 300],
            (0.485, 0.456, 0.406),
            id="fit-longer-edge",
        ),
        pytest.param({"normalization": None}, "stretch", 0, None, None, id="no-normalization"),
    ],
)
def test_roboflow_rfdetr_follows_inference_config(
    tmp_path: Path,
    network_input: dict[str, Any],
    resize_mode: str,
    padding: int,
    letterbox: list[int] | None,
    mean: tuple[float, ...] | None,
) -> None:
    # The classic files say letterbox; inference_config.json (the reference's engine) wins.
    folder = _folder(tmp_path, RF_DETR, "rfdetr-base", resize_format="Fit (black edges) in")
    manifest = import_roboflow_folder(_with_inference_config(folder, **network_input)).manifest

    assert manifest.input.resize_mode == resize_mode
    assert manifest.input.padding_value == padding
    assert manifest.extra.get("letterbox_wh") == letterbox
    normalization = manifest.input.normalization
    assert (normalization.mean if normalization else None) == mean


def test_roboflow_rfdetr_class_name_removal(tmp_path: Path) -> None:
    folder = _folder(tmp_path, RF_DETR, "rfdetr-base", ("circle", "square", "drop-me"))
    removal = [{"type": "class_name_removal", "class_name": "drop-me"}]
    manifest = import_roboflow_folder(
        _with_inference_config(folder, class_names_operations=removal)
    ).manifest

    assert manifest.class_names == ("circle", "square")
    assert manifest.extra["class_columns"] == [0, 1, -1]


@pytest.mark.parametrize(
    ("network_input", "message"),
    [
        pytest.param(
            {"class_names_operations": [{"type": "rename", "class_name": "a"}]},
            "only class_name_removal is known",
            id="unknown-operation",
        ),
        pytest.param(
            {
                "resize_mode": "center-crop",
                "dataset_version_resize_dimensions": {"width": 400, "height": 300},
            },
            "resize_mode 'center-crop' and dataset_version_resize_dimensions is not supported",
            id="center-crop",
        ),
        pytest.param(
            {"resize_mode": "letterbox", "dataset_version_resize_dimensions": {"width": 400}},
            "needs width and height",
            id="dataset-size",
        ),
    ],
)
def test_roboflow_rfdetr_inference_config_errors(
    tmp_path: Path, network_input: dict[str, Any], message: str
) -> None:
    folder = _with_inference_config(_folder(tmp_path, RF_DETR, "rfdetr-base"), **network_input)

    with pytest.raises(InvalidModelPackageError, match=message):
        import_roboflow_folder(folder)
