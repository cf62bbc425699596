"""Request-rate limits: the generic cell rate algorithm (GCRA), one timestamp per tracked key.

``RateLimiter(limit, window_s)`` lets at most ``limit`` events through in any ``window_s`` (a
burst of ``limit``, then one every ``window_s / limit``). Each key costs one float; at most
``max_keys`` keys are tracked (least recently seen dropped first), so a flood of distinct
addresses or keys cannot grow memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window_s > 0")
        self._interval = window_s / limit
        self._window = window_s
        self._clock = clock
        # key → theoretical arrival time of the next event under a steady rate.
        self._tat: LRUCache[str, float] = LRUCache(maxsize=max_keys)
        self._lock = threading.Lock()

    def _wait(self, key: str, now: float) -> tuple[float, float]:
        """(seconds until one more event is allowed, the TAT that event would leave)."""
        tat = max(self._tat.get(key, now), now) + self._interval
        return max(0.0, tat - now - self._window), tat

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may have another event, or ``None`` if it may now."""
        with self._lock:
            wait, _tat = self._wait(key, self._clock())
        return wait if wait > 0 else None

    def acquire(self, key: str) -> float | None:
        """Count an event for ``key`` if allowed (→ ``None``); else the seconds to wait."""
        with self._lock:
            wait, tat = self._wait(key, self._clock())
            if wait > 0:
                return wait
            self._tat[key] = tat
        return None

    def hit(self, key: str) -> None:
        """Count an event for ``key`` whether or not it was allowed (e.g. a failed login)."""
        with self._lock:
            now = self._clock()
            _wait, tat = self._wait(key, now)
            # Never bank more than one window of debt: a blocked key unblocks within it.
            self._tat[key] = min(tat, now + self._window)
