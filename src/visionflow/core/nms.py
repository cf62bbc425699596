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


# Candidates compared with each other at once: a (block, block) float32 IoU tile (1 MB at 512)
# plus a (block, kept) one; bounds memory for any candidate count.
_BLOCK = 512

# IoU (float32) compared with the threshold in double precision, as torchvision does: the loop
# casts as it goes instead of a float64 copy of each tile.
_IN_DOUBLE = "dd->?"


def _iou_float32(
    x1: npt.NDArray[np.float32],
    y1: npt.NDArray[np.float32],
    x2: npt.NDArray[np.float32],
    y2: npt.NDArray[np.float32],
    areas: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """``(R, C) float32`` IoU of boxes ``rows`` with boxes ``cols``, operation for operation as
    torchvision's CPU kernel (every step in float32; IoU is symmetric in it). Two ``(R, C)``
    buffers, the other steps written into them."""
    zero = np.float32(0.0)
    r = rows[:, None]
    inter = np.minimum(x2[r], x2[cols])
    inter -= np.maximum(x1[r], x1[cols])
    np.maximum(inter, zero, out=inter)  # the width
    height = np.minimum(y2[r], y2[cols])
    height -= np.maximum(y1[r], y1[cols])
    np.maximum(height, zero, out=height)
    inter *= height
    union = np.add(areas[r], areas[cols], out=height)
    union -= inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(inter, union, out=inter)


def _greedy_nms(
    xyxy: npt.NDArray[np.float32],
    iou_threshold: float,
    limit: int,
    classes: npt.NDArray[np.int64] | None = None,
) -> list[int]:
    """Indices kept from boxes already sorted by descending score (at most ``limit``).

    Greedy NMS: a box is kept unless a kept, higher-scored box (of its class when ``classes``
    is given) has ``IoU > threshold`` with it. Areas, intersections and IoU are float32, the IoU
    compared in double precision, as torchvision's CPU kernel does. Vectorised by blocks of
    ``_BLOCK`` candidates: each block is first checked against every box kept so far, then
    resolved within itself from one IoU tile; it stops once ``limit`` boxes are kept.
    """
    x1, y1, x2, y2 = (np.ascontiguousarray(xyxy[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    threshold = np.float64(iou_threshold)
    keep: list[int] = []
    count = xyxy.shape[0]
    for start in range(0, count, _BLOCK):
        if len(keep) >= limit:
            break
        block = np.arange(start, min(start + _BLOCK, count), dtype=np.int64)
        alive: npt.NDArray[np.bool_] = np.ones(block.size, dtype=bool)
        if keep:
            kept = np.asarray(keep, dtype=np.int64)
            iou = _iou_float32(x1, y1, x2, y2, areas, block, kept)
            hits = np.greater(iou, threshold, signature=_IN_DOUBLE)
            if classes is not None:
                hits &= classes[block][:, None] == classes[kept][None, :]
            alive = np.logical_not(hits.any(axis=1))
        survivors = block[alive]
        if survivors.size == 0:
            continue
        tile = _iou_float32(x1, y1, x2, y2, areas, survivors, survivors)
        suppresses = np.greater(tile, threshold, signature=_IN_DOUBLE)
        if classes is not None:
            member = classes[survivors]
            suppresses &= member[:, None] == member[None, :]
        # Only a higher-scored (earlier) box suppresses a later one.
        suppresses = np.triu(suppresses, k=1)
        if not suppresses.any():
            keep.extend(survivors[: limit - len(keep)].tolist())
            continue
        spared = np.logical_not(suppresses, out=suppresses)
        standing = np.ones(survivors.size, dtype=bool)
        for position in range(survivors.size):
            if not standing[position]:
                continue
            keep.append(int(survivors[position]))
            if len(keep) >= limit:
                break
            standing &= spared[position]
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
    # Classes never suppress each other: one pass in score order, pairs of other classes masked
    # (what running class by class and merging by score gives).
    keep = _greedy_nms(sorted_boxes, iou_threshold, max_detections, sorted_classes)
    return order[np.asarray(keep, dtype=np.int64)]
