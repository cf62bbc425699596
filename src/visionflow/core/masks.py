"""Instance masks: prototype decoding, mapping to the original image, polygons and COCO RLE.

Follows the reference's default engine (wire reference §8.4): masks are computed on the prototype
grid, zeroed outside their box (rounded to the grid half to even), cut to the unpadded
(non-letterbox) region, resized to the target size with antialiased bilinear filtering and kept
where > 0.5; a polygon is the external contour with the most points.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from visionflow.core.letterbox import ResizeMeta
from visionflow.core.resample import resize_antialiased

__all__ = [
    "MaskDecodeMode",
    "cut_padding",
    "decode_prototype_masks",
    "mask_resolution_factor",
    "mask_to_polygon",
    "mask_to_rle",
    "masks_to_image",
    "rle_to_mask",
]

MaskDecodeMode = Literal["accurate", "fast", "tradeoff"]


def decode_prototype_masks(
    coefficients: npt.NDArray[np.floating],
    protos: npt.NDArray[np.floating],
    boxes_xyxy_input: npt.NDArray[np.floating],
    input_wh: tuple[int, int],
    *,
    logits: bool = False,
) -> npt.NDArray[np.float32]:
    """Mask probabilities on the prototype grid, zero outside each box (with ``logits``, the
    raw mask logits inside the box: the reference decodes YOLO26 masks without a sigmoid).

    ``coefficients``: ``(N, P)``; ``protos``: ``(P, Hm, Wm)``; ``boxes_xyxy_input``: ``(N, 4)`` in
    network-input pixels. The box is scaled to the grid and rounded half to even: grid cell
    ``(row, col)`` is kept when ``round(x1 * s) <= col < round(x2 * s)`` and likewise for rows.
    Returns ``(N, Hm, Wm) float32`` in ``[0, 1]`` (any value with ``logits``).
    """
    count = coefficients.shape[0]
    channels, proto_h, proto_w = protos.shape
    if count == 0:
        return np.zeros((0, proto_h, proto_w), dtype=np.float32)
    raw = coefficients.astype(np.float32) @ protos.reshape(channels, -1).astype(np.float32)
    values = raw if logits else 1.0 / (1.0 + np.exp(-raw))
    masks = values.reshape(count, proto_h, proto_w)
    scale = np.array([proto_w / input_wh[0], proto_h / input_wh[1]] * 2, dtype=np.float32)
    boxes = np.round(np.asarray(boxes_xyxy_input, dtype=np.float32) * scale)
    cols = np.arange(proto_w, dtype=np.float32)[None, None, :]
    rows = np.arange(proto_h, dtype=np.float32)[None, :, None]
    x1, y1, x2, y2 = (boxes[:, k][:, None, None] for k in range(4))
    inside = (cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)
    return np.where(inside, masks, 0.0).astype(np.float32)


def cut_padding(
    planes: npt.NDArray[np.float32], meta: ResizeMeta, fill: float = 0.0
) -> npt.NDArray[np.float32]:
    """``(N, h, w)`` network-resolution planes without the letterbox padding: each side's
    padding scaled to the plane's grid and rounded half to even (a centre crop's negative
    padding is filled with ``fill``)."""
    _count, plane_h, plane_w = planes.shape
    scale_x, scale_y = plane_w / meta.input_wh[0], plane_h / meta.input_wh[1]
    left, top, right, bottom = meta.padding_ltrb
    cut_l, cut_t = round(scale_x * left), round(scale_y * top)
    cut_r, cut_b = round(scale_x * right), round(scale_y * bottom)
    if min(cut_l, cut_t, cut_r, cut_b) < 0:
        planes = np.pad(
            planes,
            ((0, 0), (max(-cut_t, 0), max(-cut_b, 0)), (max(-cut_l, 0), max(-cut_r, 0))),
            constant_values=fill,
        )
        cut_l, cut_t, cut_r, cut_b = (max(v, 0) for v in (cut_l, cut_t, cut_r, cut_b))
    height, width = planes.shape[1:]
    return planes[:, cut_t : height - cut_b, cut_l : width - cut_r]


def mask_resolution_factor(mode: MaskDecodeMode, tradeoff_factor: float) -> float:
    """Where between the prototype grid (0) and the image (1) masks are decoded."""
    if mode == "accurate":
        return 1.0
    if mode == "fast":
        return 0.0
    return float(np.clip(tradeoff_factor, 0.0, 1.0))


def masks_to_image(
    masks_proto: npt.NDArray[np.float32],
    meta: ResizeMeta,
    resolution_factor: float = 1.0,
    threshold: float = 0.5,
) -> tuple[npt.NDArray[np.bool_], tuple[float, float]]:
    """Binary masks for the original image region, and the size factor back to image pixels.

    The padding is cut off the grid (``cut_padding``), then each mask is resized with the
    antialiased bilinear filter (``visionflow.core.resample``) and kept where ``> threshold``.
    ``resolution_factor`` 1 resizes to the original image size, 0 keeps the unpadded grid, and
    values between interpolate (``round(grid * (1 - f) + image * f)``). Returns ``(N, h, w)
    bool`` and ``(sx, sy)`` such that mask pixel ``(x, y)`` is image pixel ``(x * sx, y * sy)``.
    """
    orig_w, orig_h = meta.original_wh
    cut = cut_padding(masks_proto, meta)
    region_h, region_w = cut.shape[1:]
    factor = float(np.clip(resolution_factor, 0.0, 1.0))
    if factor >= 1.0:
        target_w, target_h = orig_w, orig_h
    else:
        target_w = max(1, round(region_w * (1 - factor) + orig_w * factor))
        target_h = max(1, round(region_h * (1 - factor) + orig_h * factor))
    out = np.zeros((len(cut), target_h, target_w), dtype=bool)
    for index in range(len(cut)):
        out[index] = resize_antialiased(cut[index], (target_h, target_w)) > threshold
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


def _rle_counts(text: str) -> list[int]:
    """The run lengths of COCO's compressed RLE string (``rleFrString``: 5 bits a character
    from ``'0'``, a continuation bit, sign-extended, each count after the second a delta)."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise ValueError("truncated counts")
            char = ord(text[position]) - 48
            value |= (char & 0x1F) << shift
            more = bool(char & 0x20)
            position += 1
            shift += 5
            if not more and char & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_to_mask(rle: dict[str, Any]) -> npt.NDArray[np.bool_]:
    """A COCO RLE (``{"size": [H, W], "counts": str | [int]}``, column-major runs starting
    with background) as an ``(H, W)`` bool mask; ``ValueError`` when the runs do not cover the
    size. Pure numpy (pycocotools' decoder warns under numpy 2)."""
    height, width = (int(v) for v in rle["size"])
    raw = rle["counts"]
    counts = _rle_counts(raw) if isinstance(raw, str) else [int(c) for c in raw]
    if any(c < 0 for c in counts) or sum(counts) != height * width:
        raise ValueError(f"runs do not cover {height} x {width} pixels")
    flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
    return np.ascontiguousarray(flat.reshape(width, height).T)
