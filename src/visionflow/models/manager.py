"""ModelManager: lazy loading under a per-model lock, an LRU of loaded models, load times."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
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
    """Keeps at most ``max_loaded`` models; evicts the least recently used beyond that.

    Two concurrent first requests for one key load it once: the second waits on the key's lock.
    Loads of different keys proceed in parallel.
    """

    def __init__(
        self,
        max_loaded: int = 8,
        clock: Callable[[], float] = time.perf_counter,
        listener: ManagerListener | None = None,
    ):
        if max_loaded < 1:
            raise ValueError("max_loaded must be >= 1")
        self._max_loaded = max_loaded
        self._clock = clock
        self._listener = listener
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

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
            entry = LoadedModel(key, model, self._clock() - started, time.time())
            evicted: list[str] = []
            with self._lock:
                self._models[key] = entry
                self._models.move_to_end(key)
                while len(self._models) > self._max_loaded:
                    evicted.append(self._models.popitem(last=False)[0])
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
