"""``nesting_depth`` counts levels of lists and objects without recursing."""

from __future__ import annotations

from typing import Any

import pytest

from visionflow.workflows.errors import RuntimeInputError
from visionflow.workflows.nesting import MAX_VALUE_DEPTH, nesting_depth
from visionflow.workflows.serialize import serialize_value


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, 0, id="empty"),
        pytest.param("text", 0, id="scalar"),
        pytest.param([], 1, id="empty-list"),
        pytest.param({"a": [1, {"b": (2,)}]}, 4, id="mixed"),
        pytest.param([[1], [[[2]]], 3], 4, id="deepest-branch"),
        pytest.param(deep(64), 64, id="at-limit"),
        pytest.param(deep(65), 65, id="one-past"),
        pytest.param(deep(5000), 65, id="far-past-no-recursion"),
    ],
)
def test_nesting_depth(value: Any, expected: int) -> None:
    assert nesting_depth(value, 64) == expected


def test_serialize_value_refuses_values_past_the_limit() -> None:
    assert serialize_value(deep(MAX_VALUE_DEPTH - 1)) == deep(MAX_VALUE_DEPTH - 1)
    with pytest.raises(RuntimeInputError, match="more than 128 levels"):
        serialize_value(deep(3000))
