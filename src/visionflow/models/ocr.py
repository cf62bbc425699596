"""OCR as a model: an image in, words and lines (boxes as ``sv.Detections``) and text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import CLASS_NAME
from visionflow.errors import InvalidInputError
from visionflow.runtime.ocr import OcrEngine, OcrLine, OcrWord, Polygon, ocr_engine

__all__ = [
    "EASY_OCR_LANGUAGES",
    "EASY_OCR_VERSIONS",
    "PP_OCR_SIZES",
    "PP_OCR_STAGE_SIZES",
    "OcrOptions",
    "OcrResult",
    "pp_ocr_options",
    "read_text",
]

# The PP-OCR model sizes requests may name for each stage (detection, recognition). Every size
# runs the same PP-OCR models; ``none`` skips the stage (not both).
PP_OCR_SIZES = ("tiny", "small", "medium")
PP_OCR_STAGE_SIZES = ("none", *PP_OCR_SIZES)
# What the EasyOCR names accept (route and block): the engine reads English (Latin script).
EASY_OCR_VERSIONS = ("english_g2",)
EASY_OCR_LANGUAGES = ("en",)


@dataclass(frozen=True)
class OcrOptions:
    """What one read runs. ``detect=False``: the whole image is one line (recognition only);
    ``recognize=False``: line boxes without text (detection only); ``words``: also split lines
    into word boxes (a little extra post-processing, so only when a caller needs words)."""

    detect: bool = True
    recognize: bool = True
    words: bool = False

    def __post_init__(self) -> None:
        if not (self.detect or self.recognize):
            raise InvalidInputError(
                "PP-OCR needs text detection, text recognition or both: they cannot both be 'none'"
            )


def pp_ocr_options(text_detection: str, text_recognition: str, *, words: bool) -> OcrOptions:
    """The options for a pair of PP-OCR stage sizes (each one of ``PP_OCR_STAGE_SIZES``)."""
    for field, size in (("text_detection", text_detection), ("text_recognition", text_recognition)):
        if size not in PP_OCR_STAGE_SIZES:
            raise InvalidInputError(
                f"unsupported {field} {size!r}: supported are {', '.join(PP_OCR_STAGE_SIZES)}",
                details={"supported": list(PP_OCR_STAGE_SIZES)},
            )
    return OcrOptions(
        detect=text_detection != "none", recognize=text_recognition != "none", words=words
    )


@dataclass(frozen=True)
class OcrResult:
    """``lines`` (and ``words``) carry the recognized text in ``data["class_name"]`` (``""``
    without recognition), class id 0 and the recognition score as confidence (the detection
    score without recognition); ``text`` is every line joined by spaces. ``words`` is ``None``
    unless the read asked for words."""

    text: str
    lines: sv.Detections
    words: sv.Detections | None = None


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


def read_text(
    image_bgr: npt.NDArray[np.uint8],
    options: OcrOptions | None = None,
    engine: OcrEngine | None = None,
) -> OcrResult:
    """Read the text in a BGR image; an image without text gives an empty result."""
    options = options or OcrOptions()
    lines = (engine or ocr_engine()).read(
        image_bgr, detect=options.detect, recognize=options.recognize, words=options.words
    )
    words = [word for line in lines for word in line.words] if options.words else None
    return OcrResult(
        text=" ".join(line.text for line in lines if line.text),
        lines=_detections(lines),
        words=None if words is None else _detections(words),
    )
