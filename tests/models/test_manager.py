"""The manager is generic: any object stands in for a model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from visionflow.models.manager import ModelManager


class FakeClock:
    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeModel:
    def __init__(self, name: str) -> None:
        self.name = name


class CountingFactory:
    """Builds ``FakeModel``s, counting calls per key; optionally slow."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str) -> Callable[[], Any]:
        def build() -> FakeModel:
            with self._lock:
                self.calls[key] = self.calls.get(key, 0) + 1
            if self.delay_s:
                time.sleep(self.delay_s)
            return FakeModel(key)

        return build


def _keys(manager: ModelManager) -> list[str]:
    return [entry.key for entry in manager.loaded()]


def test_empty_manager() -> None:
    manager = ModelManager(max_loaded=2)

    assert manager.loaded() == []
    assert manager.peek("a") is None
    assert manager.remove("a") is False
    assert manager.clear() == 0


@pytest.mark.parametrize(
    "max_loaded", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")]
)
def test_max_loaded_must_be_positive(max_loaded: int) -> None:
    with pytest.raises(ValueError, match="max_loaded"):
        ModelManager(max_loaded=max_loaded)


def test_get_loads_once_and_reports_cold_start() -> None:
    manager = ModelManager()
    factory = CountingFactory()

    first = manager.get("a", factory("a"))
    second = manager.get("a", factory("a"))

    assert first.cold_start is True
    assert second.cold_start is False
    assert second.entry is first.entry
    assert first.entry.key == "a"
    assert isinstance(first.entry.model, FakeModel)
    assert factory.calls == {"a": 1}
    assert manager.peek("a") is first.entry


def test_load_time_uses_the_clock() -> None:
    clock = FakeClock()
    manager = ModelManager(clock=clock)

    def slow_factory() -> FakeModel:
        clock.advance(2.5)
        return FakeModel("a")

    acquired = manager.get("a", slow_factory)
    clock.advance(10)
    again = manager.get("a", slow_factory)

    assert acquired.entry.load_time_s == 2.5
    assert again.entry.load_time_s == 2.5  # a cache hit does not re-time the load
    assert acquired.entry.loaded_at > 0


def test_concurrent_first_requests_load_once() -> None:
    manager = ModelManager()
    factory = CountingFactory(delay_s=0.1)
    start = threading.Barrier(8)

    def request() -> Any:
        start.wait(timeout=5)
        return manager.get("same", factory("same"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=10) for f in [pool.submit(request) for _ in range(8)]]

    assert factory.calls == {"same": 1}
    assert sum(r.cold_start for r in results) == 1
    assert len({id(r.entry.model) for r in results}) == 1
    assert _keys(manager) == ["same"]


def test_different_keys_load_in_parallel() -> None:
    manager = ModelManager()
    keys = ["a", "b", "c", "d"]
    # Every factory waits until all of them are running: serialized loads would break the barrier.
    all_loading = threading.Barrier(len(keys), timeout=5)

    def factory_for(key: str) -> Callable[[], FakeModel]:
        def build() -> FakeModel:
            all_loading.wait()
            return FakeModel(key)

        return build

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        futures = [pool.submit(manager.get, key, factory_for(key)) for key in keys]
        results = [f.result(timeout=10) for f in futures]

    assert all(r.cold_start for r in results)
    assert sorted(_keys(manager)) == keys


def test_failed_load_is_not_cached_and_can_be_retried() -> None:
    manager = ModelManager()
    attempts: list[int] = []

    def flaky() -> FakeModel:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("weights missing")
        return FakeModel("a")

    with pytest.raises(RuntimeError, match="weights missing"):
        manager.get("a", flaky)
    assert manager.peek("a") is None

    acquired = manager.get("a", flaky)

    assert acquired.cold_start is True
    assert len(attempts) == 2


@pytest.mark.parametrize(
    ("max_loaded", "requests", "expected_loaded", "expected_loads"),
    [
        pytest.param(2, [], [], {}, id="empty"),
        pytest.param(2, ["a", "b"], ["a", "b"], {"a": 1, "b": 1}, id="under-limit"),
        pytest.param(2, ["a", "b", "c"], ["b", "c"], {"a": 1, "b": 1, "c": 1}, id="evicts-oldest"),
        pytest.param(
            2, ["a", "b", "a", "c"], ["a", "c"], {"a": 1, "b": 1, "c": 1}, id="get-refreshes"
        ),
        pytest.param(
            2, ["a", "b", "c", "a"], ["c", "a"], {"a": 2, "b": 1, "c": 1}, id="evicted-reloads"
        ),
        pytest.param(1, ["a", "b", "b", "a"], ["a"], {"a": 2, "b": 1}, id="limit-one"),
        pytest.param(
            3,
            ["a", "b", "c", "a", "d", "b", "e"],
            ["d", "b", "e"],
            {"a": 1, "b": 2, "c": 1, "d": 1, "e": 1},
            id="longer-sequence",
        ),
    ],
)
def test_lru_eviction(
    max_loaded: int,
    requests: list[str],
    expected_loaded: list[str],
    expected_loads: dict[str, int],
) -> None:
    manager = ModelManager(max_loaded=max_loaded)
    factory = CountingFactory()

    for key in requests:
        manager.get(key, factory(key))

    assert _keys(manager) == expected_loaded  # least recently used first
    assert factory.calls == expected_loads


def test_peek_does_not_refresh_recency() -> None:
    manager = ModelManager(max_loaded=2)
    factory = CountingFactory()
    manager.get("a", factory("a"))
    manager.get("b", factory("b"))

    assert manager.peek("a") is not None
    manager.get("c", factory("c"))

    assert _keys(manager) == ["b", "c"]


def test_remove() -> None:
    manager = ModelManager()
    factory = CountingFactory()
    manager.get("a", factory("a"))
    manager.get("b", factory("b"))

    assert manager.remove("a") is True
    assert manager.remove("a") is False
    assert _keys(manager) == ["b"]
    assert manager.get("a", factory("a")).cold_start is True
    assert factory.calls == {"a": 2, "b": 1}


@pytest.mark.parametrize(
    ("predicate", "removed", "left"),
    [
        pytest.param(None, 3, [], id="everything"),
        pytest.param(lambda key: key.startswith("ws1/"), 2, ["ws2/x"], id="by-prefix"),
        pytest.param(lambda key: False, 0, ["ws1/a", "ws2/x", "ws1/b"], id="nothing"),
    ],
)
def test_clear(predicate: Callable[[str], bool] | None, removed: int, left: list[str]) -> None:
    manager = ModelManager()
    factory = CountingFactory()
    for key in ["ws1/a", "ws2/x", "ws1/b"]:
        manager.get(key, factory(key))

    count = manager.clear() if predicate is None else manager.clear(predicate)

    assert count == removed
    assert _keys(manager) == left


SIZES = {"a": 40, "b": 30, "c": 50, "big": 500}


def _sized(model: Any) -> int:
    return SIZES[model.name]


@pytest.mark.parametrize(
    ("max_bytes", "pinned", "loads", "expected"),
    [
        pytest.param(None, (), ["a", "b", "c"], ["a", "b", "c"], id="no-byte-budget"),
        pytest.param(100, (), [], [], id="empty"),
        pytest.param(100, (), ["a", "b"], ["a", "b"], id="within-budget"),
        pytest.param(100, (), ["a", "b", "c"], ["b", "c"], id="lru-evicted-by-bytes"),
        pytest.param(100, ("a",), ["a", "b", "c"], ["a", "c"], id="pinned-kept"),
        pytest.param(100, (), ["a", "big"], ["big"], id="one-model-over-budget-still-serves"),
        pytest.param(100, ("a",), ["a", "big"], ["a", "big"], id="pinned-and-oversized"),
    ],
)
def test_a_byte_budget_evicts_least_recently_used_unpinned_models(
    max_bytes: int | None, pinned: tuple[str, ...], loads: list[str], expected: list[str]
) -> None:
    factory = CountingFactory()
    manager = ModelManager(max_loaded=8, max_bytes=max_bytes, size_of=_sized, pinned=pinned)

    for key in loads:
        manager.get(key, factory(key))

    assert _keys(manager) == expected
    assert manager.loaded_bytes == sum(SIZES[key] for key in expected)
    assert [entry.size_bytes for entry in manager.loaded()] == [SIZES[key] for key in expected]


def test_a_pinned_model_still_unloads_on_request() -> None:
    manager = ModelManager(max_loaded=1, pinned=("a",))
    manager.get("a", CountingFactory()("a"))

    assert manager.remove("a") is True
    assert _keys(manager) == []


def test_a_byte_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        ModelManager(max_bytes=0)
