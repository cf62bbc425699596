"""Chrome-trace events of a workflow run (``chrome://tracing`` / Perfetto "JSON trace" format).

Each event has ``name``, ``ph`` (``B``/``E`` begin/end, ``X`` complete with ``dur``), ``ts`` and
``dur`` in microseconds, ``pid``, ``tid``, and optional ``cat`` and ``args``; names follow the
reference engine (``workflow_compilation``, ``step_execution`` ...).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Profiler"]

_CATEGORY = "execution_engine_operation"


def _now_us() -> int:
    return round(time.monotonic() * 1_000_000)


class Profiler:
    """Collects events when ``enabled``; otherwise every method is a no-op."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _add(self, event: dict[str, Any]) -> None:
        event.setdefault("pid", os.getpid())
        event.setdefault("tid", threading.get_native_id())
        with self._lock:
            self._events.append(event)

    def mark(self, name: str, phase: str) -> None:
        """A ``B`` (begin) or ``E`` (end) event."""
        if self.enabled:
            self._add({"name": name, "ph": phase, "ts": _now_us(), "cat": _CATEGORY})

    @contextmanager
    def phase(self, name: str, **args: Any) -> Iterator[dict[str, Any]]:
        """A complete (``X``) event spanning the ``with`` block; ``args`` (which the block may
        add to through the yielded dict) are attached."""
        if not self.enabled:
            yield args
            return
        start = _now_us()
        try:
            yield args
        finally:
            event: dict[str, Any] = {
                "name": name,
                "ph": "X",
                "ts": start,
                "dur": _now_us() - start,
                "cat": _CATEGORY,
            }
            if args:
                event["args"] = args
            self._add(event)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted(self._events, key=lambda event: int(event["ts"]))
