"""DETR-style detectors decoded exactly through ONNX Runtime: Ultralytics RT-DETR and RF-DETR.

Both stretch the image to the 320x320 input. A 640x480 image has scales (0.5, 2/3): the
normalised box (cx, cy, w, h) = (0.5, 0.5, 0.25, 0.25) is (120, 120, 200, 200) in the input and
(240, 180, 400, 300) in the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.fixtures.export_graphs import detr_rows, rfdetr_outputs, write_ultralytics_export
from tests.fixtures.onnx_graphs import write_roboflow_task_folder
from visionflow.core.detections import CLASS_NAME, POLYGON
from visionflow.errors import ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.detr import sigmoid, topk_queries
from visionflow.models.importers import (
    RFDETR_BACKGROUND_CLASS,
    import_roboflow_folder,
    import_ultralytics_onnx,
)
from visionflow.models.manifest import InputSpec
from visionflow.models.params import DetectionParams
from visionflow.models.rfdetr import RfDetrModel, rfdetr_tensor
from visionflow.models.rtdetr import RtDetrModel
from visionflow.models.segmentation import SegmentationParams
from visionflow.runtime import OnnxSession

NAMES = ("circle", "square", "triangle")
CENTRE = [0.5, 0.5, 0.25, 0.25]
CENTRE_PX = [240, 180, 400, 300]
CORNER = [0.1, 0.15, 0.2, 0.3]  # (0, 0.0, 0.2, 0.3) → input (0, 0, 64, 96) → (0, 0, 128, 144)
CORNER_PX = [0, 0, 128, 144]


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


# -- RT-DETR --------------------------------------------------------------------------------


def _rtdetr(tmp_path: Path, rows: np.ndarray, **meta: Any) -> RtDetrModel:
    path = write_ultralytics_export(
        tmp_path / "rtdetr.onnx", {"output0": rows}, NAMES, head="RTDETRDecoder", **meta
    )
    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)
    assert isinstance(model, RtDetrModel)
    return model


RT_ROWS = detr_rows([[*CENTRE, 0.8, 1], [*CORNER, 0.5, 2], [*CENTRE, 0.45, 0]])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            DetectionParams(),
            [(CENTRE_PX, 0.8, "square"), (CORNER_PX, 0.5, "triangle"), (CENTRE_PX, 0.45, "circle")],
            id="default",
        ),
        # Strictly above: Ultralytics' RT-DETR predictor keeps score > conf.
        pytest.param(DetectionParams(confidence=0.5), [(CENTRE_PX, 0.8, "square")], id="strict"),
        pytest.param(DetectionParams(confidence=0.9), [], id="empty"),
        pytest.param(
            DetectionParams(class_filter=("circle",)), [(CENTRE_PX, 0.45, "circle")], id="filter"
        ),
        pytest.param(
            DetectionParams(max_detections=1), [(CENTRE_PX, 0.8, "square")], id="max-detections"
        ),
    ],
)
def test_rtdetr_rows(
    tmp_path: Path, params: DetectionParams, expected: list[tuple[list[int], float, str]]
) -> None:
    model = _rtdetr(tmp_path, RT_ROWS)

    (detections,) = model.infer([_image()], params)

    assert model.manifest.input.resize_mode == "stretch"
    assert detections.xyxy.tolist() == [box for box, _, _ in expected]
    assert detections.confidence.tolist() == pytest.approx([score for _, score, _ in expected])
    assert detections.data[CLASS_NAME].tolist() == [name for _, _, name in expected]


def test_rtdetr_scores_layout_takes_the_top_queries_over_every_class(tmp_path: Path) -> None:
    # Older exports: (1, Q, 4 + C) sigmoid scores. The top Q (query, class) pairs are kept, so one
    # query can answer for two classes, and Q caps the candidates (here Q = 2).
    rows = detr_rows([[*CENTRE, 0.1, 0.8, 0.7], [*CORNER, 0.6, 0.0, 0.0]], count=2, width=7)
    model = _rtdetr(tmp_path, rows, version="8.3.0")

    (detections,) = model.infer([_image()], DetectionParams())

    assert model.manifest.extra == {"rows": "scores"}
    assert detections.data[CLASS_NAME].tolist() == ["square", "triangle"]
    assert detections.xyxy.tolist() == [CENTRE_PX, CENTRE_PX]
    assert detections.confidence.tolist() == pytest.approx([0.8, 0.7])


def test_rtdetr_boxes_clamp_to_the_image(tmp_path: Path) -> None:
    model = _rtdetr(tmp_path, detr_rows([[0.9, 0.5, 0.4, 1.2, 0.9, 0]]))

    (detections,) = model.infer([_image(100, 50)], DetectionParams())

    assert detections.xyxy.tolist() == [[70, 0, 100, 50]]


def test_rtdetr_rejects_a_manifest_without_rows(tmp_path: Path) -> None:
    path = write_ultralytics_export(
        tmp_path / "m.onnx", {"output0": RT_ROWS}, NAMES, head="RTDETRDecoder"
    )
    package = import_ultralytics_onnx(path)
    manifest = package.manifest.model_copy(update={"extra": {}})

    with pytest.raises(ModelLoadError, match=r'needs extra\["rows"\]'):
        RtDetrModel(manifest, OnnxSession(path))


# -- RF-DETR --------------------------------------------------------------------------------


def _rfdetr(
    tmp_path: Path,
    outputs: dict[str, np.ndarray],
    names: tuple[str, ...] = NAMES,
    *,
    resize_format: str = "Stretch to",
    dynamic_batch: bool = True,
) -> RfDetrModel:
    folder = write_roboflow_task_folder(
        tmp_path / "rfdetr",
        outputs,
        names,
        task="object-detection",
        model_type="rfdetr-base",
        resize_format=resize_format,
        dynamic_batch=dynamic_batch,
    )
    model = ArchitectureRegistry().load(import_roboflow_folder(folder), OnnxSession)
    assert isinstance(model, RfDetrModel)
    return model


LOGIT_08 = float(np.log(0.8 / 0.2))  # sigmoid → 0.8
RF = rfdetr_outputs(
    [CENTRE, CORNER, CENTRE],
    # Columns: circle, square, triangle, no-object.
    [[-20, LOGIT_08, -20, -20], [-20, -20, 0.0, -20], [-20, -20, -20, 9.0]],
    columns=4,
)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # The third query's best column is "no object": dropped after the top-k.
        pytest.param(
            DetectionParams(), [(CENTRE_PX, 0.8, "square"), (CORNER_PX, 0.5, "triangle")], id="all"
        ),
        pytest.param(DetectionParams(confidence=0.5), [(CENTRE_PX, 0.8, "square")], id="strict"),
        pytest.param(DetectionParams(confidence=0.85), [], id="empty"),
        pytest.param(
            DetectionParams(class_filter=("triangle",)),
            [(CORNER_PX, 0.5, "triangle")],
            id="filter",
        ),
        pytest.param(
            DetectionParams(max_detections=1), [(CENTRE_PX, 0.8, "square")], id="max-detections"
        ),
    ],
)
def test_rfdetr_detections(
    tmp_path: Path, params: DetectionParams, expected: list[tuple[list[int], float, str]]
) -> None:
    model = _rfdetr(tmp_path, RF)

    (detections,) = model.infer([_image()], params)

    assert detections.xyxy.tolist() == [box for box, _, _ in expected]
    assert detections.confidence.tolist() == pytest.approx([score for _, score, _ in expected])
    assert detections.data[CLASS_NAME].tolist() == [name for _, _, name in expected]


def test_rfdetr_topk_is_capped_at_the_query_count(tmp_path: Path) -> None:
    # Q = 2: the two best cells both belong to query 0, so query 1's 0.95 "triangle" is not
    # among them — the reference's topk(Q) over the flattened (Q, K) grid.
    outputs = rfdetr_outputs([CENTRE, CORNER], [[5.0, 4.0, -20], [-20, -20, 3.0]], queries=2)
    model = _rfdetr(tmp_path, outputs)

    (detections,) = model.infer([_image()], DetectionParams())

    assert detections.data[CLASS_NAME].tolist() == ["circle", "square"]
    assert detections.xyxy.tolist() == [CENTRE_PX, CENTRE_PX]


def test_rfdetr_background_class_column_is_skipped(tmp_path: Path) -> None:
    names = ("circle", RFDETR_BACKGROUND_CLASS, "square", "triangle")
    outputs = rfdetr_outputs([CENTRE, CORNER], [[-20, 9.0, -20, -20], [-20, -20, 2.0, -20]])
    model = _rfdetr(tmp_path, outputs, names)

    (detections,) = model.infer([_image()], DetectionParams())

    assert model.manifest.class_names == NAMES
    assert detections.data[CLASS_NAME].tolist() == ["square"]
    assert detections.class_id.tolist() == [1]
    assert detections.xyxy.tolist() == [CORNER_PX]


def test_rfdetr_letterboxed_dataset_maps_boxes_through_the_letterbox(tmp_path: Path) -> None:
    # 640x480 letterboxed into 320x320: scale 0.5, padding (0, 40); the centre box
    # (120, 120, 200, 200) → (240, 160, 400, 320).
    model = _rfdetr(tmp_path, RF, resize_format="Fit (black edges) in")

    (detections,) = model.infer([_image()], DetectionParams(confidence=0.6))

    assert model.manifest.extra["letterbox_wh"] == [320, 320]
    assert detections.xyxy.tolist() == [[240, 160, 400, 320]]


def test_rfdetr_static_batch(tmp_path: Path) -> None:
    model = _rfdetr(tmp_path, RF, dynamic_batch=False)

    results = model.infer([_image(), _image(320, 320)], DetectionParams(confidence=0.6))

    assert [r.xyxy.tolist() for r in results] == [[CENTRE_PX], [[120, 120, 200, 200]]]


SPEC = InputSpec(
    width=56,
    height=40,
    resize_mode="stretch",
    padding_value=0,
    normalization={"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
)


def _reference_pixels(image_bgr: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """The reference's RF-DETR input, written out: PIL bilinear on the BGR pixels, RGB,
    ``/ 255``, ImageNet mean/std, CHW."""
    resized = np.array(Image.fromarray(image_bgr).resize(size_wh, Image.BILINEAR))
    rgb = resized[:, :, ::-1].astype(np.float32) / np.float32(255)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    return ((rgb - mean) / std).transpose(2, 0, 1)


@pytest.mark.parametrize(
    "image_wh",
    [
        pytest.param((200, 90), id="shrink"),
        pytest.param((20, 30), id="enlarge"),
        pytest.param((56, 40), id="same-size"),
    ],
)
def test_rfdetr_pixels_are_pils_bilinear_resize_not_opencvs(image_wh: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (image_wh[1], image_wh[0], 3), dtype=np.uint8)

    tensor, [meta] = rfdetr_tensor([image], SPEC)

    assert tensor.shape == (1, 3, 40, 56)
    assert tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor[0], _reference_pixels(image, (56, 40)))
    assert meta.scale_xy == (56 / image_wh[0], 40 / image_wh[1])
    assert meta.pad_xy == (0, 0)
    if image_wh[0] > 56:  # a shrink: PIL's filter widens, OpenCV's INTER_LINEAR does not
        opencv = cv2.resize(image, (56, 40), interpolation=cv2.INTER_LINEAR)
        assert not np.array_equal(np.array(Image.fromarray(image).resize((56, 40))), opencv)


def test_rfdetr_letterbox_then_stretch() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (30, 100, 3), dtype=np.uint8)

    tensor, [meta] = rfdetr_tensor([image], SPEC, letterbox_wh=(64, 64))

    canvas = np.zeros((64, 64, 3), dtype=np.uint8)
    canvas[22:41] = cv2.resize(image, (64, 19), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(tensor[0], _reference_pixels(canvas, (56, 40)))
    assert meta.input_wh == (64, 64)
    assert meta.pad_xy == (0, 22)


@pytest.mark.parametrize(
    ("scores", "k", "queries", "columns"),
    [
        pytest.param(np.zeros((0, 3), dtype=np.float32), 0, [], [], id="empty"),
        pytest.param(np.array([[0.1, 0.9], [0.8, 0.2]], np.float32), 2, [0, 1], [1, 0], id="grid"),
        pytest.param(np.array([[0.5, 0.5]], np.float32), 1, [0], [0], id="tie-row-major"),
    ],
)
def test_topk_queries(scores: np.ndarray, k: int, queries: list[int], columns: list[int]) -> None:
    got_queries, got_columns, got_scores = topk_queries(scores, k)

    assert got_queries.tolist() == queries
    assert got_columns.tolist() == columns
    assert got_scores.tolist() == [
        float(scores[q, c]) for q, c in zip(queries, columns, strict=True)
    ]


def test_sigmoid_is_stable_and_float32() -> None:
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0, LOGIT_08]))

    assert values.dtype == np.float32
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 0.8], atol=1e-7)


# -- RF-DETR segmentation -------------------------------------------------------------------


def _plane(box: tuple[int, int, int, int], inside: float = 5.0) -> np.ndarray:
    """An 80x80 logit plane (the 320x320 input / 4): ``inside`` in grid cells x1..x2, y1..y2
    (end-exclusive), -5 elsewhere."""
    plane = np.full((80, 80), -5.0, dtype=np.float32)
    x1, y1, x2, y2 = box
    plane[y1:y2, x1:x2] = inside
    return plane


def _segmenter(tmp_path: Path, masks: np.ndarray, resize_format: str = "Stretch to") -> RfDetrModel:
    outputs = rfdetr_outputs(
        [CENTRE, CORNER],
        [[-20, LOGIT_08, -20, -20], [-20, -20, 0.0, -20]],
        columns=4,
        queries=3,
        masks=masks,
    )
    folder = write_roboflow_task_folder(
        tmp_path / "rfdetr-seg",
        outputs,
        NAMES,
        task="instance-segmentation",
        model_type="rfdetr-seg-preview",
        resize_format=resize_format,
    )
    model = ArchitectureRegistry().load(import_roboflow_folder(folder), OnnxSession)
    assert isinstance(model, RfDetrModel)
    return model


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


MASKS = np.stack([_plane((20, 20, 60, 60)), _plane((0, 0, 10, 10)), _plane((0, 0, 80, 80))])[None]


def test_rfdetr_segmentation_masks_are_the_query_planes_resized(tmp_path: Path) -> None:
    # 80x80 grid → 640x480 (x8, x6, bilinear when enlarging): logits change sign half-way
    # between cells 19 and 20 (x = 160, y = 120) and 59 and 60 (x = 480, y = 360). Not cropped
    # to the box (240, 180, 400, 300).
    model = _segmenter(tmp_path, MASKS)

    (detections,) = model.infer([_image()], SegmentationParams())

    assert model.task == "instance-segmentation"
    assert model.manifest.architecture == "rfdetr-seg"
    assert detections.xyxy.tolist() == [CENTRE_PX, CORNER_PX]
    assert detections.mask is not None
    assert detections.mask.shape == (2, 480, 640)
    assert _mask_bbox(detections.mask[0]) == (160, 120, 479, 359)
    assert _mask_bbox(detections.mask[1]) == (0, 0, 79, 59)
    polygon = detections.data[POLYGON][0]
    assert (polygon.min(axis=0).tolist(), polygon.max(axis=0).tolist()) == (
        [160, 120],
        [479, 359],
    )


def test_rfdetr_segmentation_cuts_the_letterbox_padding(tmp_path: Path) -> None:
    # Letterboxed 640x480 → 320x320 with 40 rows of padding top and bottom: 10 grid rows each.
    # Query 0's plane covers grid rows 10..70 = the image: after the cut it fills the mask.
    masks = np.stack([_plane((0, 10, 80, 70)), _plane((0, 0, 10, 10)), _plane((0, 0, 1, 1))])[None]
    model = _segmenter(tmp_path, masks, resize_format="Fit (black edges) in")

    (detections,) = model.infer([_image()], SegmentationParams(confidence=0.6))

    assert detections.mask is not None
    assert detections.mask.shape == (1, 480, 640)
    assert bool(detections.mask[0].all())


def test_rfdetr_segmentation_reduced_resolution(tmp_path: Path) -> None:
    model = _segmenter(tmp_path, MASKS)
    params = SegmentationParams(mask_decode_mode="fast", allow_reduced_mask_resolution=True)

    (detections,) = model.infer([_image()], params)

    # Decoded on the 80x80 grid, then brought to the image with nearest neighbour: cells
    # 20..59 → x 160..479, y 120..359; the polygon scaled by (8, 6).
    assert detections.mask is not None
    assert _mask_bbox(detections.mask[0]) == (160, 120, 479, 359)
    polygon = detections.data[POLYGON][0]
    assert polygon.min(axis=0).tolist() == [160, 120]


@pytest.mark.parametrize(
    ("params", "count"),
    [
        pytest.param(SegmentationParams(confidence=0.9), 0, id="empty"),
        pytest.param(SegmentationParams(max_detections=1), 1, id="max-detections"),
    ],
)
def test_rfdetr_segmentation_selection(
    tmp_path: Path, params: SegmentationParams, count: int
) -> None:
    model = _segmenter(tmp_path, MASKS)

    (detections,) = model.infer([_image()], params)

    assert len(detections) == count
    assert detections.mask is not None
    assert detections.mask.shape == (count, 480, 640)
    assert len(detections.data[POLYGON]) == count
