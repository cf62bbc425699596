"""Turning what a caller passes as an image into the wire's base64 text."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx

__all__ = ["encode_image", "image_object"]


def _encode_numpy_bgr(array: Any) -> bytes:
    try:
        import cv2

        ok, encoded = cv2.imencode(".jpg", array)
        if not ok:
            raise ValueError("could not JPEG-encode the numpy image")
        return bytes(encoded.tobytes())
    except ImportError:
        pass
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "encoding numpy images needs OpenCV or Pillow: pip install pillow"
        ) from None
    buffer = io.BytesIO()
    rgb = array[..., ::-1] if array.ndim == 3 else array
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _encode_pil(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def encode_image(image: Any) -> str:
    """Base64 text of ``image``: a path, an http(s) URL (downloaded here), a numpy BGR array,
    a PIL image, raw bytes, or a string that already is base64."""
    if isinstance(image, bytes | bytearray):
        return base64.b64encode(bytes(image)).decode("ascii")
    if isinstance(image, Path):
        return base64.b64encode(image.read_bytes()).decode("ascii")
    if isinstance(image, str):
        if image.startswith(("http://", "https://")):
            response = httpx.get(image, follow_redirects=True, timeout=30.0)
            response.raise_for_status()
            return base64.b64encode(response.content).decode("ascii")
        if len(image) < 4096 and Path(image).is_file():
            return base64.b64encode(Path(image).read_bytes()).decode("ascii")
        return image
    module = type(image).__module__
    if module.startswith("numpy"):
        return base64.b64encode(_encode_numpy_bgr(image)).decode("ascii")
    if module.startswith("PIL"):
        return base64.b64encode(_encode_pil(image)).decode("ascii")
    raise TypeError(
        f"unsupported image type {type(image).__name__}: pass a path, URL, numpy array (BGR), "
        "PIL image, bytes or base64 string"
    )


def image_object(image: Any) -> dict[str, str]:
    """The wire's image object ``{"type": "base64", "value": ...}`` of ``image`` (any kind
    ``encode_image`` takes)."""
    return {"type": "base64", "value": encode_image(image)}
