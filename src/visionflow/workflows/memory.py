"""What stateful blocks remember from one run of a workflow to the next, in this process.

The reference keeps such state on its block objects, which live as long as its execution engine:
one HTTP request on its server, a whole video in ``InferencePipeline``. Here the executor is long
lived and hands each run a ``MemoryScope`` for the caller's workspace and the workflow's
definition hash, so a ``data_aggregator`` aggregates over successive requests and a tracker fed
frames of one video (``video_identifier``) request by request keeps its tracks. Two workspaces
never share state, nor do two definitions.

Entries are bounded (least recently used dropped first) and expire after ``idle_ttl_s`` without
use. Each entry has its own lock, held while a block reads and updates it, so concurrent runs of
one workflow update its state one at a time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["MemoryScope", "StepMemory"]

T = TypeVar("T")
Key = tuple[Hashable, ...]


@dataclass
class _Entry:
    value: Any
    used_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class StepMemory:
    """Process-wide, bounded store of block state keyed by tuples."""

    def __init__(
        self,
        max_entries: int = 4096,
        idle_ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.idle_ttl_s = idle_ttl_s
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def scope(self, *prefix: Hashable) -> MemoryScope:
        """A view whose keys are all prefixed by ``prefix`` (workspace, definition hash)."""
        return MemoryScope(self, tuple(prefix))

    def _entry(self, key: Key, factory: Callable[[], Any]) -> _Entry:
        now = self._clock()
        with self._lock:
            while self._entries:
                oldest_key, oldest = next(iter(self._entries.items()))
                if now - oldest.used_at <= self.idle_ttl_s:
                    break
                del self._entries[oldest_key]
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(factory(), now)
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                entry.used_at = now
                self._entries.move_to_end(key)
            return entry

    @contextmanager
    def hold(self, key: Key, factory: Callable[[], T]) -> Iterator[T]:
        """The value at ``key`` (``factory()`` when there is none), locked while in use."""
        entry = self._entry(key, factory)
        with entry.lock:
            yield entry.value

    def forget(self, key: Key) -> None:
        with self._lock:
            self._entries.pop(key, None)


@dataclass(frozen=True)
class MemoryScope:
    """``StepMemory`` seen through a key prefix; what a block gets in ``RunContext.memory``."""

    memory: StepMemory
    prefix: Key

    def hold(self, key: Key, factory: Callable[[], T]) -> AbstractContextManager[T]:
        return self.memory.hold((*self.prefix, *key), factory)

    def forget(self, key: Key) -> None:
        self.memory.forget((*self.prefix, *key))
