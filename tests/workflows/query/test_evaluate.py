"""The query language: operations on values and statements over named values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv
from pydantic import TypeAdapter, ValidationError

from visionflow.core.detections import make_detections
from visionflow.workflows.query import (
    Operation,
    QueryError,
    StatementGroup,
    apply_operations,
    evaluate,
)

OPERATIONS = TypeAdapter(list[Operation])
DETECTIONS = make_detections(
    np.array([[0, 0, 10, 20], [5, 5, 7, 9]]),
    np.array([0.9, 0.3]),
    np.array([1, 0]),
    ["circle", "square"],
)
SINGLE_LABEL = {
    "top": "cat",
    "confidence": 0.8,
    "predictions": [
        {"class": "cat", "class_id": 0, "confidence": 0.8},
        {"class": "dog", "class_id": 1, "confidence": 0.5},
    ],
}
MULTI_LABEL = {
    "predictions": {
        "dog": {"confidence": 0.7, "class_id": 1},
        "cat": {"confidence": 0.9, "class_id": 0},
    },
    "predicted_classes": ["cat", "dog"],
}


def _ops(*operations: dict[str, Any]) -> list[Operation]:
    return OPERATIONS.validate_python(list(operations))


@pytest.mark.parametrize(
    ("value", "operations", "expected"),
    [
        pytest.param("x", [], "x", id="no-operations"),
        pytest.param(DETECTIONS, [{"type": "SequenceLength"}], 2, id="length-of-detections"),
        pytest.param([], [{"type": "SequenceLength"}], 0, id="length-of-empty"),
        pytest.param(
            DETECTIONS,
            [{"type": "DetectionsPropertyExtract", "property_name": "class_name"}],
            ["square", "circle"],
            id="class-names",
        ),
        pytest.param(
            DETECTIONS,
            [
                {"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                {"type": "SequenceElementsCount"},
            ],
            {"square": 1, "circle": 1},
            id="count-classes",
        ),
        pytest.param(
            DETECTIONS,
            [{"type": "DetectionsPropertyExtract", "property_name": "size"}],
            [200.0, 8.0],
            id="areas",
        ),
        pytest.param(
            SINGLE_LABEL,
            [{"type": "ClassificationPropertyExtract", "property_name": "top_class"}],
            "cat",
            id="top-class",
        ),
        pytest.param(
            MULTI_LABEL,
            [{"type": "ClassificationPropertyExtract", "property_name": "all_classes"}],
            ["cat", "dog"],
            id="multilabel-classes-by-id",
        ),
        pytest.param(
            MULTI_LABEL,
            [
                {
                    "type": "ClassificationPropertyExtract",
                    "property_name": "top_class_confidence_single",
                }
            ],
            0.9,
            id="multilabel-best-confidence",
        ),
        pytest.param(
            "Cat",
            [{"type": "StringToUpperCase"}, {"type": "LookupTable", "lookup_table": {"CAT": 1}}],
            1,
            id="chain",
        ),
    ],
)
def test_operations(value: Any, operations: list[dict[str, Any]], expected: Any) -> None:
    assert apply_operations(value, _ops(*operations)) == expected


def _filter(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "DetectionsFilter",
        "filter_operation": {"type": "StatementGroup", "statements": [statement]},
    }


def _property(name: str, comparator: str, value: Any) -> dict[str, Any]:
    return {
        "type": "BinaryStatement",
        "left_operand": {
            "type": "DynamicOperand",
            "operations": [{"type": "ExtractDetectionProperty", "property_name": name}],
        },
        "comparator": {"type": comparator},
        "right_operand": {"type": "StaticOperand", "value": value},
    }


@pytest.mark.parametrize(
    ("statement", "kept"),
    [
        pytest.param(_property("confidence", "(Number) >=", 0.5), ["square"], id="confidence"),
        pytest.param(_property("class_name", "==", "circle"), ["circle"], id="class-equals"),
        pytest.param(_property("class_name", "!=", "circle"), ["square"], id="class-differs"),
        pytest.param(
            _property("class_name", "in (Sequence)", ["circle", "square"]),
            ["square", "circle"],
            id="class-in-list",
        ),
        pytest.param(_property("class_name", "==", "dog"), [], id="none-kept"),
        pytest.param(
            {**_property("class_name", "==", "circle"), "negate": True}, ["square"], id="negate"
        ),
    ],
)
def test_detections_filter(statement: dict[str, Any], kept: list[str]) -> None:
    result = apply_operations(DETECTIONS, _ops(_filter(statement)))
    assert isinstance(result, sv.Detections)
    assert list(result.data["class_name"]) == kept


def _group(operator: str, *statements: dict[str, Any]) -> StatementGroup:
    return StatementGroup.model_validate(
        {"type": "StatementGroup", "operator": operator, "statements": list(statements)}
    )


def _compare(name: str, comparator: str, value: Any) -> dict[str, Any]:
    return {
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": name},
        "comparator": {"type": comparator},
        "right_operand": {"type": "StaticOperand", "value": value},
    }


@pytest.mark.parametrize(
    ("group", "params", "expected"),
    [
        pytest.param(_group("or", _compare("a", "(Number) >", 1)), {"a": 2}, True, id="gt"),
        pytest.param(_group("or", _compare("a", "(Number) >", 1)), {"a": 1}, False, id="not-gt"),
        pytest.param(
            _group("and", _compare("a", "(Number) >", 1), _compare("b", "==", "x")),
            {"a": 2, "b": "y"},
            False,
            id="and",
        ),
        pytest.param(
            _group("or", _compare("a", "(Number) >", 1), _compare("b", "==", "x")),
            {"a": 0, "b": "x"},
            True,
            id="or",
        ),
        pytest.param(
            _group("or", _compare("s", "(String) startsWith", "ca")), {"s": "cat"}, True, id="str"
        ),
        pytest.param(
            _group(
                "or",
                {
                    "type": "UnaryStatement",
                    "operand": {"type": "DynamicOperand", "operand_name": "xs"},
                    "operator": {"type": "(Sequence) is empty"},
                },
            ),
            {"xs": []},
            True,
            id="unary-empty",
        ),
    ],
)
def test_statements(group: StatementGroup, params: dict[str, Any], expected: bool) -> None:
    assert evaluate(group, params) is expected


@pytest.mark.parametrize(
    ("group", "params", "message"),
    [
        pytest.param(
            _group("or", _compare("missing", "==", 1)),
            {"a": 1},
            "unknown operand 'missing'",
            id="unknown-operand",
        ),
        pytest.param(
            _group("or", _compare("a", "(Number) >", 1)),
            {"a": "x"},
            "cannot evaluate",
            id="type-error",
        ),
    ],
)
def test_statement_errors(group: StatementGroup, params: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        evaluate(group, params)


def test_unknown_operation_is_rejected_when_parsed() -> None:
    with pytest.raises(ValidationError, match="Input tag 'DetectionsTeleport'"):
        _ops({"type": "DetectionsTeleport"})


def test_anchor_points_of_a_detections_list_are_rounded_half_to_even() -> None:
    """As the reference (inference 1.8.3): ``DetectionsPropertyExtract`` of ``center`` and the
    corners gives integer pixels (numpy rounding), ``ExtractDetectionProperty`` on one
    detection keeps floats."""
    halves = make_detections(
        np.array([[0, 0, 3, 5], [1, 1, 4, 2.5]]), np.array([0.9, 0.8]), np.array([0, 0]), ["a"]
    )
    centers = apply_operations(
        halves, _ops({"type": "DetectionsPropertyExtract", "property_name": "center"})
    )
    assert centers == [[2, 2], [2, 2]]  # (1.5, 2.5) and (2.5, 1.75)
    assert all(isinstance(c, int) for point in centers for c in point)
    corners = apply_operations(
        halves, _ops({"type": "DetectionsPropertyExtract", "property_name": "bottom_right"})
    )
    assert corners == [[3, 5], [4, 2]]
    single = halves[0:1]
    assert isinstance(single, sv.Detections)
    one = apply_operations(
        single, _ops({"type": "ExtractDetectionProperty", "property_name": "center"})
    )
    assert list(one) == [1.5, 2.5]
