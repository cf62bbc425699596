"""What a pipeline reports in ``status``: throughput, latencies per source, completions, recent
events — the reference's ``PipelineStateReport`` fields, plus this server's counters."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from visionflow.streams._source import Frame, StatusUpdate

__all__ = ["Watchdog"]

_EVENTS_KEPT = 64
_LATENCIES_KEPT = 64
_FPS_WINDOW_S = 5.0
_FPS_TICKS_KEPT = 4096


@dataclass
class _Latency:
    decoding_s: float
    inference_s: float
    e2e_s: float


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class Watchdog:
    """Thread-safe counters of one pipeline (the worker writes, status readers read)."""

    def __init__(self, source_ids: Sequence[int]) -> None:
        self._lock = threading.Lock()
        self._events: deque[StatusUpdate] = deque(maxlen=_EVENTS_KEPT)
        self._latencies: dict[int, deque[_Latency]] = {
            i: deque(maxlen=_LATENCIES_KEPT) for i in source_ids
        }
        self._completed: dict[int, tuple[int, float | None, int | None]] = dict.fromkeys(
            source_ids, (0, None, None)
        )
        self._ticks: deque[float] = deque(maxlen=_FPS_TICKS_KEPT)
        self.frames_processed = 0
        self.errors = 0

    def on_update(self, update: StatusUpdate) -> None:
        with self._lock:
            self._events.append(update)

    def on_batch(self, frames: Sequence[Frame], started_at: datetime) -> None:
        """``frames`` went through the workflow, which started at ``started_at``."""
        now = datetime.now(tz=UTC)
        mono = time.monotonic()
        with self._lock:
            for frame in frames:
                self._latencies.setdefault(frame.source_id, deque(maxlen=_LATENCIES_KEPT)).append(
                    _Latency(
                        (started_at - frame.frame_timestamp).total_seconds(),
                        (now - started_at).total_seconds(),
                        (now - frame.frame_timestamp).total_seconds(),
                    )
                )
                done, _at, _last = self._completed.get(frame.source_id, (0, None, None))
                self._completed[frame.source_id] = (done + 1, mono, frame.frame_id)
                self._ticks.append(mono)
                self.frames_processed += 1

    def on_error(self, error: Exception) -> None:
        with self._lock:
            self.errors += 1
            self._events.append(
                StatusUpdate(
                    datetime.now(tz=UTC),
                    40,
                    "INFERENCE_ERROR",
                    {"error_type": type(error).__name__, "error_message": str(error)},
                    "inference_thread",
                )
            )

    def fps(self) -> float:
        """Frames through the workflow per second over the last few seconds."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._ticks if now - t <= _FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-6)
        return len(recent) / span

    def report(self, sources_metadata: list[dict[str, Any]]) -> dict[str, Any]:
        fps = self.fps()
        with self._lock:
            latency_reports = [
                {
                    "source_id": source_id,
                    "frame_decoding_latency": _mean([x.decoding_s for x in kept]),
                    "inference_latency": _mean([x.inference_s for x in kept]),
                    "e2e_latency": _mean([x.e2e_s for x in kept]),
                }
                for source_id, kept in self._latencies.items()
            ]
            completion = {
                "sampled_at_monotonic": time.monotonic(),
                "sources": [
                    {
                        "source_id": source_id,
                        "completed_frames": done,
                        "last_completed_at_monotonic": at,
                        "last_frame_id": last,
                    }
                    for source_id, (done, at, last) in self._completed.items()
                ],
            }
            events = [event.to_dict() for event in self._events]
        return {
            "video_source_status_updates": events,
            "latency_reports": latency_reports,
            "inference_throughput": fps,
            "sources_metadata": sources_metadata,
            "completion_statistics": completion,
        }
