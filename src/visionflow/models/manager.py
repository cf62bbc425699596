"""ModelManager: lazy loading under a per-model lock, an LRU of loaded models bounded by a count
and a memory budget in bytes, pinned models, load times."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from visionflow.models.base import Model

__all__ = ["LoadedModel", "ManagerListener", "ModelManager"]


@dataclass(frozen=True)
class LoadedModel:
    key: str
    model: Model
    load_time_s: float
    loaded_at: float
    # What the budget counts for it (``size_of``; 0 when unknown).
    size_bytes: int = 0


@dataclass(frozen=True)
class Acquired:
    """What ``get`` returns: the entry, and whether this call loaded it (a cold start)."""

    entry: LoadedModel
    cold_start: bool


class ManagerListener(Protocol):
    """Told of loads and evictions (metrics); called outside the manager's lock."""

    def model_loaded(self, model: str, seconds: float, loaded_now: int) -> None: ...

    def model_evicted(self, model: str, reason: str, loaded_now: int) -> None: ...


class ModelManager:
    """Keeps at most ``max_loaded`` models and, with ``max_bytes``, at most that many bytes of
    them (each model's size from ``size_of``); evicts the least recently used beyond either.

    Keys in ``pinned`` are never evicted (they count against the budget; ``remove``/``clear``
    still unload them). The model just loaded is never evicted by its own load, so one model
    larger than the budget still serves. Two concurrent first requests for one key load it once:
    the second waits on the key's lock. Loads of different keys proceed in parallel.
    """

    def __init__(
        self,
        max_loaded: int = 8,
        clock: Callable[[], float] = time.perf_counter,
        listener: ManagerListener | None = None,
        *,
        max_bytes: int | None = None,
        size_of: Callable[[Model], int] | None = None,
        pinned: Iterable[str] = (),
    ):
        if max_loaded < 1:
            raise ValueError("max_loaded must be >= 1")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be >= 1 (or None: no byte budget)")
        self._max_loaded = max_loaded
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._pinned = frozenset(pinned)
        self._clock = clock
        self._listener = listener
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def use_size_of(self, size_of: Callable[[Model], int]) -> None:
        """Measure models with ``size_of`` from now on (set once, while wiring)."""
        self._size_of = size_of

    @property
    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(entry.size_bytes for entry in self._models.values())

    def _over_budget(self) -> bool:
        if len(self._models) > self._max_loaded:
            return True
        if self._max_bytes is None:
            return False
        return sum(entry.size_bytes for entry in self._models.values()) > self._max_bytes

    def _evict_beyond_budget(self, keep: str) -> list[str]:
        """Least recently used first, skipping pinned keys and ``keep`` (under ``_lock``)."""
        evicted: list[str] = []
        for key in list(self._models):
            if not self._over_budget():
                break
            if key == keep or key in self._pinned:
                continue
            del self._models[key]
            evicted.append(key)
        return evicted

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def peek(self, key: str) -> LoadedModel | None:
        with self._lock:
            return self._models.get(key)

    def get(self, key: str, factory: Callable[[], Model]) -> Acquired:
        """The loaded model for ``key``, calling ``factory`` to load it if needed."""
        with self._lock:
            entry = self._models.get(key)
            if entry is not None:
                self._models.move_to_end(key)
                return Acquired(entry, cold_start=False)
        with self._key_lock(key):
            with self._lock:
                entry = self._models.get(key)
                if entry is not None:
                    self._models.move_to_end(key)
                    return Acquired(entry, cold_start=False)
            started = self._clock()
            model = factory()
            elapsed = self._clock() - started
            size = max(0, int(self._size_of(model))) if self._size_of is not None else 0
            entry = LoadedModel(key, model, elapsed, time.time(), size)
            with self._lock:
                self._models[key] = entry
                self._models.move_to_end(key)
                evicted = self._evict_beyond_budget(keep=key)
                loaded_now = len(self._models)
            if self._listener is not None:
                self._listener.model_loaded(key, entry.load_time_s, loaded_now)
                for gone in evicted:
                    self._listener.model_evicted(gone, "lru", loaded_now)
            return Acquired(entry, cold_start=True)

    def remove(self, key: str) -> bool:
        return self.clear(lambda candidate: candidate == key) > 0

    def clear(self, predicate: Callable[[str], bool] = lambda _key: True) -> int:
        with self._lock:
            doomed = [key for key in self._models if predicate(key)]
            for key in doomed:
                del self._models[key]
            loaded_now = len(self._models)
        if self._listener is not None:
            for key in doomed:
                self._listener.model_evicted(key, "unload", loaded_now)
        return len(doomed)

    def loaded(self) -> list[LoadedModel]:
        """Loaded models, least recently used first."""
        with self._lock:
            return list(self._models.values())
