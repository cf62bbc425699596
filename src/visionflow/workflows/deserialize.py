"""JSON given to a batch-oriented workflow input → the value blocks expect, per declared kind,
as the reference's kinds deserializers (``runtime_input_assembler``) read them.

A ``WorkflowBatchInput`` declared with kinds is read by the first of its kinds that has a
reader and accepts the value (e.g. ``object_detection_prediction``: ``/infer`` JSON becomes
``sv.Detections``; ``classification_prediction``: the ``/infer`` dict, checked and completed
with ``prediction_type``, ``inference_id`` and parent ids). Kinds without a reader (``*``,
``embedding``, ``secret``...) pass the value as it is. When no reader accepts it, a 400 names
the input (``name.[i]`` for the i-th element of a batch) and what each kind found wrong. Scalar
``WorkflowParameter`` inputs are never deserialized, as in the reference. Images and video
metadata are read by the executor itself.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from visionflow.workflows import kinds as k
from visionflow.workflows.deserialize_detections import detections_from_wire
from visionflow.workflows.errors import BlockError, RuntimeInputError

__all__ = ["DESERIALIZERS", "deserialize_input"]

Deserializer = Callable[[str, Any], Any]


def _type(value: Any) -> str:
    return type(value).__name__


def _string(identifier: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type(value)}")
    return value


def _optional_string(identifier: str, value: Any) -> str | None:
    return None if value is None else _string(identifier, value)


def _float(identifier: str, value: Any) -> float:
    # As the reference: ints (and so booleans) are accepted as floats.
    if not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_type(value)}")
    return float(value)


def _float_zero_to_one(identifier: str, value: Any) -> float:
    number = _float(identifier, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"expected a number in [0.0, 1.0], got {number}")
    return number


def _integer(identifier: str, value: Any) -> int:
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_type(value)}")
    return value


def _boolean(identifier: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected a boolean, got {_type(value)}")
    return value


def _list(identifier: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, got {_type(value)}")
    return list(value)


def _dictionary(identifier: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {_type(value)}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _point(identifier: str, value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError("expected a point [x, y]")
    x, y = value[0], value[1]
    if not (_is_number(x) and _is_number(y)):
        raise ValueError("a point's coordinates must be numbers")
    return x, y


def _zone(identifier: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or len(value) < 3:
        raise ValueError("expected a zone: a list of at least 3 points [x, y]")
    for point in value:
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise ValueError("every point of a zone must be [x, y]")
        if not (_is_number(point[0]) and _is_number(point[1])):
            raise ValueError("a zone's coordinates must be numbers")
    return value


def _labeled_points(identifier: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of labeled points, got {_type(value)}")
    points = []
    for raw in value:
        if isinstance(raw, dict):
            if "x" not in raw or "y" not in raw:
                raise ValueError("a labeled point needs 'x' and 'y'")
            x, y, positive = raw["x"], raw["y"], raw.get("positive", True)
        elif isinstance(raw, list | tuple) and len(raw) in (2, 3):
            x, y = raw[0], raw[1]
            positive = raw[2] if len(raw) == 3 else True
        else:
            raise ValueError("a labeled point is {x, y[, positive]} or [x, y[, positive]]")
        if not (_is_number(x) and _is_number(y)):
            raise ValueError("a labeled point's coordinates must be numbers")
        points.append({"x": x, "y": y, "positive": bool(positive)})
    return points


def _rgb_color(identifier: str, value: Any) -> str | tuple[Any, ...]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a color (a string or [r, g, b]), got {_type(value)}")
    if len(value) < 3:
        raise ValueError("a color needs 3 channels")
    return tuple(value[:3])


def _bytes(identifier: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected base64 text, got {_type(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64 ({exc})") from None


def _timestamp(identifier: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp, got {_type(value)}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp ({exc})") from None


def _numpy_array(identifier: str, value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, list):
        raise ValueError(f"expected a (nested) list of numbers, got {_type(value)}")
    return np.array(value)


_CLASSIFICATION_KEYS = ("image", "predictions")


def _classification(identifier: str, value: Any) -> dict[str, Any]:
    body = dict(_dictionary(identifier, value))
    missing = [key for key in _CLASSIFICATION_KEYS if key not in body]
    if missing:
        raise ValueError(f"a classification needs {list(_CLASSIFICATION_KEYS)}; missing {missing}")
    if "predicted_classes" not in body and ("top" not in body or "confidence" not in body):
        raise ValueError("a classification needs 'predicted_classes', or 'top' and 'confidence'")
    body.setdefault("prediction_type", "classification")
    body.setdefault("inference_id", str(uuid.uuid4()))
    body.setdefault("parent_id", identifier)
    body.setdefault("root_parent_id", identifier)
    return body


def _detections(identifier: str, value: Any) -> Any:
    return detections_from_wire(identifier, value)


DESERIALIZERS: dict[str, Deserializer] = {
    k.OBJECT_DETECTION_PREDICTION: _detections,
    k.INSTANCE_SEGMENTATION_PREDICTION: _detections,
    k.RLE_INSTANCE_SEGMENTATION_PREDICTION: _detections,
    k.KEYPOINT_DETECTION_PREDICTION: _detections,
    k.QR_CODE_DETECTION: _detections,
    k.BAR_CODE_DETECTION: _detections,
    k.SEMANTIC_SEGMENTATION_PREDICTION: _detections,
    k.CLASSIFICATION_PREDICTION: _classification,
    k.NUMPY_ARRAY: _numpy_array,
    k.ROBOFLOW_MODEL_ID: _string,
    k.ROBOFLOW_PROJECT: _string,
    "roboflow_solution": _string,
    k.ROBOFLOW_API_KEY: _optional_string,
    "ROBOFLOW_MANAGED_KEY": _optional_string,
    k.FLOAT_ZERO_TO_ONE: _float_zero_to_one,
    k.LIST_OF_VALUES: _list,
    "detections_overlaps": _list,
    k.BOOLEAN: _boolean,
    k.INTEGER: _integer,
    k.STRING: _string,
    k.TOP_CLASS: _string,
    k.FLOAT: _float,
    k.DICTIONARY: _dictionary,
    k.POINT: _point,
    "labeled_points": _labeled_points,
    k.ZONE: _zone,
    k.RGB_COLOR: _rgb_color,
    k.LANGUAGE_MODEL_OUTPUT: _string,
    k.PREDICTION_TYPE: _string,
    k.PARENT_ID: _string,
    k.BYTES: _bytes,
    k.INFERENCE_ID: _string,
    k.TIMESTAMP: _timestamp,
}


def deserialize_input(name: str, identifier: str, kinds: Sequence[str], value: Any) -> Any:
    """One element of the batch input ``name`` (``identifier``: ``name`` or ``name.[i]``) read
    by the first of ``kinds`` that accepts it; ``None`` stays ``None``."""
    if value is None:
        return None
    readers = [(kind, DESERIALIZERS[kind]) for kind in kinds if kind in DESERIALIZERS]
    if not readers:
        return value
    problems = []
    for kind, reader in readers:
        try:
            return reader(identifier, value)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"kind {kind!r}: {exc}")
    details = "; ".join(problems)
    raise RuntimeInputError(
        f"Workflow input {identifier!r} could not be read as any of its declared kinds: {details}",
        blocks_errors=[BlockError(None, None, f"inputs.{name}", details)],
    )
