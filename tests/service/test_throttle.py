"""The GCRA rate limiter on a fake clock."""

from __future__ import annotations

import pytest

from visionflow.service.throttle import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("limit", "window_s"),
    [
        pytest.param(1, 1.0, id="one-per-second"),
        pytest.param(20, 10.0, id="auth-default"),
        pytest.param(600, 60.0, id="per-minute"),
    ],
)
def test_a_burst_of_limit_then_refused_until_one_interval(limit: int, window_s: float) -> None:
    clock = Clock()
    limiter = RateLimiter(limit, window_s, clock=clock)
    assert [limiter.acquire("k") for _ in range(limit)] == [None] * limit
    wait = limiter.acquire("k")
    assert wait == pytest.approx(window_s / limit)
    clock.now += wait
    assert limiter.acquire("k") is None
    assert limiter.acquire("other") is None  # keys are independent


def test_steady_rate_is_sustained() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 1.0, clock=clock)
    allowed = 0
    for _ in range(1000):  # 10 s at 100 attempts per second
        clock.now += 0.01
        allowed += limiter.acquire("k") is None
    assert 100 <= allowed <= 110  # the rate (10/s) plus the first burst


def test_hit_counts_refused_events_but_banks_at_most_one_window() -> None:
    clock = Clock()
    limiter = RateLimiter(20, 10.0, clock=clock)
    assert limiter.retry_after("addr") is None
    for _ in range(500):  # a flood of failures
        limiter.hit("addr")
    wait = limiter.retry_after("addr")
    assert wait is not None
    assert 0 < wait <= 0.5 + 1e-9
    clock.now += 10.0
    assert limiter.retry_after("addr") is None


def test_tracked_keys_are_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60.0, clock=clock, max_keys=10)
    for index in range(100):
        limiter.acquire(f"k{index}")
    assert limiter.acquire("k0") is None  # forgotten, so allowed again
    assert limiter.acquire("k99") is not None


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0, 1.0)
