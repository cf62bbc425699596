"""A short-lived memory of registry lookups that found something (``LookupCache``).

Every inference resolves its model id to a version record; without this that is a database
round trip per model call (two per request for a detect-then-classify workflow). Only found
records are kept, so a model registered by another process (the CLI, another replica) answers
on its next request; a kept record lives ``ttl_s`` seconds at most, which bounds how long
another process's deletion goes unseen where no change notice reaches this one (SQLite). Writes
through this process's registry, and PostgreSQL change notices from others, drop entries at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

__all__ = ["LookupCache"]

V = TypeVar("V")

# Distinct lookups kept at most (model ids x the workspaces they were looked up from).
MAX_ENTRIES = 4096


class LookupCache(Generic[V]):
    """Thread-safe; ``ttl_s == 0`` keeps nothing (every lookup loads)."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s}")
        self.ttl_s = ttl_s
        self._entries: TTLCache[Hashable, V] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl_s, timer=timer) if ttl_s > 0 else None
        )
        self._lock = threading.Lock()
        # Bumped by every ``clear``: a load that started before a clear is not kept after it
        # (it may have read what the write just changed).
        self._generation = 0

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The kept value of ``key``, else ``load()`` (kept when not ``None``)."""
        if self._entries is None:
            return load()
        with self._lock:
            found = self._entries.get(key)
            generation = self._generation
        if found is not None:
            return found
        value = load()
        if value is not None:
            with self._lock:
                if generation == self._generation:
                    self._entries[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            if self._entries is not None:
                self._entries.clear()
