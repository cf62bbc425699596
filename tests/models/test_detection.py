"""End to end through real ONNX Runtime sessions on graphs whose outputs are known constants.

Every graph below works on a 320x320 network input. Expected boxes are worked out by hand:
letterbox of 640x480 → scale 0.5, padding (0, 40); of 100x50 → scale 3.2, padding (0, 80);
stretch of 640x480 → scales (0.5, 2/3).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
import supervision as sv

from tests.fixtures.onnx_graphs import (
    constant_output_graph,
    write_roboflow_folder,
    write_ultralytics_onnx,
    yolov5_rows,
    yolov8_rows,
)
from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.errors import ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.base import session_bytes
from visionflow.models.detection import ObjectDetectionModel, decode_yolo_output
from visionflow.models.importers import import_roboflow_folder, import_ultralytics_onnx
from visionflow.models.manifest import InputSpec, ModelManifest, WeightFile
from visionflow.models.package import ModelPackage, sha256_file
from visionflow.models.params import DetectionParams
from visionflow.runtime import OnnxSession
from visionflow.service.demo import demo_model_path

NAMES = ("circle", "square", "triangle")
ANCHORS = 2100
# One box: centre (160, 160), 64x64 → xyxy (128, 128, 192, 192) in network pixels; "square".
ONE_BOX_V8 = yolov8_rows([[160, 160, 64, 64]], [[0.1, 0.9, 0.2]], anchors=ANCHORS)


def _image(width: int, height: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _ultralytics_model(
    tmp_path: Path, output0: np.ndarray, *, dynamic_batch: bool = False
) -> ObjectDetectionModel:
    path = write_ultralytics_onnx(
        tmp_path / "model.onnx", output0, NAMES, dynamic_batch=dynamic_batch
    )
    return ObjectDetectionModel.load(import_ultralytics_onnx(path), OnnxSession)


def _roboflow_model(
    tmp_path: Path, output0: np.ndarray, *, resize_format: str, model_type: str = "yolov8n"
) -> ObjectDetectionModel:
    folder = write_roboflow_folder(
        tmp_path / "rf", output0, NAMES, resize_format=resize_format, model_type=model_type
    )
    return ObjectDetectionModel.load(import_roboflow_folder(folder), OnnxSession)


def _boxes(detections: sv.Detections) -> list[list[float]]:
    return detections.xyxy.tolist()


def _names(detections: sv.Detections) -> list[str]:
    return detections.data[CLASS_NAME].tolist()


@pytest.mark.parametrize(
    ("image_wh", "expected_xyxy"),
    [
        pytest.param((640, 480), [256, 176, 384, 304], id="640x480"),
        pytest.param((320, 320), [128, 128, 192, 192], id="identity"),
        pytest.param((100, 50), [40, 15, 60, 35], id="upscaled"),
        pytest.param((480, 640), [176, 256, 304, 384], id="portrait"),
    ],
)
def test_yolov8_letterbox_exact_pixels(
    tmp_path: Path, image_wh: tuple[int, int], expected_xyxy: list[float]
) -> None:
    model = _ultralytics_model(tmp_path, ONE_BOX_V8)

    (detections,) = model.infer([_image(*image_wh)], DetectionParams())

    assert model.manifest.input.resize_mode == "letterbox"
    assert _boxes(detections) == [expected_xyxy]
    assert _names(detections) == ["square"]
    assert detections.class_id.tolist() == [1]
    assert detections.confidence.tolist() == pytest.approx([0.9])
    assert len(detections.data[DETECTION_ID]) == 1


def test_boxes_are_rounded_to_whole_pixels(tmp_path: Path) -> None:
    # Network box (129, 155, 193, 185); 100x50 letterboxed: x / 3.2 and (y - 80) / 3.2 give
    # (40.3125, 23.4375, 60.3125, 32.8125) → rounded (40, 23, 60, 33).
    rows = yolov8_rows([[161, 170, 64, 30]], [[0.0, 0.0, 0.8]], anchors=ANCHORS)
    model = _ultralytics_model(tmp_path, rows)

    (detections,) = model.infer([_image(100, 50)], DetectionParams())

    assert _boxes(detections) == [[40, 23, 60, 33]]
    assert _names(detections) == ["triangle"]


@pytest.mark.parametrize(
    ("image_wh", "expected_xyxy"),
    [
        pytest.param((640, 480), [256, 192, 384, 288], id="640x480"),
        pytest.param((320, 320), [128, 128, 192, 192], id="identity"),
        pytest.param((160, 640), [64, 256, 96, 384], id="narrow"),
    ],
)
def test_yolov8_stretch_exact_pixels(
    tmp_path: Path, image_wh: tuple[int, int], expected_xyxy: list[float]
) -> None:
    model = _roboflow_model(tmp_path, ONE_BOX_V8, resize_format="Stretch to")

    (detections,) = model.infer([_image(*image_wh)], DetectionParams())

    assert model.manifest.input.resize_mode == "stretch"
    assert _boxes(detections) == [expected_xyxy]
    assert _names(detections) == ["square"]


@pytest.mark.parametrize(
    ("resize_format", "expected_xyxy"),
    [
        pytest.param("Stretch to", [256, 192, 384, 288], id="stretch"),
        pytest.param("Fit (grey edges) in", [256, 176, 384, 304], id="letterbox-grey"),
        pytest.param("Fit (black edges) in", [256, 176, 384, 304], id="letterbox-black"),
    ],
)
def test_yolov5_layout_scores_are_objectness_times_class(
    tmp_path: Path, resize_format: str, expected_xyxy: list[float]
) -> None:
    rows = yolov5_rows(
        [[160, 160, 64, 64], [40, 40, 20, 20]],
        [0.8, 0.3],
        [[0.5, 0.9, 0.2], [0.95, 0.1, 0.1]],
        anchors=ANCHORS,
    )
    model = _roboflow_model(tmp_path, rows, resize_format=resize_format, model_type="yolov5v2s")

    (detections,) = model.infer([_image(640, 480)], DetectionParams())

    # 0.8 x 0.9 = 0.72 ("square"); the second row's 0.3 x 0.95 = 0.285 is under 0.4.
    assert model.manifest.architecture == "yolov5"
    assert _boxes(detections) == [expected_xyxy]
    assert _names(detections) == ["square"]
    assert detections.confidence.tolist() == pytest.approx([0.72], rel=1e-6)


def test_yolov5_objectness_can_change_the_ranking(tmp_path: Path) -> None:
    rows = yolov5_rows(
        [[40, 40, 20, 20], [200, 200, 20, 20]],
        [0.5, 1.0],
        [[0.0, 0.0, 1.0], [0.6, 0.0, 0.0]],
        anchors=ANCHORS,
    )
    model = _roboflow_model(tmp_path, rows, resize_format="Stretch to", model_type="yolov5s")

    (detections,) = model.infer([_image(320, 320)], DetectionParams())

    assert _names(detections) == ["circle", "triangle"]
    assert detections.confidence.tolist() == pytest.approx([0.6, 0.5])
    assert _boxes(detections) == [[190, 190, 210, 210], [30, 30, 50, 50]]


def _static_batch_graph(path: Path, output0: np.ndarray, batch: int) -> Path:
    model = constant_output_graph({"output0": output0}, input_hw=(320, 320), dynamic_batch=False)
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _model_with_batch(path: Path, graph_batch: int | None) -> ObjectDetectionModel:
    """The one-box graph with a dynamic (``None``) or fixed batch size, behind a plain manifest."""
    if graph_batch is None:
        graph = constant_output_graph(
            {"output0": ONE_BOX_V8}, input_hw=(320, 320), dynamic_batch=True
        )
        onnx.save(graph, path)
    else:
        _static_batch_graph(path, ONE_BOX_V8, graph_batch)
    return ObjectDetectionModel.load(_package(path, batch_size=graph_batch), OnnxSession)


def _package(path: Path, *, batch_size: int | None) -> ModelPackage:
    manifest = ModelManifest(
        task="object-detection",
        architecture="yolov8",
        class_names=NAMES,
        input=InputSpec(width=320, height=320, batch_size=batch_size),
        weights={"model": WeightFile(file=path.name, sha256=sha256_file(path))},
    )
    return ModelPackage(manifest=manifest, files={"model": path})


SIZES = [(640, 480), (320, 320), (100, 50), (640, 480), (100, 50)]
EXPECTED = {
    (640, 480): [256, 176, 384, 304],
    (320, 320): [128, 128, 192, 192],
    (100, 50): [40, 15, 60, 35],
}


@pytest.mark.parametrize(
    ("graph_batch", "count"),
    [
        pytest.param(1, 0, id="static-1-no-images"),
        pytest.param(1, 1, id="static-1-one-image"),
        pytest.param(1, 3, id="static-1-three-images"),
        pytest.param(2, 3, id="static-2-three-images-padded"),
        pytest.param(2, 4, id="static-2-four-images"),
        pytest.param(4, 5, id="static-4-five-images-padded"),
        pytest.param(None, 0, id="dynamic-no-images"),
        pytest.param(None, 3, id="dynamic-three-images"),
    ],
)
def test_batches_keep_each_image_with_its_own_mapping(
    tmp_path: Path, graph_batch: int | None, count: int
) -> None:
    model = _model_with_batch(tmp_path / "model.onnx", graph_batch)
    sizes = SIZES[:count]

    results = model.infer([_image(*wh) for wh in sizes], DetectionParams())

    assert [_boxes(d) for d in results] == [[EXPECTED[wh]] for wh in sizes]
    assert all(_names(d) == ["square"] for d in results)


def test_dynamic_batch_beyond_the_chunk_size(tmp_path: Path) -> None:
    model = _ultralytics_model(tmp_path, ONE_BOX_V8, dynamic_batch=True)
    sizes = [(640, 480), (100, 50)] * 6  # 12 images: more than one chunk of 8

    results = model.infer([_image(*wh) for wh in sizes], DetectionParams())

    assert model.manifest.input.batch_size is None
    assert [_boxes(d) for d in results] == [[EXPECTED[wh]] for wh in sizes]


@pytest.mark.parametrize(
    ("graph_batch", "count"),
    [
        pytest.param(1, 3, id="static-1-chunked"),
        pytest.param(2, 3, id="static-2-padded"),
        pytest.param(2, 1, id="static-2-single-padded"),
        pytest.param(None, 3, id="dynamic"),
    ],
)
def test_forward_returns_one_row_per_image(
    tmp_path: Path, graph_batch: int | None, count: int
) -> None:
    model = _model_with_batch(tmp_path / "model.onnx", graph_batch)

    raw = model.forward(np.zeros((count, 3, 320, 320), dtype=np.float32))

    assert raw.shape == (count, 7, ANCHORS)
    np.testing.assert_array_equal(raw, np.repeat(ONE_BOX_V8, count, axis=0))


TWO_CLASSES_SAME_PLACE = yolov8_rows(
    [[100, 100, 50, 50], [100, 100, 50, 50], [250, 250, 40, 40]],
    [[0.8, 0.0, 0.0], [0.0, 0.9, 0.0], [0.0, 0.0, 0.6]],
    anchors=ANCHORS,
)


@pytest.mark.parametrize(
    ("params", "expected_names"),
    [
        pytest.param(DetectionParams(), ["square", "circle", "triangle"], id="defaults-per-class"),
        pytest.param(
            DetectionParams(class_agnostic_nms=True), ["square", "triangle"], id="class-agnostic"
        ),
        pytest.param(DetectionParams(class_filter=("circle",)), ["circle"], id="filter-one"),
        pytest.param(
            DetectionParams(class_filter=("triangle", "square")),
            ["square", "triangle"],
            id="filter-two-keeps-order",
        ),
        pytest.param(DetectionParams(class_filter=("dog",)), [], id="filter-unknown"),
        pytest.param(
            DetectionParams(class_agnostic_nms=True, class_filter=("circle",)),
            [],
            id="filter-after-agnostic-nms",
        ),
        pytest.param(DetectionParams(max_detections=2), ["square", "circle"], id="max-detections"),
        pytest.param(DetectionParams(max_detections=0), [], id="max-detections-zero"),
        pytest.param(DetectionParams(confidence=0.85), ["square"], id="confidence-high"),
        pytest.param(DetectionParams(confidence=0.9), [], id="confidence-at-top-score"),
    ],
)
def test_postprocessing_parameters(
    tmp_path: Path, params: DetectionParams, expected_names: list[str]
) -> None:
    model = _ultralytics_model(tmp_path, TWO_CLASSES_SAME_PLACE)

    (detections,) = model.infer([_image(320, 320)], params)

    assert _names(detections) == expected_names
    confidences = detections.confidence.tolist()
    assert confidences == sorted(confidences, reverse=True)


@pytest.mark.parametrize(
    ("score", "confidence", "kept"),
    [
        pytest.param(0.5, 0.5, False, id="equal-dropped"),
        pytest.param(0.5, 0.49, True, id="above-kept"),
        pytest.param(0.25, 0.25, False, id="equal-quarter-dropped"),
        # 0.4 is not exact in binary: the network's float32 0.4 must still count as equal to the
        # request's 0.4 (the reference compares in the score's float32 precision).
        pytest.param(0.4, 0.4, False, id="equal-default-confidence-float32-dropped"),
        pytest.param(0.41, 0.4, True, id="just-above-default-kept"),
        pytest.param(0.0, 0.0, False, id="zero-score-zero-confidence"),
    ],
)
def test_confidence_edges(tmp_path: Path, score: float, confidence: float, kept: bool) -> None:
    rows = yolov8_rows([[160, 160, 64, 64]], [[score, 0.0, 0.0]], anchors=ANCHORS)
    model = _ultralytics_model(tmp_path, rows)

    (detections,) = model.infer([_image(320, 320)], DetectionParams(confidence=confidence))

    assert len(detections) == (1 if kept else 0)


@pytest.mark.parametrize(
    "confidence",
    [pytest.param(0.0, id="confidence-zero"), pytest.param(0.4, id="confidence-default")],
)
def test_all_zero_output_gives_no_detections(tmp_path: Path, confidence: float) -> None:
    rows = np.zeros((1, 4 + len(NAMES), ANCHORS), dtype=np.float32)
    model = _ultralytics_model(tmp_path, rows, dynamic_batch=True)

    results = model.infer([_image(640, 480), _image(10, 10)], DetectionParams(confidence))

    assert [len(d) for d in results] == [0, 0]
    assert all(d.xyxy.shape == (0, 4) for d in results)
    assert all(_names(d) == [] for d in results)


def test_loaded_through_the_architecture_registry(tmp_path: Path) -> None:
    path = write_ultralytics_onnx(tmp_path / "model.onnx", ONE_BOX_V8, NAMES)

    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)

    assert isinstance(model, ObjectDetectionModel)
    assert model.task == "object-detection"
    (detections,) = model.infer([_image(640, 480)], DetectionParams())
    assert _boxes(detections) == [[256, 176, 384, 304]]


def test_manifest_size_must_match_the_graph(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(
        constant_output_graph({"output0": ONE_BOX_V8}, input_hw=(320, 320), dynamic_batch=True),
        path,
    )
    package = _package(path, batch_size=None)
    wrong = package.manifest.model_copy(update={"input": InputSpec(width=640, height=640)})

    with pytest.raises(ModelLoadError, match=r"640x640.*320x320"):
        ObjectDetectionModel.load(ModelPackage(manifest=wrong, files=package.files), OnnxSession)


def test_model_keeps_no_per_call_state(tmp_path: Path) -> None:
    model = _ultralytics_model(tmp_path, ONE_BOX_V8, dynamic_batch=True)
    before = dict(vars(model))

    model.infer([_image(640, 480)], DetectionParams())
    model.infer([_image(100, 50)], DetectionParams(confidence=0.1))

    assert vars(model) == before


# -- decode_yolo_output -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "layout", "classes", "expected"),
    [
        pytest.param(np.zeros((7, 0)), "yolov8", 3, ([], [], []), id="yolov8-empty"),
        pytest.param(np.zeros((0, 8)), "yolov5", 3, ([], [], []), id="yolov5-empty"),
        pytest.param(
            np.array([[10, 50], [20, 50], [4, 10], [8, 10], [0.1, 0.7], [0.3, 0.2]]),
            "yolov8",
            2,
            ([[8, 16, 12, 24], [45, 45, 55, 55]], [0.3, 0.7], [1, 0]),
            id="yolov8-transposed",
        ),
        pytest.param(
            np.array([[10, 20, 4, 8, 0.5, 0.2, 0.8], [50, 50, 10, 10, 1.0, 0.6, 0.4]]),
            "yolov5",
            2,
            ([[8, 16, 12, 24], [45, 45, 55, 55]], [0.4, 0.6], [1, 0]),
            id="yolov5-objectness",
        ),
    ],
)
def test_decode_yolo_output(
    raw: np.ndarray,
    layout: str,
    classes: int,
    expected: tuple[Sequence[Sequence[float]], Sequence[float], Sequence[int]],
) -> None:
    xyxy, scores, class_ids = decode_yolo_output(
        raw.astype(np.float32),
        layout,  # type: ignore[arg-type]
        classes,
    )

    want_xyxy, want_scores, want_ids = expected
    np.testing.assert_allclose(xyxy, np.asarray(want_xyxy, dtype=np.float32).reshape(-1, 4))
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6)
    assert class_ids.tolist() == list(want_ids)
    assert (xyxy.dtype, scores.dtype, class_ids.dtype) == (np.float32, np.float32, np.int64)


@pytest.mark.parametrize(
    ("shape", "layout", "classes", "message"),
    [
        pytest.param((0,), "yolov8", 3, r"\(4 \+ 3, N\).*\(0,\)", id="yolov8-1d-empty"),
        pytest.param((6, 100), "yolov8", 3, r"\(4 \+ 3, N\).*\(6, 100\)", id="yolov8-few-rows"),
        pytest.param((100, 7), "yolov8", 3, r"\(4 \+ 3, N\).*\(100, 7\)", id="yolov8-transposed"),
        pytest.param((1, 7, 100), "yolov8", 3, r"\(1, 7, 100\)", id="yolov8-with-batch"),
        pytest.param((100, 7), "yolov5", 3, r"\(N, 5 \+ 3\).*\(100, 7\)", id="yolov5-no-obj"),
        pytest.param((8, 100), "yolov5", 3, r"\(N, 5 \+ 3\).*\(8, 100\)", id="yolov5-transposed"),
        pytest.param((1, 100, 8), "yolov5", 3, r"\(1, 100, 8\)", id="yolov5-with-batch"),
    ],
)
def test_decode_yolo_output_shape_mismatch(
    shape: tuple[int, ...], layout: str, classes: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        decode_yolo_output(
            np.zeros(shape, dtype=np.float32),
            layout,  # type: ignore[arg-type]
            classes,
        )


def test_boxes_past_the_edge_are_clamped_to_the_image(tmp_path: Path) -> None:
    """The reference clamps mapped-back boxes to [0, W] x [0, H] before rounding."""
    rows = yolov8_rows([[10, 300, 60, 60]], [[0.9, 0.0, 0.0]], anchors=2100)
    path = write_ultralytics_onnx(tmp_path / "edge.onnx", rows, ["a", "b", "c"])
    model = ObjectDetectionModel.load(import_ultralytics_onnx(path), OnnxSession)
    [detections] = model.infer([np.zeros((320, 320, 3), np.uint8)], DetectionParams())
    # Network box (-20, 270, 40, 330) on a 320x320 image: clamped to (0, 270, 40, 320).
    np.testing.assert_array_equal(detections.xyxy, [[0, 270, 40, 320]])


def test_session_bytes_counts_the_weights_a_model_holds() -> None:
    path = demo_model_path("shapes-det.onnx")
    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)

    assert session_bytes(model) == path.stat().st_size
    assert session_bytes(object()) == 0
