"""Resizing images to a network's input and mapping boxes back.

Follows the reference server's default engine: OpenCV bilinear resize; for letterbox the resized
size and the padding offsets are truncated to integers and the image is centred on a padded canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["ResizeMeta", "ResizeMode", "resize_to_input", "unresize_xyxy"]

ResizeMode = Literal["stretch", "letterbox", "center-crop"]


@dataclass(frozen=True)
class ResizeMeta:
    """How one image was mapped into the network input.

    ``scale_xy``: network pixels per original pixel; ``pad_xy``: left/top padding in network pixels
    (negative for a centre crop); ``content_wh``: the size of the resized image inside the input
    (``None``: ``int(original * scale)``, as the letterbox computes it).
    """

    original_wh: tuple[int, int]
    input_wh: tuple[int, int]
    scale_xy: tuple[float, float]
    pad_xy: tuple[int, int]
    content_wh: tuple[int, int] | None = None

    @property
    def padding_ltrb(self) -> tuple[int, int, int, int]:
        """Padding of the network input on each side: left, top, right, bottom."""
        if self.content_wh is not None:
            content_w, content_h = self.content_wh
        else:
            content_w = max(1, int(self.original_wh[0] * self.scale_xy[0]))
            content_h = max(1, int(self.original_wh[1] * self.scale_xy[1]))
        left, top = self.pad_xy
        return (
            left,
            top,
            self.input_wh[0] - content_w - left,
            self.input_wh[1] - content_h - top,
        )


def resize_to_input(
    image_bgr: npt.NDArray[np.uint8],
    input_wh: tuple[int, int],
    mode: ResizeMode,
    pad_value: int = 114,
) -> tuple[npt.NDArray[np.uint8], ResizeMeta]:
    """Resize ``(H, W, 3) uint8`` to ``input_wh`` by ``mode``; returns pixels and mapping."""
    height, width = image_bgr.shape[:2]
    target_w, target_h = input_wh
    if width <= 0 or height <= 0:
        raise ValueError("cannot resize an empty image")
    if mode == "stretch":
        resized = np.asarray(
            cv2.resize(image_bgr, (target_w, target_h), interpolation=cv2.INTER_LINEAR),
            dtype=np.uint8,
        )
        meta = ResizeMeta(
            (width, height), input_wh, (target_w / width, target_h / height), (0, 0), input_wh
        )
        return resized, meta
    if mode == "center-crop":
        # Shorter side to the target, then the centre cut out (classifier preprocessing).
        scale = max(target_w / width, target_h / height)
        new_w = max(target_w, round(width * scale))
        new_h = max(target_h, round(height * scale))
        resized = np.asarray(
            cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        )
        left = (new_w - target_w) // 2
        top = (new_h - target_h) // 2
        cropped = np.ascontiguousarray(resized[top : top + target_h, left : left + target_w])
        return cropped, ResizeMeta(
            (width, height), input_wh, (scale, scale), (-left, -top), (new_w, new_h)
        )
    if mode != "letterbox":
        raise ValueError(f"unknown resize mode {mode!r}")
    scale = min(target_w / width, target_h / height)
    new_w = max(1, int(width * scale))
    new_h = max(1, int(height * scale))
    pad_left = int((target_w - new_w) / 2)
    pad_top = int((target_h - new_h) / 2)
    canvas = np.full((target_h, target_w, 3), pad_value, dtype=np.uint8)
    resized = np.asarray(
        cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )
    canvas[pad_top : pad_top + new_h, pad_left : pad_left + new_w] = resized
    return canvas, ResizeMeta(
        (width, height), input_wh, (scale, scale), (pad_left, pad_top), (new_w, new_h)
    )


def unresize_xyxy(xyxy: npt.NDArray[np.floating], meta: ResizeMeta) -> npt.NDArray[np.float32]:
    """Map ``(N, 4)`` network-input boxes to original pixels, unrounded and unclipped
    (callers clip with ``clip_xyxy`` then round, as the reference's default engine does)."""
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
    pad_x, pad_y = meta.pad_xy
    scale_x, scale_y = meta.scale_xy
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad_x) / scale_x
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad_y) / scale_y
    return boxes
