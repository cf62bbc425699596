"""An inference pipeline: video sources → one worker thread that runs the workflow on a batch of
frames (at most one per source) → a bounded results buffer that ``consume`` empties.

Batches are collected as the reference does: the worker waits until every live source has a
frame, or ``batch_collection_timeout`` after the first one arrived (unset: at most
``_DEFAULT_BATCH_WAIT_S``), so a stalled stream never holds the others back for long. Results
are kept in order; when the buffer is full the oldest entry is dropped (and counted). When
every source has ended (end of file, a file that cannot be read) the pipeline is ``ENDED``: its
buffered results stay consumable until it is terminated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from visionflow.streams._source import (
    BufferConsumption,
    BufferFilling,
    Capture,
    Frame,
    FrameMetadata,
    SourceState,
    StatusUpdate,
    VideoSource,
    open_capture,
)
from visionflow.streams._watchdog import Watchdog

__all__ = ["Pipeline", "PipelineState", "Result", "Runner", "SourceSpec", "VideoOptions"]

log = logging.getLogger("visionflow.streams")

_DEFAULT_BATCH_WAIT_S = 5.0
_JOIN_TIMEOUT_S = 10.0

# One output dict per frame given, in order (values not yet serialized).
Runner = Callable[[Sequence[Frame]], Sequence[dict[str, Any]]]


class PipelineState(StrEnum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ENDED = "ENDED"
    TERMINATED = "TERMINATED"


@dataclass(frozen=True)
class SourceSpec:
    """``reference`` as the caller gave it; ``target`` what the decoder opens (a checked path,
    a URL pinned to its checked address)."""

    reference: str
    target: str
    is_file: bool


@dataclass(frozen=True)
class VideoOptions:
    buffer_size: int = 8
    filling: BufferFilling = BufferFilling.DROP_OLDEST
    consumption: BufferConsumption = BufferConsumption.EAGER
    max_fps: float | None = None
    properties: dict[str, float | str] | None = None
    batch_collection_timeout_s: float | None = None
    reconnect_max_s: float = 10.0


@dataclass(frozen=True)
class Result:
    """One batch: outputs and frames aligned with the pipeline's sources (``None`` where a
    source gave no frame)."""

    outputs: list[dict[str, Any] | None]
    frames: list[FrameMetadata | None]


class Pipeline:
    def __init__(
        self,
        pipeline_id: str,
        owner: str | None,
        sources: Sequence[SourceSpec],
        runner: Runner,
        *,
        options: VideoOptions,
        results_buffer_size: int,
        opener: Callable[[str], Capture] = open_capture,
    ) -> None:
        self.pipeline_id = pipeline_id
        self.owner = owner
        self._runner = runner
        self._options = options
        self._ready = threading.Condition()
        self.watchdog = Watchdog(range(len(sources)))
        self.sources = [
            VideoSource(
                source_id=i,
                reference=spec.reference,
                target=spec.target,
                is_file=spec.is_file,
                buffer_size=options.buffer_size,
                filling=options.filling,
                consumption=options.consumption,
                max_fps=options.max_fps,
                properties=options.properties,
                reconnect_max_s=options.reconnect_max_s,
                on_update=self.watchdog.on_update,
                frames_ready=self._ready,
                opener=opener,
            )
            for i, spec in enumerate(sources)
        ]
        self._results: deque[Result] = deque(maxlen=results_buffer_size)
        self._results_lock = threading.Lock()
        self.results_dropped = 0
        self.state = PipelineState.RUNNING
        # Monotonic seconds of the last call that named this pipeline, and of its end.
        self.last_called_s = time.monotonic()
        self.ended_s: float | None = None
        self._stop = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._worker = threading.Thread(
            target=self._run, name=f"visionflow-pipeline-{pipeline_id[:8]}", daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        for source in self.sources:
            source.start()
        self._worker.start()

    def pause(self) -> None:
        if self.state is not PipelineState.RUNNING:
            return
        self.state = PipelineState.PAUSED
        self._unpaused.clear()
        for source in self.sources:
            source.mute()
        self._event("PIPELINE_PAUSED")

    def resume(self) -> None:
        if self.state is not PipelineState.PAUSED:
            return
        self.state = PipelineState.RUNNING
        for source in self.sources:
            source.resume()
        self._unpaused.set()
        self._event("PIPELINE_RESUMED")

    def terminate(self) -> None:
        """Stop the sources and the worker (joined, each at most ``_JOIN_TIMEOUT_S``)."""
        self.state = PipelineState.TERMINATED
        self._stop.set()
        self._unpaused.set()
        for source in self.sources:
            source.stop(_JOIN_TIMEOUT_S)
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(_JOIN_TIMEOUT_S)

    # -- what callers read ------------------------------------------------------------------------
    def touch(self) -> None:
        """A caller named this pipeline (status, consume, pause...)."""
        self.last_called_s = time.monotonic()

    def idle_since_end_s(self, now_s: float) -> float | None:
        """Seconds since the pipeline ended or was last called, whichever is later; ``None``
        while it has not ended."""
        if self.state is not PipelineState.ENDED or self.ended_s is None:
            return None
        return now_s - max(self.ended_s, self.last_called_s)

    def consume(self) -> Result | None:
        """The oldest buffered result, or ``None``."""
        with self._results_lock:
            return self._results.popleft() if self._results else None

    @property
    def buffered(self) -> int:
        with self._results_lock:
            return len(self._results)

    @property
    def frames_dropped(self) -> int:
        return sum(s.dropped for s in self.sources) + self.results_dropped

    def report(self) -> dict[str, Any]:
        report = self.watchdog.report([s.describe() for s in self.sources])
        report.update(
            {
                "pipeline_state": self.state.value,
                "frames_processed": self.watchdog.frames_processed,
                "frames_dropped": self.frames_dropped,
                "results_buffered": self.buffered,
                "inference_errors": self.watchdog.errors,
            }
        )
        return report

    # -- the worker -------------------------------------------------------------------------------
    def _event(self, event_type: str) -> None:
        self.watchdog.on_update(
            StatusUpdate(
                datetime.now(tz=UTC),
                logging.INFO,
                event_type,
                {"pipeline_id": self.pipeline_id},
                "inference_pipeline",
            )
        )

    def _collect(self) -> list[Frame | None] | None:
        """One frame (or ``None``) per source; ``[]`` when stopped or paused meanwhile;
        ``None`` when every source has finished."""
        timeout_s = self._options.batch_collection_timeout_s
        wait_s = _DEFAULT_BATCH_WAIT_S if timeout_s is None else timeout_s
        deadline: float | None = None
        live = {SourceState.NOT_STARTED, SourceState.INITIALISING, SourceState.RUNNING}
        with self._ready:
            while True:
                if self._stop.is_set() or not self._unpaused.is_set():
                    return []
                ready = [s for s in self.sources if s.has_frame()]
                if not ready and all(s.finished for s in self.sources):
                    return None
                pending = [s for s in self.sources if not s.has_frame() and s.state in live]
                now = time.monotonic()
                if ready and (not pending or (deadline is not None and now >= deadline)):
                    return [s.take() for s in self.sources]
                if ready and deadline is None:
                    deadline = now + wait_s
                self._ready.wait(0.05 if deadline is None else max(0.0, min(0.05, deadline - now)))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._unpaused.wait(0.1):
                    continue
                frames = self._collect()
                if frames is None:
                    if self.state is not PipelineState.TERMINATED:
                        self.ended_s = time.monotonic()
                        self.state = PipelineState.ENDED
                        self._event("PIPELINE_ENDED")
                    return
                given = [f for f in frames if f is not None]
                if not given:
                    continue
                self._process(frames, given)
        except Exception:
            log.exception("pipeline %s stopped on an unexpected error", self.pipeline_id)
            self.ended_s = time.monotonic()
            self.state = PipelineState.ENDED

    def _process(self, frames: list[Frame | None], given: list[Frame]) -> None:
        started = datetime.now(tz=UTC)
        try:
            outputs = list(self._runner(given))
        except Exception as exc:  # one bad frame must not end a live stream
            log.warning("pipeline %s: workflow failed on a frame: %s", self.pipeline_id, exc)
            self.watchdog.on_error(exc)
            return
        self.watchdog.on_batch(given, started)
        by_source = {f.source_id: o for f, o in zip(given, outputs, strict=True)}
        result = Result(
            [
                by_source.get(s.source_id) if frames[i] is not None else None
                for i, s in enumerate(self.sources)
            ],
            [None if f is None else f.metadata() for f in frames],
        )
        with self._results_lock:
            if len(self._results) == self._results.maxlen:
                self.results_dropped += 1
            self._results.append(result)
