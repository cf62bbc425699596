"""The OCR engine's calls: one at a time, always on the engine's own thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from visionflow.runtime.ocr import OcrEngine


class _RecordingPipeline:
    """Stands in for rapidocr's pipeline: notes the thread of each call and any overlap."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.running = 0
        self.most_running = 0
        self._guard = threading.Lock()

    def __call__(self, image: Any, **_flags: Any) -> SimpleNamespace:
        with self._guard:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(0.002)
        with self._guard:
            self.running -= 1
        return SimpleNamespace(
            txts=("fuzz",), boxes=[[(0, 0), (4, 0), (4, 4), (0, 4)]], scores=[0.9]
        )


def test_calls_from_many_threads_run_one_at_a_time_on_one_thread() -> None:
    engine = OcrEngine()
    pipeline = _RecordingPipeline()
    engine._engine = pipeline
    image = np.full((32, 64, 3), 255, dtype=np.uint8)

    with ThreadPoolExecutor(max_workers=16) as callers:
        results = list(callers.map(lambda _: engine.read(image), range(64)))

    assert all([line.text for line in lines] == ["fuzz"] for lines in results)
    assert len(pipeline.threads) == 1
    assert threading.get_ident() not in pipeline.threads
    assert pipeline.most_running == 1


def test_an_error_of_the_pipeline_reaches_the_caller() -> None:
    engine = OcrEngine()

    def failing(image: Any, **_flags: Any) -> None:
        raise RuntimeError("the model failed")

    engine._engine = failing
    with pytest.raises(RuntimeError, match="the model failed"):
        engine.read(np.zeros((8, 8, 3), dtype=np.uint8))
