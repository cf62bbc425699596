"""Images: decoding bytes and base64 into BGR pixels, with limits, and the ``Image`` value type."""

from __future__ import annotations

import base64
import binascii
import io
import re
import uuid
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from visionflow.errors import ImageDecodeError, ImageTooLargeError

__all__ = ["Image", "decode_base64", "decode_image_bytes", "image_size_wh"]

_DATA_URL = re.compile(r"^data:[^,]*?;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Image:
    """Decoded pixels plus provenance, so detections on a crop can be mapped to the input image.

    ``pixels_bgr`` is ``(H, W, 3) uint8`` in BGR order; ``offset_xy`` is where this image's origin
    lies in its parent (``(0, 0)`` for an input image).
    """

    pixels_bgr: npt.NDArray[np.uint8]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    parent_id: str | None = None
    offset_xy: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        px = self.pixels_bgr
        if px.dtype != np.uint8 or px.ndim != 3 or px.shape[2] != 3:
            raise ValueError(f"Image pixels must be (H, W, 3) uint8, got {px.shape} {px.dtype}")

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.pixels_bgr.shape[1]), int(self.pixels_bgr.shape[0])


def decode_base64(value: str) -> bytes:
    """Decode a base64 image string, with or without a ``data:image/...;base64,`` prefix."""
    # ``str.split()`` drops exactly what ``\s`` matches, in one C pass (~20x the regex's speed).
    text = "".join(_DATA_URL.sub("", value.strip(), count=1).split())
    if not text:
        raise ImageDecodeError("Could not load input image. Cause: the base64 payload is empty.")
    # Accept URL-safe alphabet and missing padding, both common in hand-written clients.
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageDecodeError(
            "Could not load input image. Cause: the value is not valid base64 "
            "(expected the base64 text of an image file, optionally with a data: URL prefix)."
        ) from None


def image_size_wh(data: bytes) -> tuple[int, int] | None:
    """Width and height read from the file header only, or ``None`` if the header is unknown.

    Raises ``ImageTooLargeError`` when Pillow itself refuses the header as a decompression bomb.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                return int(probe.size[0]), int(probe.size[1])
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLargeError(f"Image is too large to decode: {exc}") from None
    except Exception:
        return None


def decode_image_bytes(data: bytes, *, max_pixels: int) -> npt.NDArray[np.uint8]:
    """Decode an encoded image (JPEG, PNG, BMP, WebP, TIFF, ...) to ``(H, W, 3) uint8`` BGR.

    EXIF orientation is applied and grayscale/alpha images are converted to 3 channels, as the
    reference server does. The pixel count is checked on the header *before* decoding, so a small
    file that expands to a huge bitmap (a decompression bomb) is refused without allocating it.
    """
    if not data:
        raise ImageDecodeError("Could not load input image. Cause: the image payload is empty.")
    size = image_size_wh(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageTooLargeError(
            f"Image is {size[0]}x{size[1]} pixels, over the limit of {max_pixels} pixels "
            "(set VISIONFLOW_MAX_IMAGE_PIXELS to change it)."
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"Could not load input image. Cause: {exc.msg.strip()}") from None
    if pixels is None:
        raise ImageDecodeError(
            "Could not load input image. Cause: the bytes are not an image in a supported format "
            "(JPEG, PNG, BMP, WebP, TIFF)."
        )
    height, width = pixels.shape[:2]
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"Image is {width}x{height} pixels, over the limit of {max_pixels} pixels "
            "(set VISIONFLOW_MAX_IMAGE_PIXELS to change it)."
        )
    return np.ascontiguousarray(pixels, dtype=np.uint8)
