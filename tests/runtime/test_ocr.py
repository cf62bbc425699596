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


class _RecordingFactory:
    """Makes recording pipelines and notes the params each was built with."""

    def __init__(self) -> None:
        self.pipelines: list[_RecordingPipeline] = []
        self.params: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> _RecordingPipeline:
        self.params.append(params)
        self.pipelines.append(_RecordingPipeline())
        return self.pipelines[-1]


@pytest.mark.parametrize("engines", [1, 2, 3])
def test_each_pipeline_runs_one_call_at_a_time_on_its_own_thread(engines: int) -> None:
    factory = _RecordingFactory()
    engine = OcrEngine(engines, factory)
    image = np.full((32, 64, 3), 255, dtype=np.uint8)

    with ThreadPoolExecutor(max_workers=16) as callers:
        results = list(callers.map(lambda _: engine.read(image), range(64)))

    assert all([line.text for line in lines] == ["fuzz"] for lines in results)
    assert len(factory.pipelines) == engines  # grown on demand, never past the bound
    for pipeline in factory.pipelines:
        assert len(pipeline.threads) == 1
        assert threading.get_ident() not in pipeline.threads
        assert pipeline.most_running == 1
    stats = engine.stats()
    # Concurrent callers overlap on the pool (not timed: the most calls that ran at once).
    assert (stats.engines, stats.built, stats.busy, stats.peak_busy) == (
        engines,
        engines,
        0,
        engines,
    )


def test_a_pool_splits_the_cores_between_its_pipelines() -> None:
    factory = _RecordingFactory()
    OcrEngine(1, factory)
    OcrEngine(2, factory)

    assert "EngineConfig.onnxruntime.intra_op_num_threads" not in factory.params[0]
    assert factory.params[1]["EngineConfig.onnxruntime.intra_op_num_threads"] >= 1


def test_a_pool_needs_an_engine() -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_OCR_ENGINES"):
        OcrEngine(0, _RecordingFactory())


def test_an_error_of_the_pipeline_reaches_the_caller_and_frees_the_pipeline() -> None:
    def failing(image: Any, **_flags: Any) -> None:
        raise RuntimeError("the model failed")

    engine = OcrEngine(1, lambda _params: failing)
    for _ in range(2):  # the pipeline is back in the pool after the failure
        with pytest.raises(RuntimeError, match="the model failed"):
            engine.read(np.zeros((8, 8, 3), dtype=np.uint8))
    assert engine.stats().busy == 0


def test_real_pp_ocr_requests_run_concurrently() -> None:
    # Real rapidocr pipelines: two callers released together overlap on a pool of two.
    pytest.importorskip("rapidocr")
    import cv2

    engine = OcrEngine(2)
    image = np.full((80, 360, 3), 255, dtype=np.uint8)
    cv2.putText(image, "HELLO 2024", (10, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    start = threading.Barrier(2)

    def reads(_: int) -> list[str]:
        start.wait(timeout=30)
        return [" ".join(line.text for line in engine.read(image)) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=2) as callers:
        texts = [text for batch in callers.map(reads, range(2)) for text in batch]

    assert all("HELLO" in text for text in texts), texts
    assert engine.stats().built == 2
    assert engine.stats().peak_busy == 2
