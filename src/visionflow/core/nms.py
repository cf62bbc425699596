"""Non-maximum suppression, the flavour of the reference's default engine.

Scores must be *strictly above* the confidence threshold; suppression uses true IoU (a box is
dropped when its IoU with a kept, higher-scored box is ``> iou_threshold``); it runs per class
unless class-agnostic; survivors come out sorted by descending score, cut to ``max_detections``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from visionflow.core.boxes import box_iou_xyxy

__all__ = ["non_max_suppression"]


def _greedy_nms(xyxy: npt.NDArray[np.float64], iou_threshold: float, limit: int) -> list[int]:
    """Indices kept from boxes already sorted by descending score (at most ``limit``)."""
    keep: list[int] = []
    remaining = np.arange(xyxy.shape[0])
    while remaining.size and len(keep) < limit:
        best = int(remaining[0])
        keep.append(best)
        rest = remaining[1:]
        iou = box_iou_xyxy(xyxy[best : best + 1], xyxy[rest])[0]
        remaining = rest[iou <= iou_threshold]
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
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
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
    if not class_agnostic and classes.size:
        # Shift each class into its own region so boxes of different classes never overlap —
        # one greedy pass then equals per-class NMS.
        extent = float(np.abs(sorted_boxes).max()) + 1.0
        sorted_boxes = sorted_boxes + (classes[order] * 2 * extent)[:, None]
    keep = _greedy_nms(sorted_boxes, iou_threshold, max_detections)
    return order[np.asarray(keep, dtype=np.int64)]
