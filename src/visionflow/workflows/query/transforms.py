"""The query language's value transformations beyond the core set: numbers, strings, sequences,
detections (offset, shift, rename, select, sort, pick by parent class), images (properties, frame
metadata, encodings) and dictionaries — as the reference
applies them. ``apply_transform`` is called by ``evaluate`` for these operation types."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import supervision as sv

from visionflow.core.detections import CLASS_NAME, KEYPOINTS_XY, POLYGON
from visionflow.core.visualization import encode_jpeg
from visionflow.workflows.limits import REGEX_TIMEOUT_SETTING, RunBudget
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.query.operations import (
    ConvertDictionaryToJSON,
    ConvertImageToBase64,
    ConvertImageToJPEG,
    DetectionsOffset,
    DetectionsRename,
    DetectionsSelection,
    DetectionsShift,
    DetectionsToDictionary,
    Divide,
    ExtractFrameMetadata,
    ExtractImageProperty,
    Multiply,
    NumberRound,
    NumericSequenceAggregate,
    Operation,
    PickDetectionsByParentClass,
    RandomNumber,
    SequenceAggregate,
    SequenceApply,
    SequenceJoin,
    SequenceMap,
    SortDetections,
    StringMatches,
    StringSubSequence,
    TimestampToISOFormat,
    ToBoolean,
    ToNumber,
)
from visionflow.workflows.query.patterns import PatternError, search
from visionflow.workflows.serialize import serialize_detections

__all__ = [
    "MAX_TEXT_CHARS",
    "TRANSFORMS",
    "Apply",
    "QueryError",
    "offset_boxes",
    "shift_detections",
]

# The longest text an operation may build (``SequenceJoin``): a long separator between many
# items multiplies.
MAX_TEXT_CHARS = 10_000_000
# Integer results past float range (Multiply chains of big integers) grow without bound.
_MAX_INTEGER = 2**1024


class QueryError(ValueError):
    """An operation or comparison could not be applied to the values it got."""


class Apply(Protocol):
    """Applies nested operations (``SequenceApply``) within the run's ``budget``."""

    @property
    def budget(self) -> RunBudget: ...

    def __call__(
        self, value: Any, operations: Sequence[Operation], params: Mapping[str, Any]
    ) -> Any: ...


def _preview(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "..."


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _require(value: Any, expected: type | tuple[type, ...], operation: str) -> None:
    if isinstance(value, bool) and expected in ((int, float), int, float):
        raise QueryError(f"{operation} cannot be applied to {_describe(value)}")
    if not isinstance(value, expected):
        raise QueryError(f"{operation} cannot be applied to {_describe(value)}")


def _number(value: Any, operation: str) -> float | int:
    _require(value, (int, float), operation)
    return value  # type: ignore[no-any-return]


# -- numbers and strings --------------------------------------------------------------------------


def _to_number(value: Any, op: ToNumber, params: Mapping[str, Any], apply: Apply) -> Any:
    try:
        return int(value) if op.cast_to == "int" else float(value)
    except (TypeError, ValueError, OverflowError):
        raise QueryError(f"ToNumber cannot convert {_describe(value)}") from None


def _in_range(result: Any, operation: str) -> Any:
    if isinstance(result, int) and abs(result) >= _MAX_INTEGER:
        raise QueryError(f"{operation}: the result is out of range (past ±2**1024)")
    return result


def _round(value: Any, op: NumberRound, params: Mapping[str, Any], apply: Apply) -> Any:
    return round(_number(value, "NumberRound"), op.decimal_digits)


def _multiply(value: Any, op: Multiply, params: Mapping[str, Any], apply: Apply) -> Any:
    return _in_range(_number(value, "Multiply") * op.other, "Multiply")


def _divide(value: Any, op: Divide, params: Mapping[str, Any], apply: Apply) -> Any:
    if op.other == 0:
        raise QueryError("Divide by zero")
    return _number(value, "Divide") / op.other


def _to_boolean(value: Any, op: ToBoolean, params: Mapping[str, Any], apply: Apply) -> Any:
    _require(value, (int, float, bool), "ToBoolean")
    return bool(value)


def _substring(value: Any, op: StringSubSequence, params: Mapping[str, Any], apply: Apply) -> Any:
    _require(value, str, "StringSubSequence")
    return value[op.start : op.end]


def _matches(value: Any, op: StringMatches, params: Mapping[str, Any], apply: Apply) -> Any:
    _require(value, str, "StringMatches")
    budget = apply.budget
    timeout_s = budget.regex_timeout_s()
    try:
        return search(op.regex, value, timeout_s)
    except PatternError as exc:
        raise QueryError(f"StringMatches: {exc}") from None
    except TimeoutError:
        if timeout_s < budget.limits.regex_timeout_s:
            # The regex had only what was left of the run: the run's deadline stopped it (its
            # clock may read a hair short of the deadline when the engine's timer fires).
            raise budget.timeout_error("the regex operation finished") from None
        budget.check("the regex operation finished")
        raise QueryError(
            f"StringMatches: the regex {_preview(op.regex)} took longer than "
            f"{budget.limits.regex_timeout_s:g} s on a text of {len(value)} characters, the "
            f"most one regex operation may take ({REGEX_TIMEOUT_SETTING}); simplify the "
            "pattern (nested or overlapping repetition such as (a|aa)+ backtracks without end)"
        ) from None


def _timestamp(
    value: Any, op: TimestampToISOFormat, params: Mapping[str, Any], apply: Apply
) -> Any:
    _require(value, datetime, "TimestampToISOFormat")
    return value.isoformat()


# -- sequences ------------------------------------------------------------------------------------


def _sequence(value: Any, operation: str) -> list[Any]:
    _require(value, (list, tuple), operation)
    return list(value)


def _map(value: Any, op: SequenceMap, params: Mapping[str, Any], apply: Apply) -> Any:
    result = []
    for item in _sequence(value, "SequenceMap"):
        if item not in op.lookup_table:
            raise QueryError(f"SequenceMap has no entry for {_describe(item)}")
        result.append(op.lookup_table[item])
    return result


def _apply_each(value: Any, op: SequenceApply, params: Mapping[str, Any], apply: Apply) -> Any:
    return [apply(item, op.operations, params) for item in _sequence(value, "SequenceApply")]


def _aggregate_numbers(
    value: Any, op: NumericSequenceAggregate, params: Mapping[str, Any], apply: Apply
) -> Any:
    items = _sequence(value, "NumericSequenceAggregate")
    if not items:
        return op.neutral_value
    functions: dict[str, Callable[[list[Any]], Any]] = {"min": min, "max": max, "sum": sum}
    try:
        return functions[op.function](items)
    except TypeError as exc:
        raise QueryError(f"NumericSequenceAggregate: {exc}") from None


def _aggregate(value: Any, op: SequenceAggregate, params: Mapping[str, Any], apply: Apply) -> Any:
    items = _sequence(value, "SequenceAggregate")
    if not items:
        raise QueryError("SequenceAggregate cannot be applied to an empty sequence")
    if op.mode == "first":
        return items[0]
    if op.mode == "last":
        return items[-1]
    counts = Counter(items).most_common()
    return counts[0][0] if op.mode == "most_common" else counts[-1][0]


def _join(value: Any, op: SequenceJoin, params: Mapping[str, Any], apply: Apply) -> Any:
    items = [str(item) for item in _sequence(value, "SequenceJoin")]
    length = sum(len(item) for item in items) + len(op.separator) * max(len(items) - 1, 0)
    if length > MAX_TEXT_CHARS:
        raise QueryError(
            f"SequenceJoin: the text would be {length} characters long, more than the "
            f"{MAX_TEXT_CHARS} an operation may build"
        )
    return op.separator.join(items)


def _random(value: Any, op: RandomNumber, params: Mapping[str, Any], apply: Apply) -> Any:
    if isinstance(value, sv.Detections):
        return [random.uniform(op.min_value, op.max_value) for _ in range(len(value))]
    return random.uniform(op.min_value, op.max_value)


# -- detections -----------------------------------------------------------------------------------


def _detections(value: Any, operation: str) -> sv.Detections:
    _require(value, sv.Detections, operation)
    return value  # type: ignore[no-any-return]


def _copy(detections: sv.Detections) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array(detections.xyxy, dtype=np.float32, copy=True),
        mask=None if detections.mask is None else np.array(detections.mask, copy=True),
        confidence=None if detections.confidence is None else detections.confidence.copy(),
        class_id=None if detections.class_id is None else detections.class_id.copy(),
        tracker_id=None if detections.tracker_id is None else detections.tracker_id.copy(),
        data={key: np.array(column, copy=True) for key, column in detections.data.items()},
        metadata=dict(detections.metadata),
    )


def offset_boxes(detections: sv.Detections, delta_xyxy: tuple[float, ...]) -> sv.Detections:
    """A copy of ``detections`` with ``delta_xyxy`` added to every box."""
    moved = _copy(detections)
    moved.xyxy = moved.xyxy + np.asarray(delta_xyxy, dtype=np.float32)
    return moved


def shift_detections(detections: sv.Detections, dx: int, dy: int) -> sv.Detections:
    """A copy of ``detections`` moved by ``(dx, dy)``: boxes, polygons, keypoints and masks."""
    moved = offset_boxes(detections, (dx, dy, dx, dy))
    shift = np.array([dx, dy], dtype=np.float32)
    if POLYGON in moved.data:
        polygons = np.empty(len(moved), dtype=object)
        for index, polygon in enumerate(moved.data[POLYGON]):
            polygons[index] = np.asarray(polygon, dtype=np.float32).reshape(-1, 2) + shift
        moved.data[POLYGON] = polygons
    if KEYPOINTS_XY in moved.data:
        moved.data[KEYPOINTS_XY] = np.asarray(moved.data[KEYPOINTS_XY], np.float32) + shift
    if moved.mask is not None:
        source = np.asarray(moved.mask, dtype=bool)
        masks = np.zeros_like(source)
        height, width = source.shape[1:]
        part = source[:, max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
        top, left = max(0, dy), max(0, dx)
        masks[:, top : top + part.shape[1], left : left + part.shape[2]] = part
        moved.mask = masks
    return moved


def _offset(value: Any, op: DetectionsOffset, params: Mapping[str, Any], apply: Apply) -> Any:
    detections = _detections(value, "DetectionsOffset")
    half_x, half_y = op.offset_x / 2, op.offset_y / 2
    return offset_boxes(detections, (-half_x, -half_y, half_x, half_y))


def _shift(value: Any, op: DetectionsShift, params: Mapping[str, Any], apply: Apply) -> Any:
    return shift_detections(_detections(value, "DetectionsShift"), op.shift_x, op.shift_y)


def _parameter(name: str, params: Mapping[str, Any], operation: str) -> Any:
    if name not in params:
        raise QueryError(f"{operation}: unknown parameter {name!r}")
    return params[name]


def _rename(value: Any, op: DetectionsRename, params: Mapping[str, Any], apply: Apply) -> Any:
    detections = _detections(value, "DetectionsRename")
    class_map = (
        _parameter(op.class_map, params, "DetectionsRename")
        if isinstance(op.class_map, str)
        else op.class_map
    )
    strict = (
        _parameter(op.strict, params, "DetectionsRename")
        if isinstance(op.strict, str)
        else op.strict
    )
    if not isinstance(class_map, dict):
        raise QueryError(f"DetectionsRename: class_map must be a dict, got {_describe(class_map)}")
    if not isinstance(strict, bool):
        raise QueryError(f"DetectionsRename: strict must be a boolean, got {_describe(strict)}")
    names = [str(name) for name in detections.data.get(CLASS_NAME, [])]
    ids = [int(i) for i in detections.class_id] if detections.class_id is not None else []
    if strict:
        missing = [name for name in names if name not in class_map]
        if missing:
            raise QueryError(f"DetectionsRename: class {missing[0]!r} not found in class_map")
        mapping = {name: i for i, name in enumerate(sorted(set(class_map.values())))}
    else:
        mapping = dict(zip(names, ids, strict=False))
        added = sorted({new for new in class_map.values() if new not in mapping})
        mapping.update({name: op.new_classes_id_offset + i for i, name in enumerate(added)})
    renamed = _copy(detections)
    new_names = [class_map.get(name, name) for name in names]
    renamed.data[CLASS_NAME] = np.array(new_names, dtype=object).reshape(len(new_names))
    renamed.class_id = np.array([mapping[name] for name in new_names], dtype=np.int64)
    return renamed


def _select(value: Any, op: DetectionsSelection, params: Mapping[str, Any], apply: Apply) -> Any:
    detections = _detections(value, "DetectionsSelection")
    if len(detections) == 0:
        return detections
    centers_x = (detections.xyxy[:, 0] + detections.xyxy[:, 2]) / 2
    if op.mode == "top_confidence":
        if detections.confidence is None:
            raise QueryError("DetectionsSelection top_confidence: detections have no confidence")
        index = int(np.argmax(detections.confidence))
    else:
        index = {
            "first": 0,
            "last": len(detections) - 1,
            "left_most": int(np.argmin(centers_x)),
            "right_most": int(np.argmax(centers_x)),
        }[op.mode]
    selected = detections[index : index + 1]
    assert isinstance(selected, sv.Detections)
    return selected


def _sort(value: Any, op: SortDetections, params: Mapping[str, Any], apply: Apply) -> Any:
    detections = _detections(value, "SortDetections")
    if len(detections) == 0:
        return detections
    xyxy = detections.xyxy
    keys: dict[str, Any] = {
        "confidence": detections.confidence,
        "x_min": xyxy[:, 0],
        "y_min": xyxy[:, 1],
        "x_max": xyxy[:, 2],
        "y_max": xyxy[:, 3],
        "size": detections.box_area,
        "center_x": (xyxy[:, 0] + xyxy[:, 2]) / 2,
        "center_y": (xyxy[:, 1] + xyxy[:, 3]) / 2,
    }
    key = keys[op.mode]
    if key is None:
        return detections
    order = np.argsort(key, kind="stable")
    sorted_detections = detections[order if op.ascending else order[::-1]]
    assert isinstance(sorted_detections, sv.Detections)
    return sorted_detections


def _pick_by_parent(
    value: Any, op: PickDetectionsByParentClass, params: Mapping[str, Any], apply: Apply
) -> Any:
    """The detections of class ``parent_class`` and, after them, the other detections whose box
    centre lies inside (or on the edge of) one of those boxes; nothing without a parent."""
    detections = _detections(value, "PickDetectionsByParentClass")
    names = detections.data.get(CLASS_NAME)
    if names is None or len(detections) == 0:
        return detections[np.zeros(len(detections), dtype=bool)]
    is_parent = np.asarray([str(name) == op.parent_class for name in names], dtype=bool)
    if not is_parent.any():
        return detections[np.zeros(len(detections), dtype=bool)]
    parents = detections.xyxy[is_parent]
    centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2
    inside = (
        (centres[:, None, 0] >= parents[None, :, 0])
        & (centres[:, None, 0] <= parents[None, :, 2])
        & (centres[:, None, 1] >= parents[None, :, 1])
        & (centres[:, None, 1] <= parents[None, :, 3])
    ).any(axis=1)
    order = np.concatenate([np.flatnonzero(is_parent), np.flatnonzero(~is_parent & inside)])
    picked = detections[order]
    assert isinstance(picked, sv.Detections)
    return picked


def _to_dictionary(
    value: Any, op: DetectionsToDictionary, params: Mapping[str, Any], apply: Apply
) -> Any:
    return serialize_detections(_detections(value, "DetectionsToDictionary"))


# -- images and dictionaries ----------------------------------------------------------------------


def _image(value: Any, operation: str) -> WorkflowImage:
    _require(value, WorkflowImage, operation)
    return value  # type: ignore[no-any-return]


def _image_property(
    value: Any, op: ExtractImageProperty, params: Mapping[str, Any], apply: Apply
) -> Any:
    height, width = _image(value, "ExtractImageProperty").pixels_bgr.shape[:2]
    return {
        "size": height * width,
        "height": height,
        "width": width,
        "aspect_ratio": width / height if height else 0,
    }[op.property_name]


def _frame_metadata(
    value: Any, op: ExtractFrameMetadata, params: Mapping[str, Any], apply: Apply
) -> Any:
    """The image's frame number, timestamp or seconds since the video's start (the reference's
    still-image defaults when the image came without video metadata)."""
    metadata = _image(value, "ExtractFrameMetadata").video()
    if op.property_name == "frame_number":
        return metadata.frame_number
    if op.property_name == "frame_timestamp":
        return metadata.frame_timestamp
    return metadata.seconds_since_start


def _jpeg(value: Any, op: ConvertImageToJPEG, params: Mapping[str, Any], apply: Apply) -> Any:
    return encode_jpeg(_image(value, "ConvertImageToJPEG").pixels_bgr, op.compression_level)


def _base64(value: Any, op: ConvertImageToBase64, params: Mapping[str, Any], apply: Apply) -> Any:
    jpeg = encode_jpeg(_image(value, "ConvertImageToBase64").pixels_bgr, 95)
    return base64.b64encode(jpeg).decode("ascii")


def _json(value: Any, op: ConvertDictionaryToJSON, params: Mapping[str, Any], apply: Apply) -> Any:
    _require(value, dict, "ConvertDictionaryToJSON")
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"ConvertDictionaryToJSON: {exc}") from None


Transform = Callable[[Any, Any, Mapping[str, Any], Apply], Any]

TRANSFORMS: dict[type, Transform] = {
    ToNumber: _to_number,
    NumberRound: _round,
    Multiply: _multiply,
    Divide: _divide,
    ToBoolean: _to_boolean,
    StringSubSequence: _substring,
    StringMatches: _matches,
    TimestampToISOFormat: _timestamp,
    SequenceMap: _map,
    SequenceApply: _apply_each,
    NumericSequenceAggregate: _aggregate_numbers,
    SequenceAggregate: _aggregate,
    SequenceJoin: _join,
    RandomNumber: _random,
    DetectionsOffset: _offset,
    DetectionsShift: _shift,
    DetectionsRename: _rename,
    DetectionsSelection: _select,
    SortDetections: _sort,
    DetectionsToDictionary: _to_dictionary,
    PickDetectionsByParentClass: _pick_by_parent,
    ExtractImageProperty: _image_property,
    ExtractFrameMetadata: _frame_metadata,
    ConvertImageToJPEG: _jpeg,
    ConvertImageToBase64: _base64,
    ConvertDictionaryToJSON: _json,
}
