"""Operation arguments in sane ranges (refused when parsed, naming the argument and the range),
results that would grow without bound refused when applied, regex operations within their
timeout and the run's deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from visionflow.errors import RunTimeoutError
from visionflow.workflows.limits import RunBudget, WorkflowLimits
from visionflow.workflows.query import Operation, QueryError, apply_operations, evaluate
from visionflow.workflows.query.operations import (
    MAX_CLASS_ID,
    MAX_FACTOR,
    MAX_OFFSET_PX,
    MAX_ROUND_DIGITS,
    MAX_SEPARATOR_CHARS,
    StatementGroup,
)
from visionflow.workflows.query.transforms import MAX_TEXT_CHARS

OPERATIONS = TypeAdapter(list[Operation])


def _parse(operation: dict[str, Any]) -> list[Operation]:
    return OPERATIONS.validate_python([operation])


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        pytest.param(
            {"type": "NumberRound", "decimal_digits": -10_000_000},
            f"NumberRound decimal_digits must be within [-{MAX_ROUND_DIGITS}, {MAX_ROUND_DIGITS}]"
            ", got -10000000",
            id="round-huge-negative",
        ),
        pytest.param(
            {"type": "NumberRound", "decimal_digits": 10**30},
            "NumberRound decimal_digits must be within",
            id="round-huge-positive",
        ),
        pytest.param(
            {"type": "Multiply", "other": 10**400},
            f"Multiply other must be within [-{MAX_FACTOR:g}, {MAX_FACTOR:g}]",
            id="multiply-huge-int",
        ),
        pytest.param(
            {"type": "Multiply", "other": float("nan")},
            "Multiply other must be within",
            id="multiply-nan",
        ),
        pytest.param(
            {"type": "Divide", "other": float("-inf")},
            "Divide other must be within",
            id="divide-infinite",
        ),
        pytest.param(
            {"type": "RandomNumber", "max_value": float("inf")},
            "RandomNumber max_value must be within",
            id="random-infinite",
        ),
        pytest.param(
            {"type": "DetectionsOffset", "offset_x": MAX_OFFSET_PX + 1, "offset_y": 0},
            f"DetectionsOffset offset_x must be within [-{MAX_OFFSET_PX}, {MAX_OFFSET_PX}]",
            id="offset",
        ),
        pytest.param(
            {"type": "DetectionsShift", "shift_x": 0, "shift_y": -(10**12)},
            "DetectionsShift shift_y must be within",
            id="shift",
        ),
        pytest.param(
            {"type": "DetectionsRename", "class_map": {}, "new_classes_id_offset": 2**40},
            f"DetectionsRename new_classes_id_offset must be within [0, {MAX_CLASS_ID}]",
            id="rename-id-offset",
        ),
        pytest.param(
            {"type": "SequenceJoin", "separator": "x" * (MAX_SEPARATOR_CHARS + 1)},
            f"at most {MAX_SEPARATOR_CHARS} characters",
            id="join-separator",
        ),
    ],
)
def test_out_of_range_arguments_are_refused_when_parsed(
    operation: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _parse(operation)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("operation", "value", "expected"),
    [
        pytest.param({"type": "NumberRound", "decimal_digits": 0}, 2.5, 2, id="round-zero"),
        pytest.param(
            {"type": "NumberRound", "decimal_digits": -MAX_ROUND_DIGITS}, 5, 0, id="round-min"
        ),
        pytest.param(
            {"type": "NumberRound", "decimal_digits": MAX_ROUND_DIGITS}, 0.5, 0.5, id="round-max"
        ),
        pytest.param({"type": "Multiply", "other": MAX_FACTOR}, 1, MAX_FACTOR, id="multiply-max"),
        pytest.param({"type": "Divide", "other": -2}, 3, -1.5, id="divide"),
        pytest.param({"type": "SequenceJoin"}, [], "", id="join-empty"),
    ],
)
def test_arguments_within_range_apply(operation: dict[str, Any], value: Any, expected: Any) -> None:
    assert apply_operations(value, _parse(operation)) == expected


def test_a_round_with_the_issue_s_digits_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(ValidationError):
        _parse({"type": "NumberRound", "decimal_digits": -10_000_000})
    assert time.monotonic() - started < 0.5


def test_integer_results_past_float_range_are_refused() -> None:
    chain = _parse({"type": "Multiply", "other": 10**300}) * 5
    with pytest.raises(
        QueryError, match=r"Multiply: the result is out of range \(past ±2\*\*1024\)"
    ):
        apply_operations(7, chain)
    assert apply_operations(7, chain[:1]) == 7 * 10**300


def test_a_join_past_the_text_limit_is_refused() -> None:
    operations = _parse({"type": "SequenceJoin", "separator": "x" * MAX_SEPARATOR_CHARS})
    items = MAX_TEXT_CHARS // MAX_SEPARATOR_CHARS + 2
    with pytest.raises(QueryError, match=f"more than the {MAX_TEXT_CHARS} an operation may build"):
        apply_operations([1] * items, operations)
    assert apply_operations([1, 2], operations) == "1" + "x" * MAX_SEPARATOR_CHARS + "2"


# -- regex -----------------------------------------------------------------------------------------

CATASTROPHIC = {"type": "StringMatches", "regex": "(a|aa)+$"}
BOMB_TEXT = "a" * 40 + "!"


def test_a_catastrophic_regex_times_out_naming_the_setting() -> None:
    budget = RunBudget(WorkflowLimits(regex_timeout_s=0.1))
    started = time.monotonic()
    with pytest.raises(QueryError) as caught:
        apply_operations(BOMB_TEXT, _parse(CATASTROPHIC), budget=budget)
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert message.startswith("StringMatches: the regex '(a|aa)+$' took longer than 0.1 s")
    assert "on a text of 41 characters" in message
    assert "VISIONFLOW_WORKFLOWS_REGEX_TIMEOUT_S" in message


def test_a_regex_in_a_statement_times_out_too() -> None:
    group = StatementGroup.model_validate(
        {
            "type": "StatementGroup",
            "statements": [
                {
                    "type": "UnaryStatement",
                    "operand": {
                        "type": "DynamicOperand",
                        "operand_name": "text",
                        "operations": [CATASTROPHIC],
                    },
                    "operator": {"type": "(Boolean) is True"},
                }
            ],
        }
    )
    budget = RunBudget(WorkflowLimits(regex_timeout_s=0.1))
    with pytest.raises(QueryError, match="VISIONFLOW_WORKFLOWS_REGEX_TIMEOUT_S"):
        evaluate(group, {"text": BOMB_TEXT}, budget=budget)
    assert evaluate(group, {"text": "aaa"}, budget=budget) is True


def test_a_regex_never_outlasts_the_run() -> None:
    """With less of the run left than the regex timeout, the regex gets what is left and the
    run's deadline is what the error reports."""
    now = [100.0]
    limits = WorkflowLimits(regex_timeout_s=30.0, max_run_s=0.2)
    budget = RunBudget(limits, deadline=100.2, clock=lambda: now[0])
    assert budget.regex_timeout_s() == pytest.approx(0.2)
    started = time.monotonic()

    def slow_clock() -> float:  # the run's clock: real seconds since the start
        return 100.0 + (time.monotonic() - started)

    budget = RunBudget(limits, deadline=100.2, clock=slow_clock)
    with pytest.raises(RunTimeoutError, match="VISIONFLOW_WORKFLOWS_MAX_RUN_S"):
        apply_operations(BOMB_TEXT, _parse(CATASTROPHIC), budget=budget)
    assert time.monotonic() - started < 5.0


def test_an_invalid_regex_names_the_problem() -> None:
    with pytest.raises(QueryError, match=r"StringMatches: invalid regex '\(': missing \)"):
        apply_operations("abc", _parse({"type": "StringMatches", "regex": "("}))


def test_operations_stop_at_the_run_s_deadline() -> None:
    budget = RunBudget(WorkflowLimits(max_run_s=1.0), deadline=0.0, clock=lambda: 1.0)
    with pytest.raises(RunTimeoutError) as caught:
        apply_operations("abc", _parse({"type": "StringToUpperCase"}), budget=budget)
    assert caught.value.status_code == 408
    assert "before operation StringToUpperCase" in caught.value.message
    # No operations, nothing to stop.
    assert apply_operations("abc", [], budget=budget) == "abc"
