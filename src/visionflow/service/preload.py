"""Prewarming: the workflow block catalog and the models named in ``VISIONFLOW_PRELOAD_MODELS``
are loaded in the background when a serving process starts, so that the first workflow and the
models' first requests are not cold starts.

The server answers requests meanwhile (a request for a model being preloaded waits on that
model's load lock instead of loading it twice). A model that is not registered, or whose load
fails, is logged and skipped: the start never fails because of a preload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from visionflow.errors import VisionflowError
from visionflow.service.inference import InferenceService
from visionflow.store import Registry
from visionflow.workflows import BlockRegistry

__all__ = ["PreloadOutcome", "Preloader", "qualified_keys"]

log = logging.getLogger("visionflow.preload")


def qualified_keys(model_ids: Sequence[str], demo_workspace: str) -> list[str]:
    """Manager keys (``workspace/project/version``) of model ids; a bare ``project/version``
    means the demo workspace's."""
    return [name if name.count("/") == 2 else f"{demo_workspace}/{name}" for name in model_ids]


@dataclass(frozen=True)
class PreloadOutcome:
    key: str
    loaded: bool
    seconds: float
    # Why it was not loaded (None when it was).
    problem: str | None = None


class Preloader:
    """Loads ``keys`` one after another where the executor runs models (this process, or the
    Ray Serve model tier), then ``blocks`` (when given)."""

    def __init__(
        self,
        registry: Registry,
        inference: InferenceService,
        keys: Sequence[str],
        blocks: BlockRegistry | None = None,
        blocks_delay_s: float = 3.0,
    ) -> None:
        self._registry = registry
        self._inference = inference
        self._blocks = blocks
        self.blocks_delay_s = blocks_delay_s
        self._stopped = threading.Event()
        self.keys = tuple(keys)
        self._outcomes: list[PreloadOutcome] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def outcomes(self) -> list[PreloadOutcome]:
        with self._lock:
            return list(self._outcomes)

    def start(self) -> None:
        """Preload on a daemon thread (once)."""
        if self._thread is None and (self.keys or self._blocks is not None):
            self._thread = threading.Thread(target=self.run, name="visionflow-preload", daemon=True)
            self._thread.start()

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> list[PreloadOutcome]:
        """The models first (asked for), then, ``blocks_delay_s`` after the start, the block
        catalog: its ~1 s of Python imports would otherwise hold the interpreter while the first
        requests arrive (measured: start to first detection 2.2 s without it, 2.5 s with it
        loading at once). A workflow compiled before then loads the catalog itself."""
        started = time.monotonic()
        for index, key in enumerate(self.keys, start=1):
            outcome = self._preload(key)
            with self._lock:
                self._outcomes.append(outcome)
            if outcome.loaded:
                log.info(
                    "preloaded %s in %.2f s (%d/%d)", key, outcome.seconds, index, len(self.keys)
                )
            else:
                log.warning("cannot preload %s: %s", key, outcome.problem)
        if self._blocks is not None:
            self._stopped.wait(max(0.0, self.blocks_delay_s - (time.monotonic() - started)))
            if not self._stopped.is_set():
                self._load_blocks(self._blocks)
        return self.outcomes

    def stop(self) -> None:
        """Skip what has not started yet (the server is shutting down)."""
        self._stopped.set()

    @staticmethod
    def _load_blocks(blocks: BlockRegistry) -> None:
        started = time.perf_counter()
        try:
            count = blocks.load()
        except Exception:  # the first compile reports the same error to its caller
            log.exception("loading the workflow blocks failed")
        else:
            log.info("loaded %d workflow blocks in %.2f s", count, time.perf_counter() - started)

    def _preload(self, key: str) -> PreloadOutcome:
        started = time.perf_counter()
        workspace, project, version = key.split("/")
        try:
            record = self._registry.find_model_version(workspace, project, int(version))
            if record is None:
                return PreloadOutcome(
                    key, False, 0.0, "not registered (VISIONFLOW_PRELOAD_MODELS names it)"
                )
            self._inference.executor.prepare(record)
        except VisionflowError as exc:
            return PreloadOutcome(key, False, time.perf_counter() - started, exc.message)
        except Exception as exc:  # a preload must never take the server down
            log.exception("preloading %s failed", key)
            return PreloadOutcome(key, False, time.perf_counter() - started, repr(exc))
        return PreloadOutcome(key, True, time.perf_counter() - started)
