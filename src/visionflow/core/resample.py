"""Antialiased bilinear resizing of float planes, as the reference resizes masks and logits.

The reference's default engine resizes instance masks and semantic logits with
``torchvision.transforms.functional.resize(..., BILINEAR, antialias=True)``: a separable triangle
filter whose support widens with the downscale factor (every source pixel under an output pixel
counts), weights normalised per output pixel, pixel centres at ``i + 0.5``. Upscaling with it is
ordinary half-pixel bilinear interpolation with edge clamping, which OpenCV's ``INTER_LINEAR``
computes the same way (and faster); an axis that shrinks gets the filter as a weight matrix.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["antialias_weights", "resize_antialiased"]


@lru_cache(maxsize=64)
def _weights(size_in: int, size_out: int) -> npt.NDArray[np.float32]:
    scale = size_in / size_out
    support = scale if scale >= 1.0 else 1.0
    inv_scale = 1.0 / scale if scale >= 1.0 else 1.0
    weights = np.zeros((size_out, size_in), dtype=np.float64)
    for index in range(size_out):
        center = scale * (index + 0.5)
        # int() truncates toward zero, as the C++ kernel's casts do.
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), size_in)
        taps = np.arange(low, high, dtype=np.float64)
        values = np.clip(1.0 - np.abs((taps - center + 0.5) * inv_scale), 0.0, None)
        total = values.sum()
        if total > 0:
            weights[index, low:high] = values / total
    weights.setflags(write=False)
    return weights.astype(np.float32)


def antialias_weights(size_in: int, size_out: int) -> npt.NDArray[np.float32]:
    """``(size_out, size_in)`` weights of the antialiased triangle filter along one axis."""
    if size_in < 1 or size_out < 1:
        raise ValueError(f"cannot resize {size_in} samples to {size_out}")
    return _weights(size_in, size_out)


def resize_antialiased(
    plane: npt.NDArray[np.floating], size_hw: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """Resize a ``(h, w)`` float plane to ``size_hw`` with antialiased bilinear filtering."""
    out_h, out_w = size_hw
    result = np.ascontiguousarray(plane, dtype=np.float32)
    in_h, in_w = result.shape
    # Width first, then height (the order only changes float rounding).
    if out_w != in_w:
        if out_w > in_w:
            result = np.asarray(
                cv2.resize(result, (out_w, in_h), interpolation=cv2.INTER_LINEAR), np.float32
            )
        else:
            result = np.asarray(result @ antialias_weights(in_w, out_w).T, np.float32)
    if out_h != in_h:
        if out_h > in_h:
            result = np.asarray(
                cv2.resize(
                    np.ascontiguousarray(result), (out_w, out_h), interpolation=cv2.INTER_LINEAR
                ),
                np.float32,
            )
        else:
            result = np.asarray(antialias_weights(in_h, out_h) @ result, np.float32)
    return np.ascontiguousarray(result, dtype=np.float32)
