"""OCR as a model: an image in, words and lines (boxes as ``sv.Detections``) and text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import CLASS_NAME
from visionflow.runtime.ocr import OcrEngine, OcrLine, OcrWord, Polygon, ocr_engine

__all__ = ["PP_OCR_SIZES", "OcrResult", "read_text"]

# The PP-OCR model sizes requests may name (each stage: detection, recognition). Every size runs
# the same PP-OCR models; the reference's ``none`` (one stage skipped) is not supported.
PP_OCR_SIZES = ("tiny", "small", "medium")


@dataclass(frozen=True)
class OcrResult:
    """``words`` and ``lines`` carry the recognized text in ``data["class_name"]``, class id 0
    and the recognition score as confidence; ``text`` is every line joined by spaces."""

    text: str
    words: sv.Detections
    lines: sv.Detections


def _detections(items: Sequence[OcrWord | OcrLine]) -> sv.Detections:
    if not items:
        empty = sv.Detections.empty()
        empty.data[CLASS_NAME] = np.array([], dtype=object)
        return empty
    return sv.Detections(
        xyxy=np.array([_xyxy(item.polygon) for item in items], dtype=np.float32),
        confidence=np.array([item.score for item in items], dtype=np.float32),
        class_id=np.zeros(len(items), dtype=int),
        data={CLASS_NAME: np.array([item.text for item in items], dtype=object)},
    )


def _xyxy(polygon: Polygon) -> list[float]:
    if not polygon:
        return [0.0, 0.0, 0.0, 0.0]
    xs = [x for x, _ in polygon]
    ys = [y for _, y in polygon]
    return [min(xs), min(ys), max(xs), max(ys)]


def read_text(image_bgr: npt.NDArray[np.uint8], engine: OcrEngine | None = None) -> OcrResult:
    """Read the text in a BGR image; an image without text gives an empty result."""
    lines = (engine or ocr_engine()).read(image_bgr)
    words = [word for line in lines for word in line.words]
    return OcrResult(
        text=" ".join(line.text for line in lines),
        words=_detections(words),
        lines=_detections(lines),
    )
