"""What DETR-style detectors share: a fixed set of Q queries, top-k over their class scores, no NMS.

A DETR head answers every query with a normalised box and a score per class column. The
reference (and Ultralytics' RT-DETR since 8.4) takes the Q best (query, column) pairs of the
flattened ``(Q, K)`` score grid, so one query may answer for two classes; a column that is no
class (DETR's "no object", a background placeholder) is dropped *after* that top-k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from visionflow.core.boxes import clip_xyxy, cxcywh_to_xyxy
from visionflow.core.letterbox import ResizeMeta, unresize_xyxy
from visionflow.models.params import DetectionParams

__all__ = ["DetrSelection", "select_queries", "sigmoid", "topk_queries"]


def sigmoid(logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Elementwise logistic function in float32, without overflow for large ``|x|``."""
    x = np.asarray(logits, dtype=np.float32)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(np.float32)


def topk_queries(
    scores: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The ``k`` best cells of a ``(Q, K)`` score grid, best first: ``(k,)`` query indices,
    ``(k,)`` columns and ``(k,)`` scores (ties keep the grid's row-major order)."""
    flat = scores.reshape(-1)
    best = np.argsort(-flat, kind="stable")[: max(k, 0)]
    columns = scores.shape[1]
    return best // columns, best % columns, flat[best]


@dataclass(frozen=True)
class DetrSelection:
    """The queries kept for one image, best first.

    ``queries``: ``(K,)`` indices into the Q queries; ``xyxy_input``: network-input pixels;
    ``xyxy``: original pixels (clamped, rounded).
    """

    queries: npt.NDArray[np.int64]
    xyxy_input: npt.NDArray[np.float32]
    xyxy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]


def select_queries(
    boxes_cxcywh: npt.NDArray[np.float32],
    queries: npt.NDArray[np.int64],
    class_ids: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    meta: ResizeMeta,
    params: DetectionParams,
    class_names: Sequence[str],
) -> DetrSelection:
    """Candidates (query, class id, score — class id -1 for columns that are no class) →
    those scoring *strictly above* ``params.confidence`` with an allowed class, at most
    ``params.max_detections``, best first, boxes mapped to the original image.

    ``boxes_cxcywh``: ``(Q, 4)`` normalised to ``[0, 1]`` of ``meta.input_wh``.
    """
    passing = (scores > np.float32(params.confidence)) & (class_ids >= 0)
    passing &= class_ids < len(class_names)
    if params.class_filter:
        allowed = [i for i, name in enumerate(class_names) if name in params.class_filter]
        passing &= np.isin(class_ids, allowed)
    keep = np.flatnonzero(passing)
    keep = keep[np.argsort(-scores[keep], kind="stable")][: max(params.max_detections, 0)]
    width, height = meta.input_wh
    size = np.array([width, height, width, height], dtype=np.float32)
    xyxy_input = cxcywh_to_xyxy(boxes_cxcywh[queries[keep]]) * size
    xyxy = np.round(clip_xyxy(unresize_xyxy(xyxy_input, meta), meta.original_wh))
    return DetrSelection(
        queries[keep], xyxy_input, xyxy, scores[keep].astype(np.float32), class_ids[keep]
    )
