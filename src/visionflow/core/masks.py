"""Instance masks: prototype decoding, mapping to the original image, polygons and COCO RLE.

Follows the reference's default engine: masks are computed on the prototype grid, zeroed outside
their box, cut to the unpadded (non-letterbox) region, resized to the target size and thresholded
at 0.5; a polygon is the external contour with the most points.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from visionflow.core.letterbox import ResizeMeta

__all__ = [
    "MaskDecodeMode",
    "decode_prototype_masks",
    "mask_to_polygon",
    "mask_to_rle",
    "masks_to_image",
]

MaskDecodeMode = Literal["accurate", "fast", "tradeoff"]


def decode_prototype_masks(
    coefficients: npt.NDArray[np.floating],
    protos: npt.NDArray[np.floating],
    boxes_xyxy_input: npt.NDArray[np.floating],
    input_wh: tuple[int, int],
) -> npt.NDArray[np.float32]:
    """Mask probabilities on the prototype grid, zero outside each box.

    ``coefficients``: ``(N, P)``; ``protos``: ``(P, Hm, Wm)``; ``boxes_xyxy_input``: ``(N, 4)`` in
    network-input pixels. Returns ``(N, Hm, Wm) float32`` in ``[0, 1]``.
    """
    count = coefficients.shape[0]
    channels, proto_h, proto_w = protos.shape
    if count == 0:
        return np.zeros((0, proto_h, proto_w), dtype=np.float32)
    logits = coefficients.astype(np.float32) @ protos.reshape(channels, -1).astype(np.float32)
    masks = (1.0 / (1.0 + np.exp(-logits))).reshape(count, proto_h, proto_w)
    scale_x = proto_w / input_wh[0]
    scale_y = proto_h / input_wh[1]
    cols = np.arange(proto_w, dtype=np.float32)[None, None, :]
    rows = np.arange(proto_h, dtype=np.float32)[None, :, None]
    boxes = np.asarray(boxes_xyxy_input, dtype=np.float32)
    x1 = (boxes[:, 0] * scale_x)[:, None, None]
    y1 = (boxes[:, 1] * scale_y)[:, None, None]
    x2 = (boxes[:, 2] * scale_x)[:, None, None]
    y2 = (boxes[:, 3] * scale_y)[:, None, None]
    inside = (cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)
    return np.where(inside, masks, 0.0).astype(np.float32)


def masks_to_image(
    masks_proto: npt.NDArray[np.float32],
    meta: ResizeMeta,
    mode: MaskDecodeMode = "accurate",
    tradeoff_factor: float = 0.0,
    threshold: float = 0.5,
) -> tuple[npt.NDArray[np.bool_], tuple[float, float]]:
    """Binary masks for the original image region, and the size factor back to image pixels.

    ``accurate`` resizes to the original image size; ``fast`` stays at the prototype resolution of
    the unpadded region; ``tradeoff`` goes ``tradeoff_factor`` of the way between them. Returns
    ``(N, h, w) bool`` and ``(sx, sy)`` such that mask pixel ``(x, y)`` is image pixel
    ``(x * sx, y * sy)``.
    """
    count, proto_h, proto_w = masks_proto.shape
    input_w, input_h = meta.input_wh
    orig_w, orig_h = meta.original_wh
    # The unpadded region of the network input, on the prototype grid.
    gx, gy = proto_w / input_w, proto_h / input_h
    pad_x, pad_y = meta.pad_xy
    content_w = orig_w * meta.scale_xy[0]
    content_h = orig_h * meta.scale_xy[1]
    left = int(pad_x * gx)
    top = int(pad_y * gy)
    right = max(left + 1, round((pad_x + content_w) * gx))
    bottom = max(top + 1, round((pad_y + content_h) * gy))
    cut = masks_proto[:, top:bottom, left:right]
    region_h, region_w = cut.shape[1:]
    if mode == "accurate":
        target_w, target_h = orig_w, orig_h
    elif mode == "fast":
        target_w, target_h = region_w, region_h
    else:
        factor = float(np.clip(tradeoff_factor, 0.0, 1.0))
        target_w = max(1, round(region_w + factor * (orig_w - region_w)))
        target_h = max(1, round(region_h + factor * (orig_h - region_h)))
    out = np.zeros((count, target_h, target_w), dtype=bool)
    shrinking = target_w < region_w or target_h < region_h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    for index in range(count):
        resized = cv2.resize(cut[index], (target_w, target_h), interpolation=interpolation)
        out[index] = resized > threshold
    return out, (orig_w / target_w, orig_h / target_h)


def mask_to_polygon(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
    """The external contour with the most points, ``(K, 2) float32`` x/y; empty if no pixel."""
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return np.zeros((0, 2), dtype=np.float32)
    largest = max(contours, key=len)
    return largest.reshape(-1, 2).astype(np.float32)


def mask_to_rle(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """COCO run-length encoding: ``{"size": [H, W], "counts": "<compressed string>"}``."""
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = encoded["counts"]
    return {
        "size": [int(v) for v in encoded["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else str(counts),
    }
