"""Evaluating query-language operations and statements against values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import supervision as sv

from visionflow.core.detections import CLASS_NAME
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.lineage import lineage_of
from visionflow.workflows.query.operations import (
    BinaryStatement,
    ClassificationPropertyExtract,
    DetectionsFilter,
    DetectionsPropertyExtract,
    DynamicOperand,
    ExtractDetectionProperty,
    LookupTable,
    Operand,
    Operation,
    SequenceElementsCount,
    SequenceLength,
    Statement,
    StatementGroup,
    StringToLowerCase,
    StringToUpperCase,
    ToString,
    UnaryStatement,
)
from visionflow.workflows.query.transforms import TRANSFORMS, QueryError
from visionflow.workflows.serialize import serialize_value

__all__ = ["QueryError", "apply_operations", "evaluate"]

# The name a ``DynamicOperand`` uses for the detection under test inside ``DetectionsFilter``.
CURRENT = "_"
# Outside a run (no deadline; the default regex timeout).
_NO_RUN = RunBudget()


class _Applier:
    """``apply_operations`` within one budget (the ``Apply`` transforms get)."""

    def __init__(self, budget: RunBudget) -> None:
        self.budget = budget

    def __call__(
        self, value: Any, operations: Sequence[Operation], params: Mapping[str, Any]
    ) -> Any:
        return apply_operations(value, operations, params, budget=self.budget)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


_BINARY: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "(Number) ==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "(Number) !=": lambda a, b: bool(a != b),
    "(Number) >": lambda a, b: bool(a > b),
    "(Number) >=": lambda a, b: bool(a >= b),
    "(Number) <": lambda a, b: bool(a < b),
    "(Number) <=": lambda a, b: bool(a <= b),
    "(Number) in range": lambda a, b: bool(b[0] <= a <= b[1]),
    "(String) startsWith": lambda a, b: bool(a.startswith(b)),
    "(String) endsWith": lambda a, b: bool(a.endswith(b)),
    "(String) contains": lambda a, b: bool(b in a),
    "in (Sequence)": lambda a, b: bool(a in b),
    "any in (Sequence)": lambda a, b: any(item in b for item in a),
    "all in (Sequence)": lambda a, b: all(item in b for item in a),
    "(Detection) in zone": lambda a, b: _in_zone(a, b),
}
_UNARY: dict[str, Callable[[Any], bool]] = {
    "Exists": lambda a: a is not None,
    "DoesNotExist": lambda a: a is None,
    "(Boolean) is True": lambda a: a is True,
    "(Boolean) is False": lambda a: a is False,
    "(Sequence) is empty": lambda a: len(a) == 0,
    "(Sequence) is not empty": lambda a: len(a) > 0,
}


def _point_of(value: Any) -> tuple[float, float]:
    """A detection's box centre, or a point given as ``[x, y]``."""
    if isinstance(value, sv.Detections):
        if len(value) != 1:
            raise QueryError(f"(Detection) in zone needs one detection, got {len(value)}")
        x1, y1, x2, y2 = (float(v) for v in value.xyxy[0])
        return (x1 + x2) / 2, (y1 + y2) / 2
    try:
        x, y = (float(v) for v in np.asarray(value, dtype=np.float64).reshape(2))
    except (TypeError, ValueError):
        raise QueryError(
            f"(Detection) in zone needs a detection or an [x, y] point, got {_describe(value)}"
        ) from None
    return x, y


def _in_zone(detection: Any, zone: Any) -> bool:
    """Whether the detection's centre (or the point) lies inside the polygon ``zone`` (a list
    of at least 3 ``[x, y]`` points) or on its edge."""
    point = _point_of(detection)
    try:
        polygon = np.asarray(zone, dtype=np.float32).reshape(-1, 2)
    except (TypeError, ValueError):
        polygon = np.zeros((0, 2), dtype=np.float32)
    if len(polygon) < 3:
        raise QueryError(
            f"(Detection) in zone needs a polygon of at least 3 [x, y] points, got "
            f"{_describe(zone)}"
        )
    return bool(cv2.pointPolygonTest(polygon.reshape(-1, 1, 2), point, False) >= 0)


def _detection_property(detections: sv.Detections, index: int, name: str) -> Any:
    x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
    if name == "confidence":
        return float(detections.confidence[index]) if detections.confidence is not None else None
    if name == "class_name":
        names = detections.data.get(CLASS_NAME)
        return str(names[index]) if names is not None else None
    if name == "class_id":
        return int(detections.class_id[index]) if detections.class_id is not None else None
    if name == "tracker_id":
        return int(detections.tracker_id[index]) if detections.tracker_id is not None else None
    if name == "image_dimensions" and (lineage := lineage_of(detections)) is not None:
        return [lineage.size_wh[1], lineage.size_wh[0]]
    if name in _DATA_PROPERTIES or (name in ("width", "height") and name in detections.data):
        column = detections.data.get(name)
        return None if column is None else serialize_value(column[index])
    geometry: dict[str, Any] = {
        "x_min": x1,
        "y_min": y1,
        "x_max": x2,
        "y_max": y2,
        "width": x2 - x1,
        "height": y2 - y1,
        "size": (x2 - x1) * (y2 - y1),
        "center": [(x1 + x2) / 2, (y1 + y2) / 2],
        "top_left": [x1, y1],
        "top_right": [x2, y1],
        "bottom_left": [x1, y2],
        "bottom_right": [x2, y2],
    }
    return geometry[name]


_ANCHORS = frozenset({"center", "top_left", "top_right", "bottom_left", "bottom_right"})
# Properties read from ``data`` (``None`` when the detections have no such column).
_DATA_PROPERTIES = (
    "in_out",
    "path_deviation",
    "polygon",
    "time_in_zone",
    "velocity",
    "speed",
    "smoothed_velocity",
    "smoothed_speed",
    "image_dimensions",
    "prediction_type",
    "keypoints_xy",
    "rect",
    "angle",
    "area_px",
    "area_converted",
)


def _require(value: Any, expected: type | tuple[type, ...], operation: str) -> None:
    if not isinstance(value, expected):
        raise QueryError(f"{operation} cannot be applied to {_describe(value)}")


def _classification(value: Any, name: str) -> Any:
    _require(value, dict, "ClassificationPropertyExtract")
    predictions = value.get("predictions")
    multilabel = isinstance(predictions, dict)
    if name == "top_class":
        return value["top"] if "top" in value else value.get("predicted_classes", [])
    if name in ("top_class_confidence", "top_class_confidence_single"):
        if "confidence" in value:
            return value["confidence"]
        scores = [predictions[c]["confidence"] for c in value.get("predicted_classes", [])]
        if name == "top_class_confidence":
            return scores
        return max(scores, default=0.0)
    if multilabel:
        ordered = sorted(predictions.items(), key=lambda item: item[1]["class_id"])
        if name == "all_classes":
            return [class_name for class_name, _entry in ordered]
        return [entry["confidence"] for _name, entry in ordered]
    key = "class" if name == "all_classes" else "confidence"
    return [entry[key] for entry in predictions or []]


def _apply(value: Any, operation: Operation, params: Mapping[str, Any], budget: RunBudget) -> Any:
    if isinstance(operation, StringToLowerCase | StringToUpperCase):
        _require(value, str, operation.type)
        return value.lower() if isinstance(operation, StringToLowerCase) else value.upper()
    if isinstance(operation, ToString):
        return str(value)
    if isinstance(operation, LookupTable):
        if value not in operation.lookup_table:
            raise QueryError(f"LookupTable has no entry for {_describe(value)}")
        return operation.lookup_table[value]
    if isinstance(operation, SequenceLength):
        _require(value, (sv.Detections, list, tuple, dict, str), "SequenceLength")
        return len(value)
    if isinstance(operation, SequenceElementsCount):
        _require(value, (list, tuple), "SequenceElementsCount")
        return dict(Counter(value))
    if isinstance(operation, DetectionsPropertyExtract):
        _require(value, sv.Detections, "DetectionsPropertyExtract")
        found = [_detection_property(value, i, operation.property_name) for i in range(len(value))]
        if operation.property_name in _ANCHORS:
            # The reference rounds the anchor points of a detections list to integer pixels
            # (numpy's round half to even); a single detection's stay floats.
            return [[int(np.round(c)) for c in point] for point in found]
        return found
    if isinstance(operation, ExtractDetectionProperty):
        _require(value, sv.Detections, "ExtractDetectionProperty")
        if len(value) != 1:
            raise QueryError("ExtractDetectionProperty needs exactly one detection")
        return _detection_property(value, 0, operation.property_name)
    if isinstance(operation, ClassificationPropertyExtract):
        return _classification(value, operation.property_name)
    transform = TRANSFORMS.get(type(operation))
    if transform is not None:
        return transform(value, operation, params, _Applier(budget))
    assert isinstance(operation, DetectionsFilter)
    _require(value, sv.Detections, "DetectionsFilter")
    keep = np.array(
        [
            evaluate(
                operation.filter_operation,
                {**params, CURRENT: value[index : index + 1]},
                budget=budget,
            )
            for index in range(len(value))
        ],
        dtype=bool,
    )
    return value[keep]


def apply_operations(
    value: Any,
    operations: Sequence[Operation],
    params: Mapping[str, Any] | None = None,
    *,
    budget: RunBudget | None = None,
) -> Any:
    """``value`` put through ``operations`` in order. An operation that does not fit its value
    (a list where a hashable key is needed, a number too large to convert) raises ``QueryError``
    naming both, never the bare Python error. ``budget``: the run's (``RunContext.budget``),
    checked before each operation (``RunTimeoutError`` past its deadline) and bounding regex
    operations; none outside a run."""
    budget = budget or _NO_RUN
    for operation in operations:
        budget.check(f"operation {operation.type}")
        try:
            value = _apply(value, operation, params or {}, budget)
        except QueryError:
            raise
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            OverflowError,
            ZeroDivisionError,
        ) as exc:
            raise QueryError(
                f"{operation.type} cannot be applied to {_describe(value)}: {exc}"
            ) from None
    return value


def _operand(operand: Operand, params: Mapping[str, Any], budget: RunBudget) -> Any:
    if isinstance(operand, DynamicOperand):
        if operand.operand_name not in params:
            known = ", ".join(sorted(params)) or "none"
            raise QueryError(f"unknown operand {operand.operand_name!r} (known: {known})")
        value = params[operand.operand_name]
    else:
        value = operand.value
    return apply_operations(value, operand.operations, params, budget=budget)


def _statement(statement: Statement, params: Mapping[str, Any], budget: RunBudget) -> bool:
    if isinstance(statement, StatementGroup):
        return evaluate(statement, params, budget=budget)
    try:
        if isinstance(statement, BinaryStatement):
            left = _operand(statement.left_operand, params, budget)
            right = _operand(statement.right_operand, params, budget)
            result = _BINARY[statement.comparator.type](left, right)
        else:
            assert isinstance(statement, UnaryStatement)
            operand = _operand(statement.operand, params, budget)
            result = _UNARY[statement.operator.type](operand)
    except QueryError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        raise QueryError(f"cannot evaluate {statement.type}: {exc}") from None
    return not result if statement.negate else result


def evaluate(
    group: StatementGroup, params: Mapping[str, Any], *, budget: RunBudget | None = None
) -> bool:
    """Whether ``group`` holds for the named values ``params`` (``budget`` as for
    ``apply_operations``)."""
    budget = budget or _NO_RUN
    results = (_statement(statement, params, budget) for statement in group.statements)
    return all(results) if group.operator == "and" else any(results)
