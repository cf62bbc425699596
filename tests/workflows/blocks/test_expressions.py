"""``expression``, ``csv_formatter``, ``current_time``, ``rate_limiter`` and the new query
operations through the executor."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.errors import WorkflowSyntaxError

MODELS = ScriptedModels(
    {"m/1": lambda image: boxes([[0, 0, 10, 10], [0, 0, 20, 20]], [0.5, 0.9], [0, 1])}
)
IMAGES = {"a": canvas(), "b": canvas(50, 50)}


def _count_is(count: int) -> dict[str, Any]:
    return {
        "type": "StatementGroup",
        "statements": [
            {
                "type": "BinaryStatement",
                "left_operand": {"type": "DynamicOperand", "operand_name": "count"},
                "comparator": {"type": "(Number) =="},
                "right_operand": {"type": "StaticOperand", "value": count},
            }
        ],
    }


def _expression(switch_cases: list[dict[str, Any]], default: dict[str, Any]) -> Any:
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "expression@v1",
                "expr",
                data={"count": "$steps.det.predictions", "detections": "$steps.det.predictions"},
                data_operations={"count": [{"type": "SequenceLength"}]},
                switch={"type": "CasesDefinition", "cases": switch_cases, "default": default},
            ),
        ],
        {"out": "$steps.expr.output"},
        IMAGES,
        {"image": "a"},
        models=MODELS,
    )
    return result["out"]


def test_expression_picks_the_first_matching_case() -> None:
    cases = [
        {
            "type": "CaseDefinition",
            "condition": _count_is(1),
            "result": {"type": "StaticCaseResult", "value": "one"},
        },
        {
            "type": "CaseDefinition",
            "condition": _count_is(2),
            "result": {
                "type": "DynamicCaseResult",
                "parameter_name": "detections",
                "operations": [
                    {"type": "DetectionsPropertyExtract", "property_name": "confidence"},
                    {"type": "NumericSequenceAggregate", "function": "max"},
                    {"type": "Multiply", "other": 100},
                    {"type": "NumberRound", "decimal_digits": 0},
                ],
            },
        },
    ]
    assert _expression(cases, {"type": "StaticCaseResult", "value": "many"}) == pytest.approx(90)
    assert _expression(cases[:1], {"type": "StaticCaseResult", "value": "many"}) == "many"


def test_csv_formatter_gives_one_row_per_image_on_the_last_element() -> None:
    results = run(
        [
            model_step("det", "m/1"),
            step(
                "csv_formatter@v1",
                "csv",
                columns_data={
                    "classes": "$steps.det.predictions",
                    "size": "$inputs.image",
                    "site": "north",
                },
                columns_operations={
                    "classes": [
                        {"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                        {"type": "SequenceJoin", "separator": "|"},
                    ],
                    "size": [{"type": "ExtractImageProperty", "property_name": "width"}],
                },
            ),
        ],
        {"csv": "$steps.csv.csv_content"},
        IMAGES,
        {"image": ["a", "b"]},
        models=MODELS,
    )
    assert results[0]["csv"] is None
    rows = list(csv.DictReader(io.StringIO(results[1]["csv"])))
    assert [(r["classes"], r["size"], r["site"]) for r in rows] == [
        ("a|b", "200", "north"),
        ("a|b", "50", "north"),
    ]
    assert datetime.fromisoformat(rows[0]["timestamp"]).tzinfo is not None


def test_csv_formatter_reserves_the_timestamp_column() -> None:
    with pytest.raises(WorkflowSyntaxError, match="reserved"):
        run(
            [step("csv_formatter@v1", "csv", columns_data={"timestamp": "x"})],
            {"csv": "$steps.csv.csv_content"},
            IMAGES,
            {"image": "a"},
        )


def test_current_time_in_a_time_zone() -> None:
    [result] = run(
        [step("current_time@v1", "now", timezone="Asia/Kolkata")],
        {"ts": "$steps.now.timestamp", "iso": "$steps.now.iso_string", "date": "$steps.now.date"},
        IMAGES,
        {"image": "a"},
        serialize=True,
    )
    assert result["iso"].endswith("+05:30")
    assert result["ts"] == result["iso"]
    assert result["iso"].startswith(result["date"])


def test_rate_limiter_lets_one_element_of_a_batch_through() -> None:
    results = run(
        [
            model_step("det", "m/1"),
            step(
                "rate_limiter@v1",
                "limit",
                depends_on="$steps.det.predictions",
                cooldown_seconds=60,
                next_steps=["$steps.count"],
            ),
            step(
                "property_definition@v1",
                "count",
                data="$steps.det.predictions",
                operations=[{"type": "SequenceLength"}],
            ),
        ],
        {"count": "$steps.count.output"},
        IMAGES,
        {"image": ["a", "b", "a"]},
        models=MODELS,
    )
    assert [r["count"] for r in results] == [2, None, None]
    without_cooldown = run(
        [
            model_step("det", "m/1"),
            step(
                "rate_limiter@v1",
                "limit",
                depends_on="$steps.det.predictions",
                cooldown_seconds=0,
                next_steps=["$steps.count"],
            ),
            step(
                "property_definition@v1",
                "count",
                data="$steps.det.predictions",
                operations=[{"type": "SequenceLength"}],
            ),
        ],
        {"count": "$steps.count.output"},
        IMAGES,
        {"image": ["a", "b"]},
        models=MODELS,
    )
    assert [r["count"] for r in without_cooldown] == [2, 2]


@pytest.mark.parametrize(
    ("value", "operations", "expected"),
    [
        ("12", [{"type": "ToNumber", "cast_to": "int"}, {"type": "Divide", "other": 8}], 1.5),
        ("abcdef", [{"type": "StringSubSequence", "start": 1}], "bcde"),
        ("car-42", [{"type": "StringMatches", "regex": r"\d+$"}], True),
        (3, [{"type": "ToBoolean"}], True),
        (["a", "b", "a"], [{"type": "SequenceAggregate", "mode": "most_common"}], "a"),
        (["a", "b"], [{"type": "SequenceMap", "lookup_table": {"a": 1, "b": 2}}], [1, 2]),
        (
            ["ab", "c"],
            [{"type": "SequenceApply", "operations": [{"type": "StringToUpperCase"}]}],
            ["AB", "C"],
        ),
        ([], [{"type": "NumericSequenceAggregate", "function": "sum", "neutral_value": 0}], 0),
        ({"a": 1}, [{"type": "ConvertDictionaryToJSON"}], '{"a": 1}'),
    ],
)
def test_scalar_operations(value: Any, operations: list[dict[str, Any]], expected: Any) -> None:
    [result] = run(
        [step("property_definition@v1", "p", data="$inputs.value", operations=operations)],
        {"out": "$steps.p.output"},
        IMAGES,
        {"image": "a", "value": value},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "value"},
        ],
    )
    assert result["out"] == expected


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="formula"),
        pytest.param("+1", "'+1", id="plus"),
        pytest.param("-2", "'-2", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("plain", "plain", id="plain"),
    ],
)
def test_csv_formatter_neutralizes_spreadsheet_formulas(value: str, written: str) -> None:
    results = run(
        [step("csv_formatter@v1", "csv", columns_data={"note": "$inputs.note"})],
        {"csv": "$steps.csv.csv_content"},
        IMAGES,
        {"image": "a", "note": value},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "note"},
        ],
    )
    rows = list(csv.DictReader(io.StringIO(results[0]["csv"])))
    assert rows[0]["note"] == written
