"""Turning wire image declarations (base64, URL, raw bytes) into decoded BGR pixels, within the
budgets of one image and of one request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.config import Settings
from visionflow.core.images import (
    ImageHeader,
    check_image_pixels,
    decode_base64,
    decode_with_header,
    read_image_header,
)
from visionflow.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    InvalidInputError,
    PayloadTooLargeError,
)
from visionflow.service.urls import UrlFetcher

__all__ = ["ImageDecoder", "ImageLoader", "ImageRef", "RequestImageBudget"]

_NOT_OVER_HTTP = {"numpy", "numpy_object", "pil"}


@dataclass(frozen=True)
class ImageRef:
    """One image as a client declared it: ``type`` is ``base64``, ``url`` or ``bytes``."""

    type: str
    value: Any

    @classmethod
    def from_input(cls, value: Any) -> ImageRef:
        """A workflow image input: an image object ``{type, value}``, or a bare base64 string or
        URL (wire reference §6.2)."""
        if isinstance(value, dict):
            kind = value.get("type")
            if not isinstance(kind, str):
                raise InvalidInputError("an image object needs a 'type' and a 'value'")
            return cls(type=kind, value=value.get("value"))
        if isinstance(value, str):
            return cls(
                type="url" if value.startswith(("http://", "https://")) else "base64", value=value
            )
        raise InvalidInputError(
            "an image must be an image object {type, value}, a base64 string or a URL, "
            f"not {type(value).__name__}"
        )


ImageDecoder = Callable[[Any], npt.NDArray[np.uint8]]


class RequestImageBudget:
    """What one request may decode: at most ``max_images`` images
    (``VISIONFLOW_MAX_IMAGES_PER_REQUEST``) of ``max_pixels`` decoded pixels together
    (``VISIONFLOW_MAX_REQUEST_PIXELS``). Create one per request; thread-safe, because a workflow
    run may decode its inputs from several threads."""

    def __init__(self, *, max_images: int, max_pixels: int) -> None:
        self.max_images = max_images
        self.max_pixels = max_pixels
        self.images = 0
        self.pixels = 0
        self._lock = threading.Lock()

    def count(self, images: int) -> None:
        """Count ``images`` more images of the request, before any of them is fetched or
        decoded; ``PayloadTooLargeError`` (413) past ``max_images``."""
        with self._lock:
            total = self.images + images
            if total > self.max_images:
                seen = f"{total}" if self.images == 0 else f"more than {self.max_images}"
                raise PayloadTooLargeError(
                    f"The request has {seen} images, over the limit of {self.max_images} images "
                    "per request (set VISIONFLOW_MAX_IMAGES_PER_REQUEST to change it).",
                    details={"max_images_per_request": self.max_images},
                )
            self.images = total

    def charge(self, header: ImageHeader) -> None:
        """Add the decoded pixels ``header`` declares, before the image is decoded;
        ``ImageTooLargeError`` (413) when the request's images would pass ``max_pixels``."""
        with self._lock:
            total = self.pixels + header.pixels
            if total > self.max_pixels:
                width, height = header.size_wh
                raise ImageTooLargeError(
                    f"The request's images are over the limit of {self.max_pixels} decoded "
                    f"pixels per request: an image of {width}x{height} pixels comes after "
                    f"{self.pixels} pixels of other images (set VISIONFLOW_MAX_REQUEST_PIXELS to "
                    "change it).",
                    details={"max_request_pixels": self.max_pixels},
                )
            self.pixels = total


class ImageLoader:
    def __init__(self, settings: Settings, fetcher: UrlFetcher) -> None:
        self._settings = settings
        self._fetcher = fetcher

    @property
    def fetcher(self) -> UrlFetcher:
        """The URL guard and fetcher (video pipelines check stream URLs with it too)."""
        return self._fetcher

    def budget(self, images: int = 0) -> RequestImageBudget:
        """A new budget for one request, having counted ``images`` images (413 when they are
        already too many)."""
        budget = RequestImageBudget(
            max_images=self._settings.max_images_per_request,
            max_pixels=self._settings.max_request_pixels,
        )
        budget.count(images)
        return budget

    def load(
        self, ref: ImageRef, budget: RequestImageBudget | None = None
    ) -> npt.NDArray[np.uint8]:
        """``(H, W, 3) uint8`` BGR pixels of one image. Its pixels are charged to ``budget``
        (which has counted the image) before it is decoded; without one, to a budget of its
        own."""
        budget = budget if budget is not None else self.budget(1)
        return decode_with_header(*self._checked(ref, budget))

    def load_all(
        self, refs: Sequence[ImageRef], budget: RequestImageBudget | None = None
    ) -> list[npt.NDArray[np.uint8]]:
        """The pixels of every image of a request, in order. The images are counted before any
        is fetched, and every header is checked against the budget before any is decoded, so a
        request over its budget decodes nothing. ``budget``: one that has counted ``refs``."""
        budget = budget if budget is not None else self.budget(len(refs))
        checked = [self._checked(ref, budget) for ref in refs]
        decoded = []
        for index in range(len(checked)):
            data, header = checked[index]
            checked[index] = (b"", header)  # let the encoded bytes go as soon as decoded
            decoded.append(decode_with_header(data, header))
        return decoded

    def decoder(self, values: Sequence[Any]) -> ImageDecoder:
        """A decoder for the image inputs of one workflow run, ``values`` being every image
        value the run will decode (see :meth:`ImageRef.from_input`), in the order it decodes
        them. On its first call it counts them, fetches them and charges every header to one
        request budget before it decodes any: a run over its budget (images or pixels) decodes
        nothing, the first call raising the 413. An error of one value (not an image, a failed
        fetch, over the per-image limit) is raised when that value is decoded, so it is reported
        against its own input; no value after it is read. A value not in ``values`` is counted
        and checked on its own call."""
        return _PreparedImages(self, values)

    def _checked(self, ref: ImageRef, budget: RequestImageBudget) -> tuple[bytes, ImageHeader]:
        data, header = self._sized(ref)
        budget.charge(header)
        return data, header

    def _sized(self, ref: ImageRef) -> tuple[bytes, ImageHeader]:
        """The bytes of one image and their header, within the per-image limit."""
        data = self._bytes(ref)
        header = read_image_header(data)
        check_image_pixels(header, self._settings.max_image_pixels)
        return data, header

    def _bytes(self, ref: ImageRef) -> bytes:
        kind = ref.type.lower()
        if kind == "base64":
            if not isinstance(ref.value, str):
                raise ImageDecodeError(
                    "Could not load input image. Cause: a base64 image value must be a string."
                )
            return decode_base64(ref.value)
        if kind == "url":
            if not isinstance(ref.value, str):
                raise InvalidInputError("an image of type 'url' needs a string value")
            return self._fetcher.fetch(ref.value)
        if kind in {"bytes", "multipart"}:
            if not isinstance(ref.value, bytes | bytearray):
                raise InvalidInputError("a multipart image must carry the file bytes")
            return bytes(ref.value)
        if kind in _NOT_OVER_HTTP:
            raise InvalidInputError(
                f"image type {ref.type!r} is not accepted over HTTP (it would need unpickling); "
                "send the image as base64 or a URL"
            )
        if kind == "file":
            raise InvalidInputError(
                "image type 'file' (a path on the server) is not accepted; send base64 or a URL"
            )
        raise InvalidInputError(
            f"Image declaration contains not recognised image type {ref.type!r}; "
            "use 'base64' or 'url'"
        )


class _PreparedImages:
    """The decoder :meth:`ImageLoader.decoder` returns (thread-safe)."""

    def __init__(self, loader: ImageLoader, values: Sequence[Any]) -> None:
        self._loader = loader
        self._values = list(values)  # keeps the values alive, so their ids stay theirs
        self._budget = loader.budget()
        # id(value) -> what the checking pass made of each occurrence, in order.
        self._checked: dict[int, list[tuple[bytes, ImageHeader] | Exception]] | None = None
        self._refused: Exception | None = None  # the run is over its budget
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> npt.NDArray[np.uint8]:
        with self._lock:
            if self._refused is not None:
                raise self._refused
            if self._checked is None:
                try:
                    self._checked = self._check_all()
                except (ImageTooLargeError, PayloadTooLargeError) as exc:
                    self._refused = exc
                    raise
            entries = self._checked.get(id(value))
            entry = entries.pop(0) if entries else None
        if entry is None:
            ref = ImageRef.from_input(value)
            self._budget.count(1)
            return self._loader.load(ref, self._budget)
        if isinstance(entry, Exception):
            raise entry
        return decode_with_header(*entry)

    def _check_all(self) -> dict[int, list[tuple[bytes, ImageHeader] | Exception]]:
        """Every value's bytes and header, charged to the budget (whose errors propagate)."""
        self._budget.count(len(self._values))
        checked: dict[int, list[tuple[bytes, ImageHeader] | Exception]] = {}
        for value in self._values:
            entries = checked.setdefault(id(value), [])
            try:
                data, header = self._loader._sized(ImageRef.from_input(value))
            except Exception as exc:  # raised when this value is decoded; nothing after is read
                entries.append(exc)
                break
            self._budget.charge(header)
            entries.append((data, header))
        return checked
