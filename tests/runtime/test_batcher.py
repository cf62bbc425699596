"""The micro-batcher's guards (not timed): how many session runs N concurrent requests take when
batching is on, that a lone request runs at once on its own thread, and that merged results are
each caller's own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.support.batching import GatedRun, doubling_graph, wait_for
from visionflow.runtime import OnnxSession
from visionflow.runtime.batcher import RequestBatcher

Feeds = dict[str, np.ndarray]


@pytest.mark.parametrize(
    ("waiting", "max_batch", "expected_sizes"),
    [
        pytest.param(0, 8, [1], id="lone"),
        pytest.param(7, 8, [1, 7], id="queue-merged-into-one-run"),
        pytest.param(9, 4, [1, 4, 4, 1], id="queue-cut-at-max-batch"),
    ],
)
def test_requests_queued_behind_a_busy_session_share_its_next_run(
    tmp_path: Path, waiting: int, max_batch: int, expected_sizes: list[int]
) -> None:
    session = OnnxSession(doubling_graph(tmp_path / "d.onnx"))
    gated = GatedRun(session.run)
    batcher = RequestBatcher(gated, max_batch=max_batch)
    inputs = [np.full((1, 3), float(i), dtype=np.float32) for i in range(waiting + 1)]

    with ThreadPoolExecutor(max_workers=waiting + 1) as callers:
        first = callers.submit(batcher.run, {"x": inputs[0]})
        wait_for(lambda: len(gated.sizes) == 1)  # the session is busy with the first
        rest = [callers.submit(batcher.run, {"x": x}) for x in inputs[1:]]
        wait_for(lambda: batcher.stats().queue_depth == waiting)
        gated.release.set()
        results = [first.result(timeout=30)] + [f.result(timeout=30) for f in rest]

    assert gated.sizes == expected_sizes
    stats = batcher.stats()
    assert (stats.runs, stats.requests, stats.queue_depth) == (len(expected_sizes), waiting + 1, 0)
    # Each caller gets its own rows back.
    for x, outputs in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(outputs[0], 2 * x)


def test_a_lone_request_runs_at_once_on_its_callers_thread() -> None:
    # max_wait_s is an hour: a lone request that waited for company would hang the test.
    calls: list[int] = []

    def run(feeds: Feeds) -> list[np.ndarray]:
        calls.append(threading.get_ident())
        return [feeds["x"] * 2]

    batcher = RequestBatcher(run, max_batch=8, max_wait_s=3600)
    with ThreadPoolExecutor(max_workers=1) as caller:
        outputs = caller.submit(batcher.run, {"x": np.ones((1, 3), np.float32)}).result(timeout=30)
        caller_thread = caller.submit(threading.get_ident).result()

    assert calls == [caller_thread]
    np.testing.assert_array_equal(outputs[0], np.full((1, 3), 2, np.float32))


def test_an_error_reaches_every_merged_caller_and_the_batcher_recovers() -> None:
    def failing(feeds: Feeds) -> list[np.ndarray]:
        raise RuntimeError("graph failed")

    batcher = RequestBatcher(failing, max_batch=4)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="graph failed"):
            batcher.run({"x": np.ones((1, 3), np.float32)})
    assert batcher.stats().queue_depth == 0


@pytest.mark.parametrize(
    ("dynamic", "max_batch", "batching"),
    [
        pytest.param(True, 1, False, id="off"),
        pytest.param(True, 8, True, id="dynamic-batch-on"),
        pytest.param(False, 8, False, id="static-batch-never"),
    ],
)
def test_a_session_batches_only_dynamic_graphs_when_asked(
    tmp_path: Path, dynamic: bool, max_batch: int, batching: bool
) -> None:
    session = OnnxSession(
        doubling_graph(tmp_path / "d.onnx", dynamic_batch=dynamic), max_batch=max_batch
    )

    outputs = session.run({"x": np.ones((1, 3), np.float32)})

    np.testing.assert_array_equal(outputs[0], np.full((1, 3), 2, np.float32))
    stats = session.batcher_stats()
    assert (stats is not None) is batching
    if stats is not None:
        assert (stats.runs, stats.requests) == (1, 1)


def test_concurrent_requests_through_a_batching_session_get_their_own_rows(tmp_path: Path) -> None:
    session = OnnxSession(doubling_graph(tmp_path / "d.onnx"), max_batch=4)
    inputs = [np.full((1, 3), float(i), dtype=np.float32) for i in range(32)]

    with ThreadPoolExecutor(max_workers=8) as callers:
        results = list(callers.map(lambda x: session.run({"x": x}), inputs))

    for x, outputs in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(outputs[0], 2 * x)
    stats = session.batcher_stats()
    assert stats is not None
    assert stats.requests == 32
    assert stats.runs <= 32
    assert stats.largest_batch <= 4


def test_batcher_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_BATCH_MAX"):
        RequestBatcher(lambda feeds: [], max_batch=0)
    with pytest.raises(ValueError, match="VISIONFLOW_BATCH_WAIT_MS"):
        RequestBatcher(lambda feeds: [], max_batch=2, max_wait_s=-1)
