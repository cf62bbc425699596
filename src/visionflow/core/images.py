"""Images: decoding bytes and base64 into BGR pixels, with limits, and the ``Image`` value type."""

from __future__ import annotations

import binascii
import re
import uuid
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import pybase64

from visionflow.core.image_headers import ACCEPTED_FORMATS, ImageHeader, read_image_header
from visionflow.errors import ImageDecodeError, ImageTooLargeError

__all__ = [
    "ACCEPTED_FORMATS",
    "Image",
    "ImageHeader",
    "check_image_pixels",
    "decode_base64",
    "decode_image_bytes",
    "decode_with_header",
    "image_size_wh",
    "read_image_header",
]

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
        # pybase64 (SIMD): the same bytes and errors as the standard module, ~50x faster
        # (a 250 KB image: 0.96 -> 0.02 ms).
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageDecodeError(
            "Could not load input image. Cause: the value is not valid base64 "
            "(expected the base64 text of an image file, optionally with a data: URL prefix)."
        ) from None


def image_size_wh(data: bytes) -> tuple[int, int] | None:
    """Width and height read from the file header only, or ``None`` when no accepted format's
    header gives them (see :func:`~visionflow.core.image_headers.read_image_header`)."""
    try:
        return read_image_header(data).size_wh
    except ImageDecodeError:
        return None


def check_image_pixels(header: ImageHeader, max_pixels: int) -> None:
    """``ImageTooLargeError`` (413) when the image ``header`` describes is over ``max_pixels``."""
    width, height = header.size_wh
    if header.pixels > max_pixels:
        raise ImageTooLargeError(
            f"Image is {width}x{height} pixels, over the limit of {max_pixels} pixels "
            "(set VISIONFLOW_MAX_IMAGE_PIXELS to change it)."
        )


def decode_image_bytes(data: bytes, *, max_pixels: int) -> npt.NDArray[np.uint8]:
    """Decode an encoded image (JPEG, PNG, WebP, TIFF, ... see ``ACCEPTED_FORMATS``) to
    ``(H, W, 3) uint8`` BGR, refusing it (413) when its header declares more than ``max_pixels``.

    EXIF orientation is applied and grayscale/alpha images are converted to 3 channels, as the
    reference server does. The size is read from the header of the format OpenCV will decode the
    bytes as, *before* decoding: a small file that expands to a huge bitmap (a decompression
    bomb) is refused without allocating it, and bytes whose size cannot be read are refused
    without being decoded.
    """
    header = read_image_header(data)
    check_image_pixels(header, max_pixels)
    return decode_with_header(data, header)


def decode_with_header(data: bytes, header: ImageHeader) -> npt.NDArray[np.uint8]:
    """Decode ``data`` whose ``header`` (from :func:`read_image_header`) the caller has checked
    against its limits; ``(H, W, 3) uint8`` BGR as :func:`decode_image_bytes`."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"Could not load input image. Cause: {exc.msg.strip()}") from None
    if pixels is None:
        raise ImageDecodeError(
            f"Could not load input image. Cause: the {header.format} data is corrupt or uses a "
            "feature the decoder does not support."
        )
    height, width = pixels.shape[:2]
    # EXIF orientation may swap the axes; any other difference means the header reader and the
    # decoder disagree, and the limits were checked on the wrong size: fail closed.
    if (width, height) not in (header.size_wh, header.size_wh[::-1]):
        raise ImageDecodeError(
            f"Could not load input image. Cause: the {header.format} header declares "
            f"{header.size_wh[0]}x{header.size_wh[1]} pixels but the image decodes to "
            f"{width}x{height}."
        )
    return np.ascontiguousarray(pixels, dtype=np.uint8)
