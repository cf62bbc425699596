"""Detection metrics for accuracy tests: AP at an IoU threshold, all-point interpolated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from visionflow.core.boxes import box_iou_xyxy


@dataclass(frozen=True)
class ImageResult:
    """Ground truth and predictions of one image; boxes are ``(N, 4)`` xyxy pixels."""

    gt_xyxy: npt.NDArray[np.floating]
    gt_class: npt.NDArray[np.integer]
    pred_xyxy: npt.NDArray[np.floating]
    pred_class: npt.NDArray[np.integer]
    pred_score: npt.NDArray[np.floating]


def average_precision(recall: npt.NDArray[np.float64], precision: npt.NDArray[np.float64]) -> float:
    """Area under the precision envelope (all-point interpolation, as VOC 2010+ / COCO-style)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def class_ap(results: Sequence[ImageResult], class_id: int, iou_threshold: float = 0.5) -> float:
    scored: list[tuple[float, bool]] = []
    total_gt = 0
    for result in results:
        gt = result.gt_xyxy[result.gt_class == class_id]
        total_gt += len(gt)
        mask = result.pred_class == class_id
        preds = result.pred_xyxy[mask]
        scores = result.pred_score[mask]
        order = np.argsort(-scores, kind="stable")
        matched = np.zeros(len(gt), dtype=bool)
        ious = box_iou_xyxy(preds[order], gt) if len(gt) and len(preds) else None
        for rank, index in enumerate(order):
            hit = False
            if ious is not None:
                candidates = np.where(~matched, ious[rank], -1.0)
                best = int(np.argmax(candidates))
                if candidates[best] >= iou_threshold:
                    matched[best] = True
                    hit = True
            scored.append((float(scores[index]), hit))
    if total_gt == 0:
        return float("nan")
    if not scored:
        return 0.0
    scored.sort(key=lambda item: -item[0])
    hits = np.array([hit for _, hit in scored], dtype=np.float64)
    true_pos = np.cumsum(hits)
    false_pos = np.cumsum(1.0 - hits)
    recall = true_pos / total_gt
    precision = true_pos / np.maximum(true_pos + false_pos, 1e-9)
    return average_precision(recall, precision)


def mean_ap(results: Sequence[ImageResult], num_classes: int, iou_threshold: float = 0.5) -> float:
    values = [class_ap(results, c, iou_threshold) for c in range(num_classes)]
    present = [v for v in values if not np.isnan(v)]
    return float(np.mean(present)) if present else float("nan")
