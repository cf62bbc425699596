"""How deeply a value nests lists and objects, measured without recursion.

Workflow values come from request JSON, so their depth is the client's choice; the engine's
helpers that walk values (coordinate mapping, serialization) recurse, and the JSON encoder stops
at 255 levels. Inputs are therefore held to ``MAX_INPUT_DEPTH`` when a run reads them, and the
walking helpers refuse values deeper than ``MAX_VALUE_DEPTH`` (room for the levels crops and
wrappers add on top of an input) with a 400 instead of a ``RecursionError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_INPUT_DEPTH", "MAX_VALUE_DEPTH", "nesting_depth"]

# Real inputs nest a few levels (a list of polygons of [x, y] points is 3).
MAX_INPUT_DEPTH = 64
MAX_VALUE_DEPTH = 128


def _children(value: Any) -> list[Any] | None:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    return None


def nesting_depth(value: Any, limit: int) -> int:
    """Levels of lists/tuples/dicts in ``value`` (a scalar is 0, ``[]`` and ``[1]`` are 1),
    counted up to ``limit + 1``: anything deeper than ``limit`` reports ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = _children(item)
        if children is None:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest
