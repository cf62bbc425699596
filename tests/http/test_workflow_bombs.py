"""Workflow bombs against a real server subprocess: a catastrophic regex, a ten-million-digit
rounding, 5000 steps, a 3 MB definition, definitions nested 500 and 100000 levels deep and a run
that would compute for many seconds. Each is answered with a 4xx quickly, naming what to change,
while ``/info`` keeps answering, and the server's peak memory (``VmHWM``, reset before each
request) stays bounded. The figures are printed for docs/reliability.md (``pytest -s``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import RunningProcess, serve

# Generous bounds (a slow, busy CI machine); the targets themselves are in benchmarks.
ANSWER_BOUND_S = 10.0
HEALTH_BOUND_S = 2.0
GROWTH_BOUND_MB = 300
MAX_RUN_S = 2.0

TEXT_INPUT = [{"type": "WorkflowParameter", "name": "text"}]


def workflow(
    steps: list[dict[str, Any]],
    outputs: dict[str, str],
    inputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": TEXT_INPUT if inputs is None else inputs,
        "steps": steps,
        "outputs": [
            {"type": "JsonField", "name": name, "selector": selector}
            for name, selector in outputs.items()
        ],
    }


def operations(name: str, data: str, *chain: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "roboflow_core/property_definition@v1",
        "name": name,
        "data": data,
        "operations": list(chain),
    }


JSON = {"Content-Type": "application/json"}


def run_body(definition: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """``httpx.post`` arguments: the body as text (so any depth can be sent)."""
    return {"content": json.dumps({"specification": definition, "inputs": inputs}), "headers": JSON}


def regex(pattern: str) -> dict[str, Any]:
    steps = [operations("match", "$inputs.text", {"type": "StringMatches", "regex": pattern})]
    return run_body(workflow(steps, {"match": "$steps.match.output"}), {"text": "a" * 40 + "!"})


def rounding(digits: int) -> dict[str, Any]:
    steps = [operations("round", "$inputs.text", {"type": "NumberRound", "decimal_digits": digits})]
    return run_body(workflow(steps, {"round": "$steps.round.output"}), {"text": 5})


def chain(count: int) -> dict[str, Any]:
    steps = [
        operations(f"s{i}", f"$steps.s{i - 1}.output" if i else "$inputs.text")
        for i in range(count)
    ]
    return run_body(workflow(steps, {"last": f"$steps.s{count - 1}.output"}), {"text": "x"})


def large(size_bytes: int) -> dict[str, Any]:
    inputs = [{"type": "WorkflowParameter", "name": "text", "default_value": "x" * size_bytes}]
    return run_body(workflow([], {"text": "$inputs.text"}, inputs), {})


def deep(depth: int) -> dict[str, Any]:
    """A parameter default nested ``depth`` lists deep, written as text (encoders refuse it)."""
    inputs = [{"type": "WorkflowParameter", "name": "text", "default_value": "__DEEP__"}]
    definition = workflow([], {"text": "$inputs.text"}, inputs)
    body = json.dumps({"specification": definition, "inputs": {}})
    return {"content": body.replace('"__DEEP__"', "[" * depth + "]" * depth), "headers": JSON}


def busy(steps: int, items: int) -> dict[str, Any]:
    """``steps`` independent steps, each putting ``items`` numbers through two operations:
    seconds of work, past the run's limit."""
    each = [{"type": "SequenceApply", "operations": [{"type": "ToString"}]}]
    chain_ = [*each, {"type": "SequenceLength"}]
    definition = workflow(
        [operations(f"s{i}", "$inputs.text", *chain_) for i in range(steps)],
        {f"s{i}": f"$steps.s{i}.output" for i in range(steps)},
    )
    return run_body(definition, {"text": list(range(items))})


def reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` to the current RSS (``/proc/PID/clear_refs``, "5")."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class HealthProbe:
    """Polls ``/info`` every 50 ms in a thread and keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest_s = 0.0
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get(f"{self.url}/info").status_code
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    status = 0
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)
                if status != 200:
                    self.failures.append(f"/info answered {status}")
                self.answers += 1
                time.sleep(0.05)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    home = tmp_path_factory.mktemp("workflow-bombs") / "home"
    with serve(home, {"VISIONFLOW_WORKFLOWS_MAX_RUN_S": str(MAX_RUN_S)}) as running:
        # Touch the route once (imports, the compiler's first use): what is measured is the bomb.
        response = httpx.post(f"{running.url}/workflows/run", **chain(2), timeout=60)
        assert response.status_code == 200, response.text
        yield running


def measured(
    server: RunningProcess, name: str, request: dict[str, Any]
) -> tuple[httpx.Response, dict[str, Any]]:
    """The answer to one ``/workflows/run`` and its figures: status, seconds to answer, the
    server's peak RSS before and after (MB; reset first) and the slowest ``/info`` meanwhile."""
    reset_peak(server.pid)
    before = server.memory_kb()
    with HealthProbe(server.url) as probe:
        time.sleep(0.1)
        started = time.monotonic()
        response = httpx.post(f"{server.url}/workflows/run", timeout=120, **request)
        seconds = time.monotonic() - started
        time.sleep(0.1)
    after = server.memory_kb()
    figures = {
        "status": response.status_code,
        "seconds": round(seconds, 3),
        "hwm_before_mb": round(before["VmHWM"] / 1024),
        "hwm_after_mb": round(after["VmHWM"] / 1024),
        "growth_mb": round((after["VmHWM"] - before["VmHWM"]) / 1024),
        "info_slowest_s": round(probe.slowest_s, 3),
        "info_answers": probe.answers,
        "info_failures": probe.failures[:3],
    }
    print(f"\n{name}: {figures}")  # for docs/reliability.md (pytest -s)
    return response, figures


BOMBS = [
    pytest.param(
        lambda: regex("(a|aa)+$"),
        400,
        "VISIONFLOW_WORKFLOWS_REGEX_TIMEOUT_S",
        id="catastrophic-regex",
    ),
    pytest.param(
        lambda: rounding(-10_000_000),
        400,
        "NumberRound decimal_digits must be within [-100, 100], got -10000000",
        id="round-minus-ten-million-digits",
    ),
    pytest.param(lambda: chain(5000), 413, "VISIONFLOW_WORKFLOWS_MAX_STEPS", id="5000-steps"),
    pytest.param(
        lambda: large(3_000_000),
        413,
        "VISIONFLOW_WORKFLOWS_MAX_DEFINITION_BYTES",
        id="3-mb-definition",
    ),
    pytest.param(lambda: deep(500), 400, "VISIONFLOW_WORKFLOWS_MAX_NESTING", id="500-deep"),
    pytest.param(lambda: deep(100_000), 400, "error parsing the body", id="100k-deep"),
    pytest.param(lambda: busy(400, 20_000), 408, "VISIONFLOW_WORKFLOWS_MAX_RUN_S", id="long-run"),
]


@pytest.mark.parametrize(("make", "status", "names"), BOMBS)
def test_a_workflow_bomb_is_a_quick_4xx_and_the_server_keeps_answering(
    server: RunningProcess,
    make: Callable[[], dict[str, Any]],
    status: int,
    names: str,
    request: pytest.FixtureRequest,
) -> None:
    response, figures = measured(server, request.node.callspec.id, make())

    assert response.status_code == status, response.text
    assert names in response.json()["message"]
    assert figures["seconds"] < (MAX_RUN_S if status == 408 else 0) + ANSWER_BOUND_S
    assert figures["growth_mb"] < GROWTH_BOUND_MB, figures
    assert figures["info_failures"] == [], figures
    assert figures["info_slowest_s"] < HEALTH_BOUND_S, figures


def test_the_issue_s_nested_quantifier_is_answered_at_once(server: RunningProcess) -> None:
    """``(a+)+$`` backtracks without end on Python's ``re``; the regex engine answers it."""
    response, figures = measured(server, "nested-quantifier-regex", regex("(a+)+$"))

    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [{"match": False}]
    assert figures["seconds"] < ANSWER_BOUND_S


def test_a_definition_at_the_step_limit_runs(server: RunningProcess) -> None:
    response, figures = measured(server, "1000-steps", chain(1000))

    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [{"last": "x"}]
    assert figures["seconds"] < ANSWER_BOUND_S
