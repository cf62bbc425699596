"""Workflow limits: definitions held to nesting, steps and bytes before anything walks them
(each error naming its setting), the limits read from settings, and one run's budget."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.workflows.fakes import definition, detector
from visionflow.config import Settings
from visionflow.errors import RunTimeoutError
from visionflow.workflows import BlockRegistry, Compiler, RunBudget, WorkflowLimits
from visionflow.workflows import compile_workflow as compile_
from visionflow.workflows.definition import canonical_json, definition_hash
from visionflow.workflows.errors import WorkflowDefinitionError
from visionflow.workflows.limits import check_definition


@pytest.fixture(scope="module")
def registry() -> BlockRegistry:
    return BlockRegistry()


def _chain(count: int) -> dict[str, Any]:
    """``count`` property_definition steps, each reading the one before."""
    steps = [
        {
            "type": "roboflow_core/property_definition@v1",
            "name": f"s{i}",
            "data": f"$steps.s{i - 1}.output" if i else "$inputs.image",
            "operations": [],
        }
        for i in range(count)
    ]
    return definition(steps, {"last": f"$steps.s{count - 1}.output"})


def _nested_literal(depth: int) -> dict[str, Any]:
    """A definition whose one parameter default nests ``depth`` lists (the whole definition
    nests ``depth + 3``: inputs, the declaration, the default)."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    inputs = [{"type": "WorkflowParameter", "name": "p", "default_value": value}]
    return definition([], {"p": "$inputs.p"}, inputs=inputs)


# -- definitions -----------------------------------------------------------------------------------


def test_too_many_steps_answer_413_naming_the_setting(registry: BlockRegistry) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        compile_(_chain(11), registry, WorkflowLimits(max_steps=10))
    error = caught.value
    assert error.http_status == 413
    assert error.message == (
        "The workflow definition has 11 steps, more than the 10 a definition may have "
        "(VISIONFLOW_WORKFLOWS_MAX_STEPS)."
    )
    assert error.to_body()["blocks_errors"][0]["property_name"] == "steps"
    assert compile_(_chain(10), registry, WorkflowLimits(max_steps=10)).steps


def test_a_large_definition_answers_413_naming_the_setting(registry: BlockRegistry) -> None:
    workflow = definition([detector(note="x" * 5000)], {})
    size = len(canonical_json(workflow))
    with pytest.raises(WorkflowDefinitionError) as caught:
        compile_(workflow, registry, WorkflowLimits(max_definition_bytes=size - 1))
    assert caught.value.http_status == 413
    assert caught.value.message == (
        f"The workflow definition is {size} bytes of JSON, more than the {size - 1} a definition "
        "may have (VISIONFLOW_WORKFLOWS_MAX_DEFINITION_BYTES)."
    )
    assert compile_(workflow, registry, WorkflowLimits(max_definition_bytes=size)).steps


def test_bytes_are_counted_as_utf8(registry: BlockRegistry) -> None:
    """Non-ASCII text counts its UTF-8 bytes, not its ``\\uXXXX`` escapes."""
    workflow = definition([detector(note="é" * 100)], {})
    compact = json.dumps(workflow, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert len(canonical_json(workflow)) == len(compact.encode())
    assert len(canonical_json(workflow)) < len(json.dumps(workflow))


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(62, id="one-past-the-limit"),
        pytest.param(900, id="past-the-recursion-limit"),
        pytest.param(100_000, id="100k-deep"),
    ],
)
def test_a_deep_definition_answers_400_naming_the_setting(
    registry: BlockRegistry, depth: int
) -> None:
    workflow = _nested_literal(depth)
    started = time.monotonic()
    with pytest.raises(WorkflowDefinitionError) as caught:
        compile_(workflow, registry)
    assert time.monotonic() - started < 2.0
    assert caught.value.http_status == 400
    assert caught.value.message == (
        "The workflow definition nests lists/objects more than 64 levels deep, the most a "
        "definition may nest (VISIONFLOW_WORKFLOWS_MAX_NESTING)."
    )
    with pytest.raises(WorkflowDefinitionError):  # and so does the cache's key
        Compiler(registry).compile(workflow)


def test_a_definition_at_the_nesting_limit_compiles(registry: BlockRegistry) -> None:
    assert compile_(_nested_literal(61), registry).inputs[0].name == "p"


def test_nesting_is_checked_before_steps_and_bytes() -> None:
    workflow = _nested_literal(100)
    limits = WorkflowLimits(max_steps=0, max_definition_bytes=1)
    with pytest.raises(WorkflowDefinitionError, match="MAX_NESTING"):
        check_definition(workflow, limits)


def test_the_compiler_applies_its_limits_to_every_definition(registry: BlockRegistry) -> None:
    compiler = Compiler(registry, limits=WorkflowLimits(max_steps=2))
    plan, cached = compiler.compile(_chain(2))
    assert (plan.definition_hash, cached) == (definition_hash(_chain(2)), False)
    with pytest.raises(WorkflowDefinitionError, match="MAX_STEPS"):
        compiler.compile(_chain(3))


@pytest.mark.parametrize("count", [pytest.param(1000, id="1000-steps")])
def test_the_default_step_limit_compiles_quickly(registry: BlockRegistry, count: int) -> None:
    started = time.monotonic()
    plan = compile_(_chain(count), registry)
    assert len(plan.layers) == count
    assert time.monotonic() - started < 10.0
    with pytest.raises(WorkflowDefinitionError, match="1001 steps"):
        compile_(_chain(count + 1), registry)


# -- settings --------------------------------------------------------------------------------------


def test_limits_come_from_settings() -> None:
    settings = Settings.from_env(
        {
            "VISIONFLOW_WORKFLOWS_MAX_STEPS": "5",
            "VISIONFLOW_WORKFLOWS_MAX_DEFINITION_BYTES": "1000",
            "VISIONFLOW_WORKFLOWS_MAX_NESTING": "12",
            "VISIONFLOW_WORKFLOWS_MAX_RUN_S": "3.5",
            "VISIONFLOW_WORKFLOWS_REGEX_TIMEOUT_S": "0.5",
            "VISIONFLOW_WORKFLOWS_WEBHOOK_MAX_TIMEOUT_S": "7",
            "VISIONFLOW_MAX_IMAGE_PIXELS": "1000000",
        }
    )
    assert WorkflowLimits.from_settings(settings) == WorkflowLimits(
        max_steps=5,
        max_definition_bytes=1000,
        max_nesting=12,
        max_run_s=3.5,
        regex_timeout_s=0.5,
        webhook_max_timeout_s=7.0,
        max_image_pixels=1_000_000,
    )


def test_default_limits_are_the_settings_defaults() -> None:
    assert WorkflowLimits.from_settings(Settings.from_env({})) == WorkflowLimits()


@pytest.mark.parametrize(
    "raw",
    [pytest.param("0", id="zero"), pytest.param("201", id="past-the-encoders")],
)
def test_the_nesting_setting_is_bounded(raw: str) -> None:
    with pytest.raises(ValueError, match=r"VISIONFLOW_WORKFLOWS_MAX_NESTING must be within"):
        Settings.from_env({"VISIONFLOW_WORKFLOWS_MAX_NESTING": raw})


# -- one run's budget ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_budget_raises_408_past_its_deadline_naming_the_setting() -> None:
    clock = Clock()
    budget = RunBudget.start(WorkflowLimits(max_run_s=2.0), clock)
    budget.check("step 'a'")
    clock.now += 2.0
    budget.check("step 'a'")  # at the deadline, not past it
    clock.now += 0.01
    with pytest.raises(RunTimeoutError) as caught:
        budget.check("step 'b'")
    assert caught.value.status_code == 408
    assert caught.value.message == (
        "The workflow run took longer than 2 s, the most one run may take "
        "(VISIONFLOW_WORKFLOWS_MAX_RUN_S); it was stopped before step 'b'."
    )


def test_timeouts_never_outlast_the_run() -> None:
    clock = Clock()
    budget = RunBudget.start(WorkflowLimits(max_run_s=10.0, regex_timeout_s=0.25), clock)
    assert budget.regex_timeout_s() == 0.25
    assert budget.webhook_timeout_s(5.0) == 5.0
    clock.now += 9.9
    assert budget.regex_timeout_s() == pytest.approx(0.1)
    assert budget.webhook_timeout_s(5.0) == pytest.approx(0.1)
    clock.now += 1.0
    assert budget.regex_timeout_s() == 1e-3  # over: a token time, then ``check`` reports


def test_a_budget_without_deadline_never_expires() -> None:
    budget = RunBudget()
    budget.check("anything")
    assert budget.remaining_s() is None
    assert budget.regex_timeout_s() == WorkflowLimits().regex_timeout_s
