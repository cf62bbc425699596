"""What stateful blocks remember from one run of a workflow to the next, in this process.

The reference keeps such state on its block objects, which live as long as its execution engine:
one HTTP request on its server, a whole video in ``InferencePipeline``. Here the executor is long
lived and hands each run a ``MemoryScope`` for the caller's workspace and the workflow's
definition hash, so a ``data_aggregator`` aggregates over successive requests and a tracker fed
frames of one video (``video_identifier``) request by request keeps its tracks. Two workspaces
never share state, nor do two definitions.

Entries are bounded in count and in bytes (least recently used dropped first) and expire after
``idle_ttl_s`` without use. An entry's bytes are measured each time a block has used it
(``state_bytes``: the arrays and byte strings it holds, plus a small cost per object), so image-
sized state (heatmaps, background models) cannot grow the process without bound however many
video ids clients invent; the entry just used is always kept. Each entry has its own lock, held
while a block reads and updates it, so concurrent runs of one workflow update its state one at a
time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

__all__ = ["MemoryScope", "StepMemory", "state_bytes"]

T = TypeVar("T")
Key = tuple[Hashable, ...]


_OBJECT_BYTES = 64
_MAX_OBJECTS = 5_000


def state_bytes(value: object) -> int:
    """An estimate of what ``value`` holds: numpy arrays' and byte strings' lengths plus
    ``_OBJECT_BYTES`` per other object, walking containers and attributes (each object once; past
    ``_MAX_OBJECTS`` objects the rest is not looked into, a bounded cost per measure)."""
    seen: set[int] = set()
    stack: list[object] = [value]
    total = 0
    while stack and len(seen) < _MAX_OBJECTS:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += int(item.nbytes)
        elif isinstance(item, bytes | bytearray | str):
            total += len(item)
        elif isinstance(item, dict):
            total += _OBJECT_BYTES
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | deque):
            total += _OBJECT_BYTES
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            total += _OBJECT_BYTES
            stack.extend(vars(item).values())
        elif hasattr(item, "__slots__"):
            total += _OBJECT_BYTES
            stack.extend(getattr(item, slot) for slot in item.__slots__ if hasattr(item, slot))
        else:
            total += _OBJECT_BYTES
    return total


@dataclass
class _Entry:
    value: Any
    used_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    size: int = 0


class StepMemory:
    """Process-wide, bounded store of block state keyed by tuples."""

    def __init__(
        self,
        max_entries: int = 4096,
        idle_ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_bytes: int = 256 * 2**20,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.idle_ttl_s = idle_ttl_s
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        # The sum of the entries' sizes (kept as they change, not summed per use).
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes_held(self) -> int:
        """The entries' sizes as last measured."""
        with self._lock:
            return self._bytes

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
                self._drop(oldest_key)
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(factory(), now)
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._drop(next(iter(self._entries)))
            else:
                entry.used_at = now
                self._entries.move_to_end(key)
            return entry

    @contextmanager
    def hold(self, key: Key, factory: Callable[[], T]) -> Iterator[T]:
        """The value at ``key`` (``factory()`` when there is none), locked while in use."""
        entry = self._entry(key, factory)
        with entry.lock:
            try:
                yield entry.value
            finally:
                size = state_bytes(entry.value)
        with self._lock:
            if self._entries.get(key) is entry:  # not dropped meanwhile
                self._bytes += size - entry.size
            entry.size = size
            self._shrink(keep=entry)

    def _drop(self, key: Key) -> None:
        """Remove ``key``'s entry (under ``_lock``)."""
        self._bytes -= self._entries.pop(key).size

    def _shrink(self, keep: _Entry) -> None:
        """Drop least recently used entries (never ``keep``) while over ``max_bytes`` (under
        ``_lock``)."""
        if self._bytes <= self.max_bytes:
            return
        for key in list(self._entries):
            if self._bytes <= self.max_bytes:
                break
            if self._entries[key] is not keep:
                self._drop(key)

    def forget(self, key: Key) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key)


@dataclass(frozen=True)
class MemoryScope:
    """``StepMemory`` seen through a key prefix; what a block gets in ``RunContext.memory``."""

    memory: StepMemory
    prefix: Key

    def hold(self, key: Key, factory: Callable[[], T]) -> AbstractContextManager[T]:
        return self.memory.hold((*self.prefix, *key), factory)

    def forget(self, key: Key) -> None:
        self.memory.forget((*self.prefix, *key))
