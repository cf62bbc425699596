"""Cross-request micro-batching for one session: requests that arrive while the session is busy
are merged along the batch axis into its next run.

A lone request runs at once, on its caller's thread: nothing waits for company unless a queue
has already formed (then the next run may wait up to ``max_wait_s`` for it to reach
``max_batch`` rows). Whoever runs a batch hands the turn to the oldest waiting request when it is
done, so no caller serves other callers' batches after its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["BatcherStats", "RequestBatcher"]

Feeds = dict[str, npt.NDArray[np.generic]]
Outputs = list[npt.NDArray[np.generic]]


@dataclass
class _Job:
    feeds: Feeds
    rows: int
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    outputs: Outputs | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatcherStats:
    """``runs``: session runs made; ``requests``: calls served; ``queue_depth``: calls waiting
    now; ``largest_batch``: most rows merged into one run."""

    runs: int
    requests: int
    queue_depth: int
    largest_batch: int


class RequestBatcher:
    """Merges concurrent ``run(feeds)`` calls (each ``(B, ...)`` along axis 0 in every input)
    into runs of at most ``max_batch`` rows; every output must be batch-first."""

    def __init__(
        self, run: Callable[[Feeds], Outputs], max_batch: int, max_wait_s: float = 0.0
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1 (VISIONFLOW_BATCH_MAX)")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0 (VISIONFLOW_BATCH_WAIT_MS)")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._pending: list[_Job] = []
        self._busy = False
        self._runs = 0
        self._requests = 0
        self._largest = 0

    def stats(self) -> BatcherStats:
        with self._lock:
            return BatcherStats(self._runs, self._requests, len(self._pending), self._largest)

    def run(self, feeds: Feeds) -> Outputs:
        rows = int(next(iter(feeds.values())).shape[0]) if feeds else 1
        job = _Job(feeds, rows)
        with self._lock:
            self._pending.append(job)
            self._arrived.notify_all()
            if not self._busy:
                self._busy = True
                job.leads = True
        if not job.leads:
            job.wake.wait()
        if not job.done:
            self._lead()
        if job.error is not None:
            raise job.error
        assert job.outputs is not None
        return job.outputs

    def _take(self) -> list[_Job]:
        """The next batch from the head of the queue (under ``_lock``): whole requests while
        they fit in ``max_batch`` rows (the first one always)."""
        batch: list[_Job] = []
        total = 0
        for job in self._pending:
            if batch and total + job.rows > self.max_batch:
                break
            batch.append(job)
            total += job.rows
        del self._pending[: len(batch)]
        return batch

    def _lead(self) -> None:
        with self._lock:
            queued = sum(job.rows for job in self._pending)
            # Wait for company only where a queue already formed (never for a lone request).
            if self.max_wait_s > 0 and len(self._pending) > 1 and queued < self.max_batch:
                deadline = time.monotonic() + self.max_wait_s
                while sum(job.rows for job in self._pending) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
            batch = self._take()
        self._execute(batch)
        with self._lock:
            if self._pending:
                successor = self._pending[0]
                successor.leads = True
                successor.wake.set()
            else:
                self._busy = False

    def _execute(self, batch: list[_Job]) -> None:
        try:
            if len(batch) == 1:
                outputs = [self._run(batch[0].feeds)]
            else:
                merged = {
                    name: np.concatenate([job.feeds[name] for job in batch])
                    for name in batch[0].feeds
                }
                whole = self._run(merged)
                outputs = []
                start = 0
                for job in batch:
                    outputs.append([output[start : start + job.rows] for output in whole])
                    start += job.rows
            for job, result in zip(batch, outputs, strict=True):
                job.outputs = result
        except BaseException as error:  # every merged caller gets the failure
            for job in batch:
                job.error = error
        with self._lock:
            self._runs += 1
            self._requests += len(batch)
            self._largest = max(self._largest, sum(job.rows for job in batch))
        for job in batch:
            job.done = True
            job.wake.set()
