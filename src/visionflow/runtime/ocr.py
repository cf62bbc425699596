"""Text detection + recognition with the PP-OCR ONNX models shipped in the ``rapidocr`` wheel.

``rapidocr`` runs its models through onnxruntime itself, which is why it lives in this layer. The
engine is built lazily, once per process, and calls are serialized (rapidocr keeps per-call state
on the engine object) on one thread of its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
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

# rapidocr first shrinks an image to a 2000 px longest side and rounds both sides to multiples
# of 32, failing when the short side rounds to 0 (longer than ~125:1). Narrower images are padded
# (bottom/right, edge pixels repeated, so coordinates stay put) up to this aspect ratio.
_MAX_ASPECT = 100

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


def _polygon(points: Any, size_wh: tuple[int, int] | None = None) -> Polygon:
    """Points of a box as ``(x, y)`` floats, clipped to ``size_wh`` when given."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if size_wh is not None:
        array = np.clip(array, 0.0, np.array(size_wh, dtype=np.float64))
    return tuple((float(x), float(y)) for x, y in array)


def _padded(image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``image_bgr`` padded on the bottom or right to at most ``_MAX_ASPECT``:1 (see above)."""
    height, width = image_bgr.shape[:2]
    short_px = -(-max(height, width) // _MAX_ASPECT)
    if min(height, width) >= short_px:
        return image_bgr
    bottom_px = max(short_px - height, 0)
    right_px = max(short_px - width, 0)
    padded = cv2.copyMakeBorder(image_bgr, 0, bottom_px, 0, right_px, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded, dtype=np.uint8)


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
        # Calls run in turn on this one thread, never on the caller's: onnxruntime keeps working
        # buffers per calling thread, so the server's request threads each calling in held one
        # set each (40 threads: +0.7 GB of RSS for PP-OCR alone).
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visionflow-ocr")

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
        height, width = image.shape[:2]
        padded = _padded(image)
        # Boxes found on a padded image are clipped back to the image itself.
        clip_wh = (width, height) if padded is not image else None
        # Every flag is passed on every call: rapidocr keeps the last call's flags.
        output = self._runner.submit(
            self._engine,
            padded,
            use_det=detect,
            use_cls=False,
            use_rec=recognize,
            return_word_box=words and detect and recognize,
        ).result()
        texts = getattr(output, "txts", None)
        boxes = getattr(output, "boxes", None)
        scores = getattr(output, "scores", None) or ()
        if not recognize:
            texts = ("",) * (0 if boxes is None else len(boxes))
        if not detect:
            boxes = [[(0, 0), (width, 0), (width, height), (0, height)]] * len(texts or ())
        word_results = getattr(output, "word_results", None) if words else None
        lines: list[OcrLine] = []
        for index, raw_text in enumerate(texts or ()):
            text = str(raw_text).strip()
            if recognize and not text:
                continue
            polygon = _polygon(boxes[index], clip_wh) if boxes is not None else ()
            score = float(scores[index]) if index < len(scores) else 0.0
            found = (
                _words(word_results[index], clip_wh)
                if word_results and detect and recognize
                else []
            )
            if words and not found:
                found = [OcrWord(text, score, polygon)]
            lines.append(OcrLine(text, score, polygon, tuple(found)))
        return lines


def _words(results: Any, size_wh: tuple[int, int] | None) -> list[OcrWord]:
    """The words of one line from rapidocr's ``(text, score, box)`` triples."""
    if not isinstance(results, tuple | list):
        return []
    return [
        OcrWord(str(text).strip(), float(score), _polygon(box, size_wh))
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
