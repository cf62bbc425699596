"""The OCR use case: load images → read text. Every OCR route runs the same PP-OCR engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from visionflow.errors import InvalidInputError
from visionflow.models.ocr import OcrOptions, OcrResult, read_text
from visionflow.service.images import ImageRef
from visionflow.service.services import Services

__all__ = ["OcrPrediction", "run_ocr"]


@dataclass(frozen=True)
class OcrPrediction:
    image_wh: tuple[int, int]
    result: OcrResult


def run_ocr(
    services: Services, refs: Sequence[ImageRef], options: OcrOptions | None = None
) -> list[OcrPrediction]:
    """Read the text of each image, in order (the caller has authorized the request)."""
    if not refs:
        raise InvalidInputError("no image given: send at least one image")
    images = services.images.load_all(refs)
    return [
        OcrPrediction((int(image.shape[1]), int(image.shape[0])), read_text(image, options))
        for image in images
    ]
