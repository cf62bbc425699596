"""The YOLO-family helpers every YOLO head shares: padded static batches and box selection."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.fixtures.onnx_graphs import yolov8_rows
from visionflow.core.letterbox import ResizeMeta
from visionflow.core.nms import non_max_suppression
from visionflow.models.params import DetectionParams
from visionflow.models.yolo import OutputLayout, decode_yolo_rows, forward_padded, select_detections

# 100x50 letterboxed into 200x200: scale 2, 50 px of padding on top.
META = ResizeMeta(original_wh=(100, 50), input_wh=(200, 200), scale_xy=(2.0, 2.0), pad_xy=(0, 50))
NAMES = ("cat", "dog", "car")
# Two boxes on different classes, plus a weaker overlapping duplicate of the first one.
RAW = yolov8_rows(
    [[50, 100, 40, 20], [150, 100, 40, 20], [52, 100, 40, 20]],
    [[0.9, 0.1, 0.0], [0.0, 0.2, 0.8], [0.6, 0.0, 0.0]],
    anchors=16,
)[0]


@pytest.mark.parametrize(
    ("count", "batch_size", "calls"),
    [
        pytest.param(0, None, [0], id="empty-dynamic"),
        pytest.param(5, None, [5], id="dynamic-in-one-go"),
        pytest.param(4, 4, [4], id="static-exact"),
        pytest.param(6, 4, [4, 4], id="static-last-part-padded"),
        pytest.param(3, 1, [1, 1, 1], id="static-one"),
    ],
)
def test_forward_padded(count: int, batch_size: int | None, calls: list[int]) -> None:
    tensor = np.arange(count * 3 * 2 * 2, dtype=np.float32).reshape(count, 3, 2, 2)
    seen: list[int] = []

    def run(part: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        seen.append(part.shape[0])
        return [part.sum(axis=(1, 2, 3)), part[:, 0, 0, 0]]

    sums, firsts = forward_padded(tensor, batch_size, run)
    assert seen == calls
    np.testing.assert_array_equal(sums, tensor.sum(axis=(1, 2, 3)))
    np.testing.assert_array_equal(firsts, tensor[:, 0, 0, 0])


def test_select_detections_keeps_the_best_box_per_object_in_original_pixels() -> None:
    kept = select_detections(RAW, META, DetectionParams(confidence=0.5), NAMES)
    assert kept.class_ids.tolist() == [0, 2]
    np.testing.assert_allclose(kept.scores, [0.9, 0.8])
    np.testing.assert_array_equal(kept.xyxy_input, [[30, 90, 70, 110], [130, 90, 170, 110]])
    # Network pixels → original: minus the padding, over the scale, clamped to 100x50.
    np.testing.assert_array_equal(kept.xyxy, [[15, 20, 35, 30], [65, 20, 85, 30]])


@pytest.mark.parametrize(
    ("class_filter", "kept_ids"),
    [
        pytest.param(None, [0, 2], id="no-filter"),
        pytest.param(("car",), [2], id="one-name"),
        pytest.param(("dog", "bird"), [], id="no-kept-box-of-these"),
    ],
)
def test_select_detections_filters_by_class_name(
    class_filter: tuple[str, ...] | None, kept_ids: list[int]
) -> None:
    params = DetectionParams(confidence=0.5, class_filter=class_filter)
    kept = select_detections(RAW, META, params, NAMES)
    assert kept.class_ids.tolist() == kept_ids
    assert kept.extra.shape == (len(kept_ids), 0)


def test_select_detections_decodes_only_the_named_classes() -> None:
    # The first two score rows only: the car row is never read, so its box scores as a dog.
    kept = select_detections(RAW[: 4 + 2], META, DetectionParams(confidence=0.15), NAMES[:2])
    assert kept.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(kept.scores, [0.9, 0.2])


def _dense_rows(layout: str, dtype: type, seed: int) -> np.ndarray:
    """Many overlapping boxes (8 clusters) with random, tie-prone class scores and 4 extras."""
    rng = np.random.default_rng(seed)
    count, classes = 3000, 5
    centres = rng.integers(50, 590, (8, 2))[rng.integers(0, 8, count)]
    boxes = np.concatenate(
        [centres + rng.normal(0, 6, (count, 2)), rng.uniform(20, 60, (count, 2))], axis=1
    )
    scores = np.round(rng.uniform(0, 1, (count, classes)), 2)  # rounded: ties
    extras = rng.normal(size=(count, 4))
    if layout == "yolov5":
        objectness = np.round(rng.uniform(0.3, 1, (count, 1)), 1)
        return np.concatenate([boxes, objectness, scores, extras], axis=1).astype(dtype)
    return np.concatenate([boxes, scores, extras], axis=1).T.astype(dtype)


@pytest.mark.parametrize("layout", ["yolov8", "yolov5"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("confidence", [0.0, 0.25, 0.5, 0.9, 0.99])
def test_select_detections_decodes_only_candidates_with_the_same_result(
    layout: OutputLayout, dtype: type, confidence: float
) -> None:
    """Rows below the threshold are dropped before the decode: the kept boxes, scores, classes
    and extras equal those of NMS over every decoded row."""
    raw = _dense_rows(layout, dtype, seed=int(confidence * 100))
    names = ("a", "b", "c", "d", "e")
    params = DetectionParams(confidence=confidence, iou_threshold=0.5, max_detections=300)
    kept = select_detections(raw, META, params, names, layout, extra_channels=4)
    xyxy, scores, class_ids, extra = decode_yolo_rows(raw, layout, len(names), 4)
    order = non_max_suppression(
        xyxy, scores, class_ids, confidence=confidence, iou_threshold=0.5, max_detections=300
    )
    assert len(order) > 0
    np.testing.assert_array_equal(kept.xyxy_input, xyxy[order])
    np.testing.assert_array_equal(kept.scores, scores[order])
    np.testing.assert_array_equal(kept.class_ids, class_ids[order])
    np.testing.assert_array_equal(kept.extra, extra[order])
