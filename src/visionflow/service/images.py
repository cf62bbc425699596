"""Turning wire image declarations (base64, URL, raw bytes) into decoded BGR pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.config import Settings
from visionflow.core.images import decode_base64, decode_image_bytes
from visionflow.errors import ImageDecodeError, InvalidInputError
from visionflow.service.urls import UrlFetcher

__all__ = ["ImageLoader", "ImageRef"]

_NOT_OVER_HTTP = {"numpy", "numpy_object", "pil"}


@dataclass(frozen=True)
class ImageRef:
    """One image as a client declared it: ``type`` is ``base64``, ``url`` or ``bytes``."""

    type: str
    value: Any


class ImageLoader:
    def __init__(self, settings: Settings, fetcher: UrlFetcher) -> None:
        self._settings = settings
        self._fetcher = fetcher

    def load(self, ref: ImageRef) -> npt.NDArray[np.uint8]:
        kind = ref.type.lower()
        if kind == "base64":
            if not isinstance(ref.value, str):
                raise ImageDecodeError(
                    "Could not load input image. Cause: a base64 image value must be a string."
                )
            data = decode_base64(ref.value)
        elif kind == "url":
            if not isinstance(ref.value, str):
                raise InvalidInputError("an image of type 'url' needs a string value")
            data = self._fetcher.fetch(ref.value)
        elif kind in {"bytes", "multipart"}:
            if not isinstance(ref.value, bytes | bytearray):
                raise InvalidInputError("a multipart image must carry the file bytes")
            data = bytes(ref.value)
        elif kind in _NOT_OVER_HTTP:
            raise InvalidInputError(
                f"image type {ref.type!r} is not accepted over HTTP (it would need unpickling); "
                "send the image as base64 or a URL"
            )
        elif kind == "file":
            raise InvalidInputError(
                "image type 'file' (a path on the server) is not accepted; send base64 or a URL"
            )
        else:
            raise InvalidInputError(
                f"Image declaration contains not recognised image type {ref.type!r}; "
                "use 'base64' or 'url'"
            )
        return decode_image_bytes(data, max_pixels=self._settings.max_image_pixels)
