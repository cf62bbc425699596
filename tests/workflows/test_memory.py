"""``StepMemory``: values made once per key, scoped by prefix, bounded, expiring when idle, and
updated by one holder at a time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from visionflow.config import Settings
from visionflow.workflows import Executor, WorkflowLimits
from visionflow.workflows.memory import StepMemory, state_bytes


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


def test_state_bytes_counts_arrays_bytes_and_objects_once() -> None:
    heat = np.zeros((480, 640), np.float32)

    class Track:
        def __init__(self) -> None:
            self.box = np.zeros(4, np.float64)
            self.label = "car"

    value = {"heat": heat, "again": heat, "tracks": [Track(), Track()], "raw": b"x" * 100}

    found = state_bytes(value)

    arrays = heat.nbytes + 2 * 32
    assert arrays + 100 <= found <= arrays + 100 + 20 * 64  # a few objects' overhead on top


def test_entries_beyond_the_byte_budget_are_dropped_oldest_first_but_never_the_one_in_use() -> None:
    frame = 640 * 480 * 4  # one float32 heat map
    memory = StepMemory(max_bytes=3 * frame + 10_000)

    for video in range(5):
        with memory.hold(("heatmap", video), lambda: {"heat": np.zeros((480, 640), np.float32)}):
            pass

    assert len(memory) == 3
    assert memory.bytes_held <= memory.max_bytes
    made: list[int] = []

    def fresh(video: int) -> dict[str, np.ndarray]:
        made.append(video)
        return {"heat": np.zeros((480, 640), np.float32)}

    with memory.hold(("heatmap", 4), lambda: fresh(4)):  # kept: the newest
        pass
    with memory.hold(("heatmap", 0), lambda: fresh(0)):  # dropped: made again
        pass
    assert made == [0]


def test_an_entry_larger_than_the_budget_is_kept_while_it_is_the_one_just_used() -> None:
    memory = StepMemory(max_bytes=1000)
    with memory.hold(("big",), lambda: np.zeros(10_000, np.uint8)) as state:
        state[0] = 7
    with memory.hold(("big",), lambda: np.zeros(10_000, np.uint8)) as state:
        assert state[0] == 7  # the same state: not dropped by its own size
    with memory.hold(("small",), list):
        pass
    assert len(memory) == 1  # the big one went once another entry was used


def test_the_state_budget_comes_from_the_settings() -> None:
    settings = Settings.from_env({"VISIONFLOW_WORKFLOWS_STATE_MAX_BYTES": "1000000"})
    limits = WorkflowLimits.from_settings(settings)
    assert limits.state_max_bytes == 1_000_000
    assert Executor(limits=limits).memory.max_bytes == 1_000_000
    with pytest.raises(ValueError, match="VISIONFLOW_WORKFLOWS_STATE_MAX_BYTES"):
        Settings.from_env({"VISIONFLOW_WORKFLOWS_STATE_MAX_BYTES": "0"})
