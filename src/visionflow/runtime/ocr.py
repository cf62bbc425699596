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

    def read(self, image_bgr: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """Lines of text, top to bottom, each with its words (BGR ``H×W×3`` input)."""
        with self._lock:
            output = self._engine(np.ascontiguousarray(image_bgr), return_word_box=True)
        texts = getattr(output, "txts", None) or ()
        boxes = getattr(output, "boxes", None)
        scores = getattr(output, "scores", None) or ()
        word_results = getattr(output, "word_results", None) or ()
        lines: list[OcrLine] = []
        for index, text in enumerate(texts):
            if not str(text).strip():
                continue
            polygon = _polygon(boxes[index]) if boxes is not None else ()
            score = float(scores[index]) if index < len(scores) else 0.0
            words: list[OcrWord] = []
            if index < len(word_results):
                for word_text, word_score, word_box in word_results[index]:
                    if str(word_text).strip():
                        words.append(
                            OcrWord(str(word_text).strip(), float(word_score), _polygon(word_box))
                        )
            if not words:
                words = [OcrWord(str(text).strip(), score, polygon)]
            lines.append(OcrLine(str(text).strip(), score, polygon, tuple(words)))
        return lines


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
