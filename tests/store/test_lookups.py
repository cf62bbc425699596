"""LookupCache: found values are kept for their time to live, misses never, and a load that
overlaps a ``clear`` (a write) is not kept."""

from __future__ import annotations

import pytest

from visionflow.store.lookups import LookupCache


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Source:
    """Counts loads; answers ``value``."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.loads = 0

    def __call__(self) -> str | None:
        self.loads += 1
        return self.value


def test_a_found_value_is_kept_until_its_time_to_live_ends() -> None:
    clock = _Clock()
    cache: LookupCache[str] = LookupCache(5.0, timer=clock)
    source = _Source("v1")
    assert [cache.get("k", source) for _ in range(3)] == ["v1"] * 3
    assert source.loads == 1
    clock.now = 4.9
    source.value = "v2"
    assert cache.get("k", source) == "v1"
    clock.now = 5.1
    assert cache.get("k", source) == "v2"
    assert source.loads == 2


def test_misses_are_never_kept() -> None:
    cache: LookupCache[str] = LookupCache(60.0)
    source = _Source(None)
    assert cache.get("k", source) is None
    source.value = "registered since"
    assert cache.get("k", source) == "registered since"
    assert source.loads == 2


def test_keys_are_apart_and_clear_forgets_all() -> None:
    cache: LookupCache[str] = LookupCache(60.0)
    assert cache.get("a", lambda: "A") == "A"
    assert cache.get("b", lambda: "B") == "B"
    assert cache.get("a", lambda: "other") == "A"
    cache.clear()
    assert cache.get("a", lambda: "new") == "new"


def test_no_time_to_live_keeps_nothing() -> None:
    cache: LookupCache[str] = LookupCache(0.0)
    source = _Source("v")
    cache.get("k", source)
    cache.get("k", source)
    assert source.loads == 2


def test_a_load_overlapping_a_clear_is_not_kept() -> None:
    cache: LookupCache[str] = LookupCache(60.0)

    def stale_load() -> str:
        cache.clear()  # a write commits while this load reads
        return "read before the write"

    assert cache.get("k", stale_load) == "read before the write"
    assert cache.get("k", lambda: "after") == "after"


def test_a_negative_time_to_live_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s must be >= 0"):
        LookupCache(-1.0)
