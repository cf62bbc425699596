"""Non-maximum suppression, the flavour of the reference's default engine.

Scores must be *strictly above* the confidence threshold; suppression uses true IoU (a box is
dropped when its IoU with a kept, higher-scored box is ``> iou_threshold``); it runs per class
unless class-agnostic; survivors come out sorted by descending score, cut to ``max_detections``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["non_max_suppression"]


# torchvision's batched_nms shifts each class into its own region (one NMS pass) up to this many
# box coordinates on the CPU, and runs NMS class by class beyond it.
_COORDINATE_TRICK_MAX_NUMEL = 4000


def _greedy_nms(xyxy: npt.NDArray[np.float32], iou_threshold: float, limit: int) -> list[int]:
    """Indices kept from boxes already sorted by descending score (at most ``limit``).

    Computed as torchvision's CPU kernel does: areas, intersections and IoU in float32, the IoU
    compared in double precision with the threshold (a box is dropped when ``IoU > threshold``).
    """
    x1, y1, x2, y2 = (np.ascontiguousarray(xyxy[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    zero = np.float32(0.0)
    keep: list[int] = []
    remaining = np.arange(xyxy.shape[0])
    while remaining.size and len(keep) < limit:
        best = int(remaining[0])
        keep.append(best)
        rest = remaining[1:]
        width = np.maximum(zero, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        height = np.maximum(zero, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        inter = width * height
        iou = inter / (areas[best] + areas[rest] - inter)
        remaining = rest[~(iou.astype(np.float64) > iou_threshold)]
    return keep


def non_max_suppression(
    xyxy: npt.NDArray[np.floating],
    scores: npt.NDArray[np.floating],
    class_ids: npt.NDArray[np.integer],
    *,
    confidence: float,
    iou_threshold: float,
    class_agnostic: bool = False,
    max_detections: int = 300,
) -> npt.NDArray[np.int64]:
    """Indices of the boxes to keep, ordered by descending score.

    ``xyxy``: ``(N, 4)``; ``scores``: ``(N,)``; ``class_ids``: ``(N,)``. Returns ``(K,) int64``.
    Per-class NMS is torchvision's ``batched_nms``: for up to 1000 candidates every class is
    shifted by ``class_id * (max coordinate + 1)`` in float32 and one pass runs (the shift costs
    float32 precision, which decides close calls, so it is kept); beyond that, class by class.
    """
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    score = np.asarray(scores).reshape(-1)
    if not np.issubdtype(score.dtype, np.floating):
        score = score.astype(np.float64)
    classes = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    # Compare in the scores' own precision, as the reference does: a float32 score equal to the
    # threshold must not pass because float64(0.4f) > 0.4.
    candidates = np.flatnonzero(score > score.dtype.type(confidence))
    if candidates.size == 0 or max_detections <= 0:
        return np.zeros(0, dtype=np.int64)
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    sorted_boxes = boxes[order]
    if class_agnostic or not classes.size:
        keep = _greedy_nms(sorted_boxes, iou_threshold, max_detections)
        return order[np.asarray(keep, dtype=np.int64)]
    sorted_classes = classes[order]
    if sorted_boxes.size <= _COORDINATE_TRICK_MAX_NUMEL:
        offsets = sorted_classes.astype(np.float32) * (sorted_boxes.max() + np.float32(1.0))
        keep = _greedy_nms(sorted_boxes + offsets[:, None], iou_threshold, max_detections)
        return order[np.asarray(keep, dtype=np.int64)]
    kept: list[int] = []
    for class_id in np.unique(sorted_classes):
        members = np.flatnonzero(sorted_classes == class_id)
        kept.extend(members[_greedy_nms(sorted_boxes[members], iou_threshold, members.size)])
    positions = np.sort(np.asarray(kept, dtype=np.int64))  # sorted positions = by score
    return order[positions[:max_detections]]
