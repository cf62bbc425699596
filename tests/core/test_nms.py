from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from visionflow.core.nms import non_max_suppression

# Two boxes whose IoU is exactly 0.6 (intersection 3, union 5) and exactly 0.5 (2 of 4).
A = [0, 0, 4, 1]
B_IOU_06 = [1, 0, 5, 1]
C = [0, 0, 3, 1]
D_IOU_05 = [1, 0, 4, 1]
FAR = [100, 100, 110, 110]


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "options", "expected"),
    [
        pytest.param([], [], [], {}, [], id="empty"),
        pytest.param([A], [0.9], [0], {}, [0], id="single-kept"),
        pytest.param([A], [0.5], [0], {"confidence": 0.5}, [], id="score-equal-confidence-dropped"),
        pytest.param([A], [0.5], [0], {"confidence": 0.49}, [0], id="score-above-confidence-kept"),
        pytest.param([A], [0.0], [0], {"confidence": 0.0}, [], id="zero-score-zero-confidence"),
        pytest.param(
            # IoU 3/5 is 0.6000000238 in float32, above the threshold 0.6, as in torchvision.
            [A, B_IOU_06],
            [0.9, 0.8],
            [0, 0],
            {"iou_threshold": 0.6},
            [0],
            id="iou-float32",
        ),
        pytest.param(
            [A, B_IOU_06],
            [0.9, 0.8],
            [0, 0],
            {"iou_threshold": 0.59},
            [0],
            id="iou-above-suppressed",
        ),
        pytest.param(
            [C, D_IOU_05], [0.9, 0.8], [0, 0], {"iou_threshold": 0.5}, [0, 1], id="iou-half-kept"
        ),
        pytest.param(
            [C, D_IOU_05],
            [0.9, 0.8],
            [0, 0],
            {"iou_threshold": 0.49},
            [0],
            id="iou-half-suppressed",
        ),
        pytest.param(
            [A, A], [0.7, 0.9], [0, 0], {}, [1], id="higher-score-wins-regardless-of-order"
        ),
        pytest.param([A, A], [0.9, 0.8], [0, 1], {}, [0, 1], id="per-class-keeps-both"),
        pytest.param(
            [A, A], [0.8, 0.9], [0, 1], {"class_agnostic": True}, [1], id="agnostic-suppresses"
        ),
        pytest.param(
            # torchvision shifts classes by max coordinate + 1 (= 1 here): negative boxes of
            # different classes can still overlap and suppress each other.
            [[-10, -10, 0, 0], [-10, -10, 0, 0]],
            [0.9, 0.8],
            [0, 1],
            {},
            [0],
            id="per-class-negative-coordinates-as-torchvision",
        ),
        pytest.param(
            [A, FAR, C], [0.2, 0.9, 0.5], [0, 0, 0], {"iou_threshold": 0.9}, [1, 2, 0], id="sorted"
        ),
        pytest.param(
            [A, FAR, C],
            [0.2, 0.9, 0.5],
            [0, 0, 0],
            {"iou_threshold": 0.9, "max_detections": 2},
            [1, 2],
            id="max-detections-cut",
        ),
        pytest.param(
            [A, FAR], [0.2, 0.9], [0, 0], {"max_detections": 0}, [], id="max-detections-zero"
        ),
        pytest.param(
            [A, B_IOU_06, FAR],
            [0.9, 0.8, 0.3],
            [0, 0, 0],
            {"iou_threshold": 0.3, "max_detections": 2},
            [0, 2],
            id="cut-counts-survivors-not-candidates",
        ),
        pytest.param(
            [A, A, A],
            [0.6, 0.6, 0.6],
            [0, 0, 0],
            {"iou_threshold": 0.5},
            [0],
            id="ties-keep-first",
        ),
    ],
)
def test_non_max_suppression(
    boxes: list[list[float]],
    scores: list[float],
    classes: list[int],
    options: dict[str, float],
    expected: list[int],
) -> None:
    kwargs: dict[str, object] = {"confidence": 0.1, "iou_threshold": 0.5, **options}

    keep = non_max_suppression(
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.asarray(scores, dtype=np.float32),
        np.asarray(classes, dtype=np.int64),
        **kwargs,  # type: ignore[arg-type]
    )

    assert keep.dtype == np.int64
    assert keep.tolist() == expected


def test_chained_suppression_is_greedy() -> None:
    # b overlaps a (IoU 1/3) and is suppressed; c overlaps b (IoU 3/7) but barely a (IoU 1/19),
    # so c survives only because suppressed boxes suppress nothing.
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [9, 0, 19, 10]], dtype=np.float32)

    keep = non_max_suppression(
        boxes, np.array([0.9, 0.8, 0.7]), np.zeros(3), confidence=0.1, iou_threshold=0.3
    )

    assert keep.tolist() == [0, 2]


def test_8400_boxes_run_without_quadratic_memory() -> None:
    rng = np.random.default_rng(0)
    count = 8400
    top_left = rng.uniform(0, 600, (count, 2))
    boxes = np.concatenate([top_left, top_left + rng.uniform(5, 60, (count, 2))], axis=1)
    scores = rng.uniform(0, 1, count).astype(np.float32)
    classes = rng.integers(0, 80, count)

    tracemalloc.start()
    started = time.perf_counter()
    try:
        keep = non_max_suppression(boxes, scores, classes, confidence=0.01, iou_threshold=0.3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started

    # An (N, N) float64 IoU matrix alone would need 8400² x 8 bytes ≈ 564 MB.
    assert peak < 50_000_000
    assert elapsed < 20
    assert len(keep) == 300
    assert len(set(keep.tolist())) == len(keep)
    kept_scores = scores[keep]
    assert np.all(np.diff(kept_scores) <= 0)


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("case", range(4))
def test_non_max_suppression_keeps_what_torchvision_batched_nms_keeps(case: int) -> None:
    # Recorded by scripts/build_reference_cases.py: crowded boxes on quarter pixels, several
    # classes; cases 0-2 take torchvision's class-offset path, case 3 (1500 boxes) per-class.
    data = np.load(DATA / "batched_nms_cases.npz")

    keep = non_max_suppression(
        data[f"boxes_{case}"],
        data[f"scores_{case}"],
        data[f"classes_{case}"],
        confidence=0.0,
        iou_threshold=float(data[f"iou_{case}"]),
        max_detections=10_000,
    )

    assert keep.tolist() == data[f"keep_{case}"].tolist()


def _one_by_one(
    xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float, limit: int
) -> list[int]:
    """Greedy NMS one box at a time, per class, in float32 as torchvision: the oracle."""
    order = np.argsort(-scores, kind="stable")
    boxes = xyxy.astype(np.float32)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    zero = np.float32(0.0)
    kept: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    for rank, best in enumerate(order):
        if suppressed[rank]:
            continue
        kept.append(int(best))
        if len(kept) == limit:
            break
        for later in range(rank + 1, len(order)):
            other = order[later]
            if suppressed[later] or classes[other] != classes[best]:
                continue
            width = max(
                zero, min(boxes[best, 2], boxes[other, 2]) - max(boxes[best, 0], boxes[other, 0])
            )
            height = max(
                zero, min(boxes[best, 3], boxes[other, 3]) - max(boxes[best, 1], boxes[other, 1])
            )
            inter = np.float32(width * height)
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.float32(inter / (areas[best] + areas[other] - inter))
            if float(iou) > iou_threshold:
                suppressed[later] = True
    return kept


@pytest.mark.parametrize(
    ("count", "classes", "limit"),
    [
        pytest.param(1, 3, 300, id="one"),
        pytest.param(1200, 4, 300, id="per-class-path-cut-at-300"),
        pytest.param(1500, 1, 10_000, id="one-class-many-blocks"),
        pytest.param(2100, 80, 10_000, id="80-classes-all-survivors"),
    ],
)
def test_blocked_nms_keeps_what_one_box_at_a_time_keeps(
    count: int, classes: int, limit: int
) -> None:
    # Crowded boxes on a coarse grid (many ties and exact-threshold overlaps), across the
    # vectorised blocks: the same boxes, in the same order, as the one-at-a-time loop.
    rng = np.random.default_rng(count)
    top_left = rng.integers(0, 120, (count, 2)).astype(np.float32)
    boxes = np.concatenate([top_left, top_left + rng.integers(1, 40, (count, 2))], axis=1)
    scores = (rng.integers(1, 50, count) / 50).astype(np.float32)
    class_ids = rng.integers(0, classes, count)

    keep = non_max_suppression(
        boxes, scores, class_ids, confidence=0.0, iou_threshold=0.45, max_detections=limit
    )

    assert keep.tolist() == _one_by_one(boxes, scores, class_ids, 0.45, limit)
