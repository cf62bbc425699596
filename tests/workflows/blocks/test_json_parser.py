"""``json_parser``: outputs named at run time by ``expected_fields`` — checked by the compiler,
stored by the executor, described by ``dynamic_outputs``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import REGISTRY, run, step
from visionflow.workflows.blocks.formatters import parse_json_fields
from visionflow.workflows.describe import BlocksDescriber
from visionflow.workflows.errors import InvalidReferenceTargetError, WorkflowSyntaxError

PARAM = [{"type": "WorkflowParameter", "name": "text"}]


def _parse(text: str, outputs: dict[str, str], fields: list[str]) -> dict[str, Any]:
    [result] = run(
        [step("json_parser@v1", "p", raw_json="$inputs.text", expected_fields=fields)],
        outputs,
        {},
        {"text": text},
        declared=PARAM,
    )
    return result


def test_fields_become_outputs() -> None:
    result = _parse(
        '{"count": 3, "label": "cat", "extra": 1}',
        {"count": "$steps.p.count", "label": "$steps.p.label", "err": "$steps.p.error_status"},
        ["count", "label"],
    )
    assert result == {"count": 3, "label": "cat", "err": False}


def test_wildcard_output_lists_the_runtime_outputs() -> None:
    result = _parse('{"a": [1, 2]}', {"all": "$steps.p.*"}, ["a", "b"])
    assert result == {"all": {"error_status": True, "a": [1, 2], "b": None}}


def test_runtime_output_feeds_another_step() -> None:
    [out] = run(
        [
            step("json_parser@v1", "p", raw_json="$inputs.text", expected_fields=["name"]),
            step("first_non_empty_or_default@v1", "copy", data=["$steps.p.name"]),
        ],
        {"out": "$steps.copy.output"},
        {},
        {"text": 'Sure:\n```JSON\n{"name": "Ada"}\n```'},
        declared=PARAM,
    )
    assert out == {"out": "Ada"}


def test_selecting_an_undeclared_field_fails_compilation() -> None:
    with pytest.raises(InvalidReferenceTargetError, match=r"no output 'other'.*error_status, a"):
        _parse("{}", {"x": "$steps.p.other"}, ["a"])
    with pytest.raises(InvalidReferenceTargetError, match="no output 'other'"):
        run(
            [
                step("json_parser@v1", "p", raw_json="$inputs.text", expected_fields=["a"]),
                step("first_non_empty_or_default@v1", "copy", data=["$steps.p.other"]),
            ],
            {"out": "$steps.copy.output"},
            {},
            {"text": "{}"},
            declared=PARAM,
        )


def test_error_status_is_a_reserved_field() -> None:
    with pytest.raises(WorkflowSyntaxError, match="reserved"):
        _parse("{}", {"x": "$steps.p.a"}, ["error_status"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": 2}', (False, {"a": 1, "b": 2})),
        ('{"a": 1}', (True, {"a": 1, "b": None})),
        ("not json", (True, {"a": None, "b": None})),
        ("[1, 2]", (True, {"a": None, "b": None})),
        ('x ```json {"a": 1, "b": 0} ``` ```json {"a": 9} ```', (False, {"a": 1, "b": 0})),
    ],
)
def test_parse_json_fields(text: str, expected: tuple[bool, dict[str, Any]]) -> None:
    assert parse_json_fields(text, ["a", "b"]) == expected


def test_dynamic_outputs_follow_expected_fields() -> None:
    found = BlocksDescriber(REGISTRY).dynamic_outputs(
        {
            "type": "roboflow_core/json_parser@v1",
            "name": "p",
            "raw_json": "{}",
            "expected_fields": ["x"],
        }
    )
    assert [o["name"] for o in found] == ["error_status", "x"]
