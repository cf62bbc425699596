"""Reading the JSON in a model's answer as leniently as the reference (each case was checked
against the reference's ``vlm_json`` while writing these)."""

from __future__ import annotations

from typing import Any

import pytest

from visionflow.workflows.blocks.vlm_json import (
    coerce_classification_payload,
    extract_flat_object_entries,
    extract_json_payload,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", (True, {}), id="empty"),
        pytest.param(None, (True, {}), id="not-text"),
        pytest.param('{"a": 1}', (False, {"a": 1}), id="bare-object"),
        pytest.param('```json\n{"a": 1}\n```', (False, {"a": 1}), id="json-fence"),
        pytest.param(
            'Sure!\n```JSON\n[{"a": 1}]\n```\nmore ```json\n{"b":2}\n```',
            (False, [{"a": 1}]),
            id="first-json-fence-any-case",
        ),
        pytest.param('```python\n{"a": 1}\n```', (False, {"a": 1}), id="other-fence-tag"),
        pytest.param('```\n{"a": 1}', (False, {"a": 1}), id="unclosed-fence"),
        pytest.param('{"a": 1}\n{"b": 2}', (False, [{"a": 1}, {"b": 2}]), id="json-lines"),
        pytest.param('{"a": 1}, {"b": 2}]', (False, [{"a": 1}, {"b": 2}]), id="stray-bracket"),
        pytest.param('[{"a": 1}]\n[{"b": 2}]', (False, [{"a": 1}, {"b": 2}]), id="two-arrays"),
        pytest.param(
            'Here you go: {"a": {"b": 1}} hope it helps', (False, {"a": {"b": 1}}), id="chatty"
        ),
        pytest.param('Here: [1, 2, 3] and {"x": 1}', (False, [1, 2, 3]), id="outermost-array"),
        pytest.param("no json here", (True, {}), id="no-json"),
        pytest.param('"just a string"', (True, {}), id="scalar-string"),
        pytest.param("42", (True, {}), id="scalar-number"),
        pytest.param('{"a": 1} garbage {"b": 2}', (True, {}), id="garbage-between"),
        pytest.param("[]", (False, []), id="empty-array"),
        pytest.param('{"a": 1', (True, {}), id="truncated"),
        pytest.param('```json\n{"a": 1,}\n```', (True, {}), id="trailing-comma"),
    ],
)
def test_extract_json_payload(raw: Any, expected: tuple[bool, Any]) -> None:
    assert extract_json_payload(raw) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param([], None, id="empty"),
        pytest.param({"x": 1}, {"x": 1}, id="object-as-is"),
        pytest.param(
            [{"label": "a"}, {"class_name": "b", "confidence": 0.3}],
            {
                "predicted_classes": [
                    {"class": "a", "confidence": 1.0},
                    {"class": "b", "confidence": 0.3},
                ]
            },
            id="bare-list",
        ),
        pytest.param([{"x": 1}], None, id="entry-without-label"),
        pytest.param([1], None, id="entry-not-object"),
    ],
)
def test_coerce_classification_payload(payload: Any, expected: Any) -> None:
    assert coerce_classification_payload(payload) == expected


def test_flat_object_entries_keep_only_named_boxes() -> None:
    raw = (
        '{"x_min":1,"y_min":2,"x_max":3,"y_max":4,"label":"a"}, '
        '{"x_min":5,"y_min":6,"x_max":7,"y_max":8} junk {"a":1} {bad'
    )
    assert extract_flat_object_entries(raw) == [
        {"x_min": 1, "y_min": 2, "x_max": 3, "y_max": 4, "label": "a"},
        {"x_min": 5, "y_min": 6, "x_max": 7, "y_max": 8},
    ]
    assert extract_flat_object_entries("") == []
