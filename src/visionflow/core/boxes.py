"""Box conversions. Boxes are float arrays in pixels; names say the layout."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["box_iou_xyxy", "clip_xyxy", "cxcywh_to_xyxy", "xyxy_to_cxcywh"]

FloatArray = npt.NDArray[np.floating]


def cxcywh_to_xyxy(cxcywh: FloatArray) -> npt.NDArray[np.float32]:
    """``(N, 4)`` centre-x, centre-y, width, height → ``(N, 4) float32`` x1, y1, x2, y2."""
    boxes = np.asarray(cxcywh, dtype=np.float32).reshape(-1, 4)
    half_w = boxes[:, 2] / 2
    half_h = boxes[:, 3] / 2
    return np.stack(
        [boxes[:, 0] - half_w, boxes[:, 1] - half_h, boxes[:, 0] + half_w, boxes[:, 1] + half_h],
        axis=1,
    ).astype(np.float32)


def xyxy_to_cxcywh(xyxy: FloatArray) -> npt.NDArray[np.float64]:
    """``(N, 4)`` x1, y1, x2, y2 → ``(N, 4) float64`` centre-x, centre-y, width, height."""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2,
            (boxes[:, 1] + boxes[:, 3]) / 2,
            boxes[:, 2] - boxes[:, 0],
            boxes[:, 3] - boxes[:, 1],
        ],
        axis=1,
    )


def clip_xyxy(xyxy: FloatArray, resolution_wh: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Clip ``(N, 4)`` boxes to ``[0, width] x [0, height]``."""
    width, height = resolution_wh
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes


def box_iou_xyxy(boxes_a: FloatArray, boxes_b: FloatArray) -> npt.NDArray[np.float64]:
    """Pairwise IoU, ``(N, 4)`` x ``(M, 4)`` → ``(N, M) float64``; zero-area boxes have IoU 0."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
