"""Text detection + recognition with the PP-OCR ONNX models shipped in the ``rapidocr`` wheel.

``rapidocr`` runs its models through onnxruntime itself, which is why it lives in this layer. The
engine is a small bounded pool of rapidocr pipelines, built lazily, once per process: rapidocr
keeps per-call state on a pipeline object, so each pipeline serves one call at a time on one
thread of its own, and up to ``engines`` calls run at once (one pipeline behind a lock left four
concurrent clients at ~1.1x one client's throughput)."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.errors import ServiceUnavailableError

__all__ = [
    "OCR_EXTRA",
    "OcrEngine",
    "OcrLine",
    "OcrPoolStats",
    "OcrWord",
    "Polygon",
    "configure_ocr_engines",
    "ocr_engine",
]

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


@dataclass(frozen=True)
class OcrPoolStats:
    """``engines``: the pool's bound; ``built``: pipelines made so far; ``busy``: calls running
    now; ``peak_busy``: the most calls that ever ran at once."""

    engines: int
    built: int
    busy: int
    peak_busy: int


def _rapidocr_factory() -> Callable[[dict[str, Any]], Any]:
    try:
        from rapidocr import RapidOCR
    except ImportError:
        raise ServiceUnavailableError(
            "OCR needs the 'rapidocr' package (rapidocr==3.10.0, which ships the PP-OCR "
            f"models): install it with pip install 'visionflow[{OCR_EXTRA}]'"
        ) from None

    def build(params: dict[str, Any]) -> Any:
        return RapidOCR(params=params)

    return build


class _Pipeline:
    """One rapidocr pipeline and the one thread that runs it: onnxruntime keeps working buffers
    per calling thread, so request threads calling in directly would each hold a set (40
    threads: +0.7 GB of RSS for PP-OCR alone)."""

    def __init__(self, engine: Any, index: int) -> None:
        self.engine = engine
        self.runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"visionflow-ocr{index}")


class OcrEngine:
    """A pool of at most ``engines`` rapidocr pipelines (detector + recognizer), each one call
    at a time. ``read`` is safe from several threads; a call waits for a free pipeline. The
    first pipeline is built at construction, the others when every built one is busy.

    Each pipeline's onnxruntime sessions get ``cpu_count // engines`` intra-op threads (at least
    one), so a full pool does not oversubscribe the cores.
    """

    def __init__(
        self, engines: int = 1, factory: Callable[[dict[str, Any]], Any] | None = None
    ) -> None:
        """``factory(params)`` makes one pipeline (default: ``rapidocr.RapidOCR(params=...)``)."""
        if engines < 1:
            raise ValueError(
                "an OCR engine pool needs at least one engine (VISIONFLOW_OCR_ENGINES)"
            )
        self._factory = factory or _rapidocr_factory()
        self._engines = engines
        self._threads = max(1, (os.cpu_count() or 1) // engines)
        self._idle: queue.LifoQueue[_Pipeline] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._built = 0
        self._busy = 0
        self._peak_busy = 0
        self._idle.put(self._build())

    def _build(self) -> _Pipeline:
        params = dict(_PARAMS)
        if self._engines > 1:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self._threads
        with self._lock:
            index = self._built
            self._built += 1
        try:
            return _Pipeline(self._factory(params), index)
        except BaseException:
            with self._lock:
                self._built -= 1
            raise

    def _acquire(self) -> _Pipeline:
        try:
            pipeline = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._built < self._engines
            pipeline = self._build() if grow else self._idle.get()
        with self._lock:
            self._busy += 1
            self._peak_busy = max(self._peak_busy, self._busy)
        return pipeline

    def _release(self, pipeline: _Pipeline) -> None:
        with self._lock:
            self._busy -= 1
        self._idle.put(pipeline)

    def stats(self) -> OcrPoolStats:
        with self._lock:
            return OcrPoolStats(self._engines, self._built, self._busy, self._peak_busy)

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
        pipeline = self._acquire()
        try:
            output = pipeline.runner.submit(
                pipeline.engine,
                padded,
                use_det=detect,
                use_cls=False,
                use_rec=recognize,
                return_word_box=words and detect and recognize,
            ).result()
        finally:
            self._release(pipeline)
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
_engines = 2


def configure_ocr_engines(engines: int) -> None:
    """The pool size of the process-wide engine (``Settings.ocr_engines``); takes effect when
    the engine is built, on first use."""
    global _engines
    if engines < 1:
        raise ValueError("VISIONFLOW_OCR_ENGINES must be at least 1")
    _engines = engines


def ocr_engine() -> OcrEngine:
    """The process-wide engine, built on first use."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = OcrEngine(_engines)
    return _instance
