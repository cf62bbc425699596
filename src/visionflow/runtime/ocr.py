"""Text detection + recognition with the PP-OCR ONNX models shipped in the ``rapidocr`` wheel.

``rapidocr`` runs its models through onnxruntime itself, which is why it lives in this layer. The
engine is built lazily, once per process, and calls are serialized (rapidocr keeps per-call state
on the engine object)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.errors import ServiceUnavailableError

__all__ = ["OCR_EXTRA", "OcrEngine", "OcrLine", "OcrWord", "Polygon", "ocr_engine"]

OCR_EXTRA = "ocr"

# Faster than rapidocr's defaults with the same accuracy on printed text: the detector sees the
# image with its longest side at most 960 px, and the 180°-rotation classifier is skipped.
_PARAMS: dict[str, Any] = {
    "Det.limit_type": "max",
    "Det.limit_side_len": 960,
    "Global.use_cls": False,
    "Global.log_level": "critical",
}

Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrWord:
    text: str
    score: float
    polygon: Polygon


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    polygon: Polygon
    words: tuple[OcrWord, ...]


def _polygon(points: Any) -> Polygon:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return tuple((float(x), float(y)) for x, y in array)


class OcrEngine:
    """One rapidocr pipeline (detector + recognizer). ``read`` is safe from several threads."""

    def __init__(self) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise ServiceUnavailableError(
                "OCR needs the 'rapidocr' package (rapidocr==3.10.0, which ships the PP-OCR "
                f"models): install it with pip install 'visionflow[{OCR_EXTRA}]'"
            ) from None
        self._engine = RapidOCR(params=dict(_PARAMS))
        self._lock = threading.Lock()

    def read(
        self,
        image_bgr: npt.NDArray[np.uint8],
        *,
        detect: bool = True,
        recognize: bool = True,
        words: bool = False,
    ) -> list[OcrLine]:
        """Lines of text, top to bottom (BGR ``H×W×3`` input).

        ``detect=False``: the whole image is recognized as one line (its polygon is the image's
        outline). ``recognize=False``: the detected line boxes, each with text ``""`` and the
        detection score. ``words``: split recognized lines into word boxes (with both stages;
        otherwise, and whenever rapidocr gives no word boxes, a line is its own single word);
        without it ``OcrLine.words`` is empty.
        """
        if not (detect or recognize):
            raise ValueError("an OCR read needs detection, recognition or both")
        image = np.ascontiguousarray(image_bgr)
        with self._lock:
            # Every flag is passed on every call: rapidocr keeps the last call's flags.
            output = self._engine(
                image,
                use_det=detect,
                use_cls=False,
                use_rec=recognize,
                return_word_box=words and detect and recognize,
            )
        texts = getattr(output, "txts", None)
        boxes = getattr(output, "boxes", None)
        scores = getattr(output, "scores", None) or ()
        if not recognize:
            texts = ("",) * (0 if boxes is None else len(boxes))
        if not detect:
            height, width = image.shape[:2]
            boxes = [[(0, 0), (width, 0), (width, height), (0, height)]] * len(texts or ())
        word_results = getattr(output, "word_results", None) if words else None
        lines: list[OcrLine] = []
        for index, raw_text in enumerate(texts or ()):
            text = str(raw_text).strip()
            if recognize and not text:
                continue
            polygon = _polygon(boxes[index]) if boxes is not None else ()
            score = float(scores[index]) if index < len(scores) else 0.0
            found = _words(word_results[index]) if word_results and detect and recognize else []
            if words and not found:
                found = [OcrWord(text, score, polygon)]
            lines.append(OcrLine(text, score, polygon, tuple(found)))
        return lines


def _words(results: Any) -> list[OcrWord]:
    """The words of one line from rapidocr's ``(text, score, box)`` triples."""
    if not isinstance(results, tuple | list):
        return []
    return [
        OcrWord(str(text).strip(), float(score), _polygon(box))
        for text, score, box in results
        if str(text).strip()
    ]


_instance: OcrEngine | None = None
_instance_lock = threading.Lock()


def ocr_engine() -> OcrEngine:
    """The process-wide engine, built on first use."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = OcrEngine()
    return _instance
