"""``StepMemory``: values made once per key, scoped by prefix, bounded, expiring when idle, and
updated by one holder at a time."""

from __future__ import annotations

import threading
import time

from visionflow.workflows.memory import StepMemory


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_keeps_its_value_and_the_factory_runs_once() -> None:
    memory = StepMemory()
    made: list[int] = []

    def factory() -> list[int]:
        made.append(1)
        return []

    for value in (1, 2, 3):
        with memory.hold(("step",), factory) as state:
            state.append(value)
    with memory.hold(("step",), list) as state:
        assert state == [1, 2, 3]
    assert made == [1]


def test_scopes_do_not_share_keys() -> None:
    memory = StepMemory()
    acme, globex = memory.scope("acme", "wf"), memory.scope("globex", "wf")
    with acme.hold(("s",), lambda: {"n": 1}) as state:
        state["n"] += 1
    with globex.hold(("s",), lambda: {"n": 1}) as state:
        assert state == {"n": 1}
    with acme.hold(("s",), lambda: {"n": 1}) as state:
        assert state == {"n": 2}
    acme.forget(("s",))
    with acme.hold(("s",), lambda: {"n": 1}) as state:
        assert state == {"n": 1}


def test_least_recently_used_entries_go_beyond_the_bound() -> None:
    memory = StepMemory(max_entries=2)
    for key in ("a", "b"):
        with memory.hold((key,), lambda k=key: k):
            pass
    with memory.hold(("a",), lambda: "new a"):  # a is now the most recently used
        pass
    with memory.hold(("c",), lambda: "c"):
        pass
    assert len(memory) == 2
    with memory.hold(("a",), lambda: "new a") as value:
        assert value == "a"
    with memory.hold(("b",), lambda: "new b") as value:
        assert value == "new b"


def test_entries_idle_longer_than_the_ttl_expire() -> None:
    clock = _Clock()
    memory = StepMemory(idle_ttl_s=60, clock=clock)
    with memory.hold(("old",), lambda: "old"):
        pass
    clock.now = 30
    with memory.hold(("kept",), lambda: "kept"):
        pass
    clock.now = 80  # "old" idle for 80 s, "kept" for 50 s
    with memory.hold(("other",), lambda: "other"):
        pass
    assert len(memory) == 2
    with memory.hold(("old",), lambda: "made again") as value:
        assert value == "made again"


def test_holders_of_one_key_take_turns() -> None:
    memory = StepMemory()
    inside = 0
    overlaps = 0

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(20):
            with memory.hold(("shared",), lambda: None):
                inside += 1
                overlaps += inside > 1
                time.sleep(0.0005)
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == 0
