"""Instance segmentation end to end through ONNX Runtime on YOLOv8-seg graphs with known outputs.

The graph works on a 320x320 input with 4 prototypes on an 80x80 grid (4 input px per cell):
- prototype 0 is +10 everywhere, so coefficients ``[1, 0, 0, 0]`` give a mask = the box;
- prototype 1 is +10 on grid columns 0..19 and -10 elsewhere, so ``[0, 1, 0, 0]`` gives the box
  cut at input x = 80.

Detections (network pixels): "square" box (128, 128, 192, 192), coefficients ``[1, 0, 0, 0]``;
"circle" box (60, 100, 100, 140), coefficients ``[0, 1, 0, 0]`` → its mask keeps x < 80.
640x480 letterboxed: scale 0.5, padding (0, 40); so "square" → (256, 176, 384, 304) and
"circle" → (120, 120, 200, 200) with its mask on x 120..160 only. The prototype grid's unpadded
region is rows 10..69, scaled by 8 to the image in ``accurate`` mode.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import supervision as sv

from tests.fixtures.onnx_graphs import (
    constant_output_graph,
    region_planes,
    write_roboflow_task_folder,
    write_ultralytics_outputs,
    yolov8_seg_outputs,
)
from visionflow.core.detections import CLASS_NAME, POLYGON
from visionflow.core.masks import MaskDecodeMode
from visionflow.errors import ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.importers import import_roboflow_folder, import_ultralytics_onnx
from visionflow.models.manifest import InputSpec, ModelManifest, WeightFile
from visionflow.models.package import ModelPackage, sha256_file
from visionflow.models.params import DetectionParams, SegmentationParams, SemanticParams
from visionflow.models.segmentation import InstanceSegmentationModel
from visionflow.runtime import OnnxSession

NAMES = ("circle", "square")
ANCHORS = 2100
PROTOS = region_planes(
    4,
    (80, 80),
    [(0, (0, 0, 80, 80), 10.0), (1, (0, 0, 20, 80), 10.0), (1, (20, 0, 80, 80), -10.0)],
)
SEG_OUTPUTS = yolov8_seg_outputs(
    [[160, 160, 64, 64], [80, 120, 40, 40]],
    [[0.1, 0.9], [0.8, 0.1]],
    [[1, 0, 0, 0], [0, 1, 0, 0]],
    PROTOS,
    ANCHORS,
)
EMPTY_OUTPUTS = yolov8_seg_outputs(
    [[160, 160, 64, 64]], [[0.0, 0.0]], [[1, 0, 0, 0]], PROTOS, ANCHORS
)
# Box xyxy in 640x480 image pixels, and the mask's inclusive pixel bbox (x1, y1, x2, y2).
SQUARE_BOX = [256, 176, 384, 304]
SQUARE_MASK = (256, 176, 383, 303)
CIRCLE_BOX = [120, 120, 200, 200]
CIRCLE_MASK = (120, 120, 159, 199)


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _model(
    tmp_path: Path, outputs: dict[str, np.ndarray] = SEG_OUTPUTS, **kwargs: Any
) -> InstanceSegmentationModel:
    path = write_ultralytics_outputs(
        tmp_path / "seg.onnx",
        outputs,
        NAMES,
        task="segment",
        **kwargs,
    )
    package = import_ultralytics_onnx(path)
    model = ArchitectureRegistry().load(package, OnnxSession)
    assert isinstance(model, InstanceSegmentationModel)
    return model


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _polygon_bbox(polygon: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1 = polygon.min(axis=0)
    x2, y2 = polygon.max(axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def _profile(inside: tuple[int, int], src_len: int, dst_len: int) -> np.ndarray:
    """OpenCV's bilinear resize (half-pixel centres, edges replicated) of a 1-D 0/1 indicator."""
    values = np.zeros(src_len)
    values[inside[0] : inside[1]] = 1.0
    src = (np.arange(dst_len) + 0.5) * (src_len / dst_len) - 0.5
    return np.interp(src, np.arange(src_len), values)


def _expected_box_mask(
    cells_x: tuple[int, int], cells_y: tuple[int, int], shape_hw: tuple[int, int]
) -> np.ndarray:
    """The accurate-mode mask of a rectangle of grid cells (grid rows counted in the cut region)
    of probability sigmoid(10): bilinear upsampling by 8 of a separable plane, then > 0.5."""
    columns = _profile(cells_x, 80, shape_hw[1])
    rows = _profile(cells_y, 60, shape_hw[0])
    return np.outer(rows, columns) * _sigmoid(10.0) > 0.5


def test_ultralytics_segment_import(tmp_path: Path) -> None:
    model = _model(tmp_path)

    assert model.manifest.task == "instance-segmentation"
    assert model.manifest.architecture == "yolov8-seg"
    assert model.manifest.input.resize_mode == "letterbox"


def test_two_instances_accurate(tmp_path: Path) -> None:
    model = _model(tmp_path)

    (detections,) = model.infer([_image()], SegmentationParams())

    assert model.task == "instance-segmentation"
    assert list(detections.data[CLASS_NAME]) == ["square", "circle"]
    assert detections.confidence.tolist() == pytest.approx([0.9, 0.8])
    assert detections.xyxy.tolist() == [SQUARE_BOX, CIRCLE_BOX]
    assert detections.mask is not None
    assert detections.mask.shape == (2, 480, 640)
    # Square: grid cells x 32..47, y 32..47 → cut rows 22..37. Circle: cells x 15..19 (its box
    # spans 15..24 but prototype 1 is negative from 20 on), y 25..34 → cut rows 15..24.
    np.testing.assert_array_equal(
        detections.mask[0], _expected_box_mask((32, 48), (22, 38), (480, 640))
    )
    np.testing.assert_array_equal(
        detections.mask[1], _expected_box_mask((15, 20), (15, 25), (480, 640))
    )
    assert _mask_bbox(detections.mask[0]) == SQUARE_MASK
    assert _mask_bbox(detections.mask[1]) == CIRCLE_MASK
    for polygon, mask in zip(detections.data[POLYGON], detections.mask, strict=True):
        assert polygon.dtype == np.float32
        assert _polygon_bbox(polygon) == _mask_bbox(mask)


@pytest.mark.parametrize(
    ("mode", "factor", "square_polygon", "circle_polygon", "cell_px"),
    [
        pytest.param("accurate", 0.0, SQUARE_MASK, CIRCLE_MASK, 1.0, id="accurate"),
        # Fast polygons live on the 8-px prototype cells: vertex = cell index x 8, so the
        # right/bottom edges sit on the last cell's top-left corner (the reference does the same).
        pytest.param("fast", 0.0, (256, 176, 376, 296), (120, 120, 152, 192), 1.0, id="fast"),
        pytest.param(
            "tradeoff", 0.0, (256, 176, 376, 296), (120, 120, 152, 192), 1.0, id="tradeoff-0"
        ),
        pytest.param("tradeoff", 1.0, SQUARE_MASK, CIRCLE_MASK, 1.0, id="tradeoff-1"),
        # Halfway: a 360x270 mask, 16/9 image px per mask px.
        pytest.param("tradeoff", 0.5, SQUARE_MASK, CIRCLE_MASK, 16 / 9, id="tradeoff-half"),
    ],
)
def test_mask_decode_modes(
    tmp_path: Path,
    mode: MaskDecodeMode,
    factor: float,
    square_polygon: tuple[int, int, int, int],
    circle_polygon: tuple[int, int, int, int],
    cell_px: float,
) -> None:
    model = _model(tmp_path)

    (detections,) = model.infer(
        [_image()],
        SegmentationParams(
            mask_decode_mode=mode, tradeoff_factor=factor, allow_reduced_mask_resolution=True
        ),
    )

    assert detections.xyxy.tolist() == [SQUARE_BOX, CIRCLE_BOX]
    # Dense masks are always at the image size, within a pixel of the true edges.
    assert detections.mask is not None
    assert detections.mask.shape == (2, 480, 640)
    for mask, expected in zip(detections.mask, (SQUARE_MASK, CIRCLE_MASK), strict=True):
        assert _mask_bbox(mask) == pytest.approx(expected, abs=1)
    # Polygons: within one mask pixel (in image pixels) of the expected edges.
    polygons = detections.data[POLYGON]
    assert _polygon_bbox(polygons[0]) == pytest.approx(square_polygon, abs=cell_px + 1e-4)
    assert _polygon_bbox(polygons[1]) == pytest.approx(circle_polygon, abs=cell_px + 1e-4)


@pytest.mark.parametrize("mode", ["fast", "tradeoff"])
def test_decode_modes_are_ignored_without_allow_reduced_mask_resolution(
    tmp_path: Path, mode: MaskDecodeMode
) -> None:
    # As on the reference: mask_decode_mode / tradeoff_factor need the opt-in.
    model = _model(tmp_path)

    (reduced,) = model.infer([_image()], SegmentationParams(mask_decode_mode=mode))
    (accurate,) = model.infer([_image()], SegmentationParams())

    assert _polygon_bbox(reduced.data[POLYGON][0]) == _polygon_bbox(accurate.data[POLYGON][0])
    np.testing.assert_array_equal(reduced.mask, accurate.mask)


def test_fast_masks_are_the_prototype_cells_scaled_up(tmp_path: Path) -> None:
    model = _model(tmp_path)

    params = SegmentationParams(mask_decode_mode="fast", allow_reduced_mask_resolution=True)
    (detections,) = model.infer([_image()], params)

    expected = np.zeros((480, 640), dtype=bool)
    expected[176:304, 256:384] = True  # cells 32..47 x cut rows 22..37, 8x8 px each
    np.testing.assert_array_equal(detections.mask[0], expected)
    assert detections.data[POLYGON][0].tolist() == [
        [256, 176],
        [256, 296],
        [376, 296],
        [376, 176],
    ]


def test_mask_in_the_letterbox_padding_is_cut_off(tmp_path: Path) -> None:
    # Box (128, 20, 192, 100) reaches 20 px into the top padding (content starts at y = 40).
    outputs = yolov8_seg_outputs([[160, 60, 64, 80]], [[0.0, 0.9]], [[1, 0, 0, 0]], PROTOS, ANCHORS)
    model = _model(tmp_path, outputs)

    (detections,) = model.infer([_image()], SegmentationParams())

    # y: (20 - 40) / 0.5 = -40 → clamped to 0; (100 - 40) / 0.5 = 120.
    assert detections.xyxy.tolist() == [[256, 0, 384, 120]]
    bbox = _mask_bbox(detections.mask[0])
    assert bbox is not None
    assert bbox == pytest.approx((256, 0, 383, 119), abs=1)
    assert _polygon_bbox(detections.data[POLYGON][0]) == pytest.approx(bbox, abs=1)


SIZES = [(640, 480), (100, 50), (320, 320), (480, 640)]
# 100x50 letterboxed: scale 3.2, padding (0, 80); 320x320: identity; 480x640 (portrait): scale
# 0.5, padding (40, 0).
EXPECTED_SQUARE = {
    (480, 640): ([176, 256, 304, 384], (176, 256, 303, 383)),
    (640, 480): ([256, 176, 384, 304], SQUARE_MASK),
    (100, 50): ([40, 15, 60, 35], (40, 15, 59, 34)),
    (320, 320): ([128, 128, 192, 192], (128, 128, 191, 191)),
}


@pytest.mark.parametrize(
    ("dynamic_batch", "count"),
    [
        pytest.param(False, 0, id="static-1-no-images"),
        pytest.param(False, 4, id="static-1-four-images"),
        pytest.param(True, 4, id="dynamic-four-images"),
    ],
)
def test_batches_keep_each_image_with_its_own_mapping(
    tmp_path: Path, dynamic_batch: bool, count: int
) -> None:
    model = _model(tmp_path, dynamic_batch=dynamic_batch)
    sizes = SIZES[:count]

    results = model.infer([_image(*wh) for wh in sizes], SegmentationParams())

    assert len(results) == count
    for detections, (width, height) in zip(results, sizes, strict=True):
        box, mask_bbox = EXPECTED_SQUARE[(width, height)]
        assert detections.xyxy[0].tolist() == box
        assert detections.mask.shape == (2, height, width)
        assert _mask_bbox(detections.mask[0]) == pytest.approx(mask_bbox, abs=1)
        assert _polygon_bbox(detections.data[POLYGON][0]) == pytest.approx(mask_bbox, abs=1)


@pytest.mark.parametrize("mode", ["accurate", "fast", "tradeoff"])
def test_no_detections(tmp_path: Path, mode: MaskDecodeMode) -> None:
    model = _model(tmp_path, EMPTY_OUTPUTS)

    (detections,) = model.infer(
        [_image()],
        SegmentationParams(mask_decode_mode=mode, tradeoff_factor=0.5),
    )

    assert len(detections) == 0
    assert detections.mask is not None
    assert detections.mask.shape == (0, 480, 640)
    assert len(detections.data[POLYGON]) == 0


@pytest.mark.parametrize(
    ("params", "expected_names"),
    [
        pytest.param(SegmentationParams(), ["square", "circle"], id="defaults"),
        pytest.param(SegmentationParams(confidence=0.85), ["square"], id="confidence"),
        pytest.param(SegmentationParams(class_filter=("circle",)), ["circle"], id="class-filter"),
        pytest.param(SegmentationParams(max_detections=0), [], id="max-detections-0"),
    ],
)
def test_detection_params_apply(
    tmp_path: Path, params: SegmentationParams, expected_names: list[str]
) -> None:
    model = _model(tmp_path)

    (detections,) = model.infer([_image()], params)

    assert list(detections.data[CLASS_NAME]) == expected_names
    assert detections.mask.shape[0] == len(expected_names)
    assert len(detections.data[POLYGON]) == len(expected_names)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(DetectionParams(confidence=0.85), id="detection-params"),
        pytest.param(SemanticParams(), id="another-task"),
        pytest.param(None, id="none"),
    ],
)
def test_params_of_another_type_are_a_type_error(tmp_path: Path, params: object) -> None:
    # Detection params used to be replaced by segmentation defaults, silently dropping the
    # request's confidence (visionflow infer did that); a wrong type is now a programming error.
    model = _model(tmp_path)

    with pytest.raises(TypeError, match=r"InstanceSegmentationModel\.infer takes Segmentation"):
        model.infer([_image()], params)  # type: ignore[arg-type]


def test_roboflow_instance_segmentation_folder(tmp_path: Path) -> None:
    folder = write_roboflow_task_folder(
        tmp_path / "rf",
        SEG_OUTPUTS,
        NAMES,
        task="instance-segmentation",
        model_type="yolov8n-seg",
        resize_format="Fit (black edges) in",
    )
    package = import_roboflow_folder(folder)

    model = ArchitectureRegistry().load(package, OnnxSession)
    (detections,) = model.infer([_image()], SegmentationParams())

    assert (package.manifest.task, package.manifest.architecture) == (
        "instance-segmentation",
        "yolov8-seg",
    )
    assert isinstance(detections, sv.Detections)
    assert detections.xyxy.tolist() == [SQUARE_BOX, CIRCLE_BOX]
    assert _mask_bbox(detections.mask[1]) == CIRCLE_MASK


def test_graph_without_prototypes_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "no-protos.onnx"
    graph = constant_output_graph(
        {"output0": SEG_OUTPUTS["output0"]}, input_hw=(320, 320), dynamic_batch=False
    )
    onnx.save(graph, path)
    manifest = ModelManifest(
        task="instance-segmentation",
        architecture="yolov8-seg",
        class_names=NAMES,
        input=InputSpec(width=320, height=320),
        weights={"model": WeightFile(file=path.name, sha256=sha256_file(path))},
    )

    with pytest.raises(ModelLoadError, match="prototypes"):
        InstanceSegmentationModel.load(ModelPackage(manifest, {"model": path}), OnnxSession)
