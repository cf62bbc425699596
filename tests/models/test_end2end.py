"""End-to-end (NMS-free) and embedded-NMS exports decoded exactly through ONNX Runtime.

Every graph takes a 320x320 input and returns rows x1, y1, x2, y2, score, class (+ extras) in
input pixels. A 640x480 image letterboxes with scale 0.5 and padding (0, 40): a network box
(x1, y1, x2, y2) maps to (2 x1, 2 (y1 - 40), 2 x2, 2 (y2 - 40)), clamped to the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.fixtures.export_graphs import end2end_rows, write_ultralytics_export
from tests.fixtures.onnx_graphs import (
    region_planes,
    write_ultralytics_outputs,
    yolov8_pose_rows,
    yolov8_seg_outputs,
)
from visionflow.core.detections import CLASS_NAME, KEYPOINTS_CONFIDENCE, KEYPOINTS_XY, POLYGON
from visionflow.core.letterbox import ResizeMeta
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.detection import ObjectDetectionModel
from visionflow.models.importers import import_ultralytics_onnx
from visionflow.models.keypoints import KeypointDetectionModel
from visionflow.models.params import DetectionParams, KeypointParams
from visionflow.models.segmentation import InstanceSegmentationModel, SegmentationParams
from visionflow.models.yolo import select_detections, select_end2end_rows
from visionflow.runtime import OnnxSession

NAMES = ("circle", "square", "triangle")
# Graph order is by score, as both export kinds emit it; zero rows after them are padding.
ROWS = end2end_rows(
    [
        [100, 100, 160, 180, 0.9, 1],
        [0, 40, 400, 100, 0.4, 2],
        [10, 50, 20, 60, 0.3, 0],
    ]
)
# The same rows mapped to the 640x480 image (the second one clamped at x = 640).
BOXES = [[200, 120, 320, 280], [0, 0, 640, 120], [20, 20, 40, 40]]


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _detector(tmp_path: Path, rows: np.ndarray = ROWS, **meta: Any) -> ObjectDetectionModel:
    options: dict[str, Any] = {"end2end": True, "nms": False, **meta}
    path = write_ultralytics_export(tmp_path / "e2e.onnx", {"output0": rows}, NAMES, **options)
    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)
    assert isinstance(model, ObjectDetectionModel)
    return model


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # At or above the threshold passes: the reference's fused-NMS filter is ">=".
        pytest.param(DetectionParams(), BOXES[:2], id="default-0.4-keeps-equal-score"),
        pytest.param(DetectionParams(confidence=0.41), BOXES[:1], id="above-second"),
        pytest.param(DetectionParams(confidence=0.95), [], id="empty"),
        # Padding rows (score 0) never come back, even at confidence 0.
        pytest.param(DetectionParams(confidence=0.0), BOXES, id="zero-threshold-no-padding"),
        pytest.param(DetectionParams(confidence=0.2, max_detections=2), BOXES[:2], id="max-det"),
        pytest.param(DetectionParams(max_detections=0), [], id="max-det-zero"),
        pytest.param(
            DetectionParams(confidence=0.2, class_filter=("triangle", "circle")),
            [BOXES[1], BOXES[2]],
            id="class-filter",
        ),
        # No NMS: these boxes overlap nothing, but the IoU setting must not matter anyway.
        pytest.param(DetectionParams(iou_threshold=0.0), BOXES[:2], id="iou-ignored"),
    ],
)
@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({"end2end": True, "nms": False, "head": "Detect"}, id="yolo26"),
        pytest.param({"end2end": True, "nms": False, "head": "v10Detect"}, id="yolov10"),
        pytest.param({"end2end": False, "nms": True}, id="yolov8-nms-true"),
    ],
)
def test_end2end_detection_exact_pixels(
    tmp_path: Path, meta: dict[str, Any], params: DetectionParams, expected: list[list[int]]
) -> None:
    model = _detector(tmp_path, **meta)

    (detections,) = model.infer([_image()], params)

    assert model.manifest.architecture == "yolo-end2end"
    assert detections.xyxy.tolist() == expected
    scores = {200: 0.9, 0: 0.4, 20: 0.3}
    assert detections.confidence.tolist() == pytest.approx([scores[int(b[0])] for b in expected])
    names = {200: "square", 0: "triangle", 20: "circle"}
    assert detections.data[CLASS_NAME].tolist() == [names[int(b[0])] for b in expected]


def test_rows_out_of_class_range_or_unsorted(tmp_path: Path) -> None:
    rows = end2end_rows(
        [
            [10, 50, 20, 60, 0.5, 0],
            [100, 100, 160, 180, 0.9, 1],
            [0, 0, 10, 10, 0.99, 3],  # class 3 of 3 classes: dropped
            [0, 0, 10, 10, 0.99, -1],
            [0, 0, 10, 10, float("nan"), 1],
        ]
    )
    model = _detector(tmp_path, rows)

    (detections,) = model.infer([_image()], DetectionParams())

    assert detections.xyxy.tolist() == [[200, 120, 320, 280], [20, 20, 40, 40]]
    assert detections.class_id.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("image_wh", "expected"),
    [
        pytest.param((320, 320), [100, 100, 160, 180], id="identity"),
        pytest.param((100, 50), [31, 6, 50, 31], id="upscaled"),
        pytest.param((480, 640), [120, 200, 240, 360], id="portrait"),
    ],
)
def test_end2end_letterbox_undo_clip_and_round(
    tmp_path: Path, image_wh: tuple[int, int], expected: list[int]
) -> None:
    # 100x50 → scale 3.2, padding (0, 80): (100/3.2, 20/3.2, 160/3.2, 100/3.2) = (31.25, 6.25,
    # 50, 31.25) → rounded; 480x640 → scale 0.5, padding (40, 0).
    model = _detector(tmp_path)

    (detections,) = model.infer([_image(*image_wh)], DetectionParams(confidence=0.5))

    assert detections.xyxy.tolist() == [expected]


def test_end2end_dynamic_batch(tmp_path: Path) -> None:
    model = _detector(tmp_path, dynamic_batch=True)

    results = model.infer([_image(), _image(320, 320), _image()], DetectionParams(confidence=0.5))

    assert [r.xyxy.tolist() for r in results] == [
        [[200, 120, 320, 280]],
        [[100, 100, 160, 180]],
        [[200, 120, 320, 280]],
    ]


@pytest.mark.parametrize(
    ("scores", "confidence", "max_detections", "expected"),
    [
        pytest.param([], 0.4, 300, [], id="empty"),
        pytest.param([0.4], 0.4, 300, [0], id="equal-passes"),
        pytest.param([np.nextafter(np.float32(0.4), 0)], 0.4, 300, [], id="just-below"),
        pytest.param([0.0, 0.5], 0.0, 300, [1], id="zero-is-padding"),
        pytest.param([0.5, 0.9, 0.7], 0.1, 2, [1, 2], id="best-first-then-cut"),
    ],
)
def test_select_end2end_rows(
    scores: list[float], confidence: float, max_detections: int, expected: list[int]
) -> None:
    score = np.asarray(scores, dtype=np.float32)
    keep = select_end2end_rows(
        score,
        np.zeros(score.shape, dtype=np.int64),
        confidence=confidence,
        num_classes=1,
        max_detections=max_detections,
    )

    assert keep.tolist() == expected
    assert keep.dtype == np.int64


# -- segmentation ---------------------------------------------------------------------------

PROTOS = region_planes(4, (80, 80), [(0, (0, 0, 80, 80), 10.0), (1, (0, 0, 30, 80), 10.0)])
SEG_ROWS = end2end_rows(
    [[128, 128, 192, 192, 0.9, 1, 1, 0, 0, 0], [60, 100, 100, 140, 0.8, 0, 0, 1, 0, 0]], extra=4
)


def _segmenter(tmp_path: Path, outputs: dict[str, np.ndarray], **meta: Any) -> object:
    path = write_ultralytics_export(tmp_path / "seg.onnx", outputs, NAMES, task="segment", **meta)
    return ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)


def _same(a: sv.Detections, b: sv.Detections) -> None:
    assert a.xyxy.tolist() == b.xyxy.tolist()
    assert a.class_id.tolist() == b.class_id.tolist()
    np.testing.assert_allclose(a.confidence, b.confidence)
    assert a.mask is not None
    assert b.mask is not None
    np.testing.assert_array_equal(a.mask, b.mask)
    for pa, pb in zip(a.data[POLYGON], b.data[POLYGON], strict=True):
        np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({"end2end": True, "nms": False, "head": "Segment26"}, id="yolo26-seg-e2e"),
        pytest.param({"nms": True, "head": "Segment"}, id="yolo11-seg-nms-true"),
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        pytest.param(SegmentationParams(), id="accurate"),
        pytest.param(SegmentationParams(mask_decode_mode="fast"), id="fast"),
        pytest.param(SegmentationParams(confidence=0.95), id="empty"),
    ],
)
def test_end2end_segmentation_equals_the_one_to_many_decoding(
    tmp_path: Path, meta: dict[str, Any], params: SegmentationParams
) -> None:
    """The same two boxes and coefficients as rows and as a YOLOv8-seg output: the masks, boxes
    and polygons must not depend on which head selected the rows."""
    e2e = _segmenter(tmp_path, {"output0": SEG_ROWS, "output1": PROTOS}, **meta)
    o2m_outputs = yolov8_seg_outputs(
        [[160, 160, 64, 64], [80, 120, 40, 40]],
        [[0.1, 0.9, 0.0], [0.8, 0.1, 0.0]],
        [[1, 0, 0, 0], [0, 1, 0, 0]],
        PROTOS,
        anchors=2100,
    )
    (tmp_path / "o2m").mkdir()
    o2m_path = write_ultralytics_export(
        tmp_path / "o2m" / "seg.onnx", o2m_outputs, NAMES, task="segment", head=meta["head"]
    )
    o2m = ArchitectureRegistry().load(import_ultralytics_onnx(o2m_path), OnnxSession)
    assert isinstance(e2e, InstanceSegmentationModel)
    assert isinstance(o2m, InstanceSegmentationModel)
    assert e2e.manifest.architecture == "yolo-end2end-seg"

    (ours,) = e2e.infer([_image()], params)
    (reference,) = o2m.infer([_image()], params)

    _same(ours, reference)
    if params.confidence < 0.8:
        assert ours.xyxy.tolist() == [[256, 176, 384, 304], [120, 120, 200, 200]]


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize(
    ("head", "mask_bbox"),
    [
        # Logit 1 on the box's prototype cells 32..47, 0 around (cropped). Enlarged x8 (the 80x60
        # unpadded grid → 640x480) the edge ramps from 0 to 1 over one cell: logits pass > 0
        # from the ramp's start (x 252), probabilities (sigmoid 1 = 0.73) pass > 0.5 only past
        # 68 % of it (x 257).
        pytest.param("Segment26", (252, 172, 387, 307), id="yolo26-logits-above-0"),
        pytest.param("Segment", (257, 177, 382, 302), id="yolo11-probabilities-above-half"),
    ],
)
def test_yolo26_masks_are_logits_yolov8_masks_probabilities(
    tmp_path: Path, head: str, mask_bbox: tuple[int, int, int, int]
) -> None:
    protos = region_planes(1, (80, 80), [(0, (0, 0, 80, 80), 1.0)])
    rows = end2end_rows([[128, 128, 192, 192, 0.9, 1, 1.0]], extra=1)
    model = _segmenter(
        tmp_path, {"output0": rows, "output1": protos}, head=head, end2end=True, nms=False
    )
    assert isinstance(model, InstanceSegmentationModel)

    (detections,) = model.infer([_image()], SegmentationParams())

    assert detections.mask is not None
    assert _mask_bbox(detections.mask[0]) == mask_bbox


# -- keypoints ------------------------------------------------------------------------------

KEYPOINTS = [[140, 150, 0.9], [10, 20, 0.0], [330, 300, 0.5]]
POSE_ROWS = end2end_rows([[128, 128, 192, 192, 0.9, 0, *np.ravel(KEYPOINTS)]], extra=9)


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({"end2end": True, "nms": False, "head": "Pose26"}, id="yolo26-pose-e2e"),
        pytest.param({"nms": True, "head": "Pose"}, id="yolo11-pose-nms-true"),
    ],
)
def test_end2end_keypoints_exact(tmp_path: Path, meta: dict[str, Any]) -> None:
    path = write_ultralytics_export(
        tmp_path / "pose.onnx",
        {"output0": POSE_ROWS},
        ("person",),
        task="pose",
        kpt_shape=[3, 3],
        **meta,
    )
    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)
    assert isinstance(model, KeypointDetectionModel)
    o2m_rows = yolov8_pose_rows([[160, 160, 64, 64]], [[0.9]], [KEYPOINTS], anchors=2100)
    (tmp_path / "o2m").mkdir()
    o2m_path = write_ultralytics_outputs(
        tmp_path / "o2m" / "pose.onnx",
        {"output0": o2m_rows},
        ("person",),
        task="pose",
        kpt_shape=[3, 3],
    )
    o2m = ArchitectureRegistry().load(import_ultralytics_onnx(o2m_path), OnnxSession)

    (detections,) = model.infer([_image()], KeypointParams())
    (reference,) = o2m.infer([_image()], KeypointParams())

    assert model.manifest.architecture == "yolo-end2end-pose"
    assert detections.xyxy.tolist() == [[256, 176, 384, 304]]
    # Mapped back like boxes, not clamped: (280, 220), (20, -40), (660, 520).
    assert detections.data[KEYPOINTS_XY].tolist() == [[[280, 220], [20, -40], [660, 520]]]
    np.testing.assert_allclose(detections.data[KEYPOINTS_CONFIDENCE], [[0.9, 0.0, 0.5]])
    np.testing.assert_array_equal(detections.data[KEYPOINTS_XY], reference.data[KEYPOINTS_XY])


def test_select_detections_end2end_keeps_extras_in_row_order() -> None:
    meta = ResizeMeta(original_wh=(320, 320), input_wh=(320, 320), scale_xy=(1, 1), pad_xy=(0, 0))
    raw = end2end_rows([[0, 0, 10, 10, 0.5, 0, 7], [5, 5, 20, 20, 0.8, 0, 9]], count=4, extra=1)[0]

    kept = select_detections(raw, meta, DetectionParams(), ("a",), "end2end", extra_channels=1)

    assert kept.extra.tolist() == [[9], [7]]
    assert kept.xyxy_input.tolist() == [[5, 5, 20, 20], [0, 0, 10, 10]]
