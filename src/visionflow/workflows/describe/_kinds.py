"""The kinds catalogue: what each kind name means on the wire (wire reference §4.15, §6.10).

``serialised_data_type`` is the Python type hint of the JSON a client sends or receives for the
kind; ``internal_data_type`` what blocks see while a workflow runs. ``kind_schema`` gives the JSON
schema of the structured kinds (images, predictions), as ``describe_interface`` reports them.
A kind a plugin uses that is not catalogued here is described by its name alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Kind", "catalogued_kinds", "kind", "kind_schemas", "typing_hints"]


@dataclass(frozen=True)
class Kind:
    name: str
    description: str | None = None
    docs: str | None = None
    serialised_data_type: str | None = None
    internal_data_type: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "description": self.description,
            "docs": self.docs,
            "serialised_data_type": self.serialised_data_type,
            "internal_data_type": self.internal_data_type,
        }


_DETECTIONS = "sv.Detections"
_DETECTION_DOCS = (
    "Serialised as {'image': {'width', 'height'}, 'predictions': [...]}, each prediction with the "
    "/infer fields (box centre x, y, width, height, confidence, class, class_id, detection_id) "
    "and parent_id; results on crops add parent_origin, root_parent_id and root_parent_origin."
)

# name → (description, serialised type, internal type, docs)
_CATALOGUE: dict[str, tuple[str, str, str, str | None]] = {
    "*": ("Any value", "Any", "Any", "Matches every kind; the compiler cannot check such edges."),
    "ROBOFLOW_MANAGED_KEY": ("API key managed by the platform", "str", "str", None),
    "action_recognition_prediction": ("Action recognition prediction", "dict", "dict", None),
    "bar_code_detection": ("Barcode detections", "dict", _DETECTIONS, _DETECTION_DOCS),
    "boolean": ("Boolean flag", "bool", "bool", None),
    "bytes": ("Bytes (base64 text when serialised)", "str", "bytes", None),
    "classification_prediction": (
        "Predictions of a classifier",
        "dict",
        "dict",
        "The /infer/classification body (single or multi label) plus prediction_type, "
        "parent_id and root_parent_id.",
    ),
    "contours": ("Contours, a list of point arrays", "List[list]", "List[np.ndarray]", None),
    "detection": (
        "One detection of a detections-based prediction",
        "Tuple[list, Optional[list], Optional[float], Optional[float], Optional[int], dict]",
        "Tuple[np.ndarray, Optional[np.ndarray], Optional[float], Optional[float], "
        "Optional[int], dict]",
        None,
    ),
    "detections_overlaps": (
        "List of per-pair detection overlap records",
        "List[Dict[str, Any]]",
        "List[Dict[str, Any]]",
        None,
    ),
    "dictionary": ("Dictionary", "dict", "dict", None),
    "embedding": ("Vector embedding", "List[float]", "List[float]", None),
    "float": ("Float value", "float", "float", None),
    "float_zero_to_one": ("Float value in [0.0, 1.0]", "float", "float", None),
    "image": (
        "Image",
        "dict",
        "WorkflowImage",
        "In: an image object {'type': 'base64' | 'url', 'value': ...}, a base64 string or a URL. "
        "Out: {'type': 'base64', 'value': <JPEG>, 'video_metadata': null}; crops add parent_id, "
        "parent_origin, root_parent_id and root_parent_origin.",
    ),
    "image_keypoints": ("Image keypoints of a classical CV method", "dict", "dict", None),
    "image_metadata": ("Image metadata", "dict", "dict", None),
    "inference_id": ("Inference id", "str", "str", None),
    "instance_segmentation_prediction": (
        "Predictions of an instance segmentation model",
        "dict",
        _DETECTIONS,
        _DETECTION_DOCS + " Each prediction has its polygon in points.",
    ),
    "integer": ("Integer value", "int", "int", None),
    "keypoint_detection_prediction": (
        "Predictions of a keypoint detection model",
        "dict",
        _DETECTIONS,
        _DETECTION_DOCS + " Each prediction has its keypoints.",
    ),
    "labeled_points": ("Points with labels", "list", "list", None),
    "language_model_output": ("Text produced by a language model", "str", "str", None),
    "list_of_values": ("List of values of any type", "List[Any]", "List[Any]", None),
    "numpy_array": ("Numpy array", "list", "np.ndarray", None),
    "object_detection_prediction": (
        "Predictions of an object detection model",
        "dict",
        _DETECTIONS,
        _DETECTION_DOCS,
    ),
    "parent_id": ("Identifier of the parent image", "str", "str", None),
    "point": ("A point in 2D", "Tuple[int, int]", "Tuple[int, int]", None),
    "prediction_type": ("Type of a prediction", "str", "str", None),
    "qr_code_detection": ("QR code detections", "dict", _DETECTIONS, _DETECTION_DOCS),
    "rgb_color": ("RGB color", "Tuple[int, int, int]", "Tuple[int, int, int]", None),
    "rle_instance_segmentation_prediction": (
        "Instance segmentation predictions with RLE masks",
        "dict",
        _DETECTIONS,
        None,
    ),
    "roboflow_api_key": ("API key", "str", "str", None),
    "roboflow_model_id": ("Model id (project/version)", "str", "str", None),
    "roboflow_project": ("Project name", "str", "str", None),
    "roboflow_solution": ("Solution name", "str", "str", None),
    "secret": ("Secret value", "str", "str", None),
    "semantic_segmentation_prediction": (
        "Predictions of a semantic segmentation model",
        "dict",
        "SemanticSegmentationResult",
        None,
    ),
    "serialised_payloads": (
        "Serialised payloads for sinks",
        "List[Union[str, dict]]",
        "List[Union[str, bytes, dict]]",
        None,
    ),
    "string": ("String value", "str", "str", None),
    "tensor": ("Tensor", "list", "np.ndarray", None),
    "timestamp": ("Point in time (ISO 8601 when serialised)", "str", "datetime", None),
    "top_class": ("Top class of a classifier", "str", "str", None),
    "video_metadata": ("Metadata of a video frame", "dict", "VideoMetadata", None),
    "zone": ("Polygon zone, a list of (x, y) points", "List[Tuple[int, int]]", "list", None),
}


def kind(name: str) -> Kind:
    """The catalogued description of ``name`` (its name alone when it is not catalogued)."""
    entry = _CATALOGUE.get(name)
    if entry is None:
        return Kind(name)
    description, serialised, internal, docs = entry
    return Kind(name, description, docs, serialised, internal)


def catalogued_kinds() -> list[str]:
    return sorted(_CATALOGUE)


def typing_hints(names: Iterable[str]) -> dict[str, str]:
    """Kind name → serialised Python type hint, for the catalogued names among ``names``."""
    hints: dict[str, str] = {}
    for name in sorted(set(names)):
        hint = kind(name).serialised_data_type
        if hint is not None:
            hints[name] = hint
    return hints


# -- JSON schemas of the structured kinds ---------------------------------------------------------

_NUMBER = {"type": "number"}
_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_ORIGIN = {
    "type": "object",
    "properties": {
        "offset_x": _INTEGER,
        "offset_y": _INTEGER,
        "width": _INTEGER,
        "height": _INTEGER,
    },
}
_PROVENANCE = {
    "parent_id": _STRING,
    "parent_origin": _ORIGIN,
    "root_parent_id": _STRING,
    "root_parent_origin": _ORIGIN,
}
_IMAGE_SIZE = {
    "type": "object",
    "properties": {"width": _INTEGER, "height": _INTEGER},
    "required": ["width", "height"],
}
_POINT = {"type": "object", "properties": {"x": _NUMBER, "y": _NUMBER}, "required": ["x", "y"]}
_KEYPOINT = {
    "type": "object",
    "properties": {
        "x": _NUMBER,
        "y": _NUMBER,
        "confidence": _NUMBER,
        "class_id": _INTEGER,
        "class": _STRING,
    },
}


def _detections_schema(title: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    prediction = {
        "type": "object",
        "properties": {
            "x": _NUMBER,
            "y": _NUMBER,
            "width": _NUMBER,
            "height": _NUMBER,
            "confidence": _NUMBER,
            "class": _STRING,
            "class_id": _INTEGER,
            "detection_id": _STRING,
            "tracker_id": {"type": ["integer", "null"]},
            **_PROVENANCE,
            **(extra or {}),
        },
        "required": ["x", "y", "width", "height", "confidence", "class", "class_id"],
    }
    return {
        "title": title,
        "type": "object",
        "properties": {"image": _IMAGE_SIZE, "predictions": {"type": "array", "items": prediction}},
        "required": ["image", "predictions"],
    }


def _classification_schemas() -> list[dict[str, Any]]:
    common = {
        "image": _IMAGE_SIZE,
        "inference_id": _STRING,
        "prediction_type": _STRING,
        "parent_id": _STRING,
        "root_parent_id": _STRING,
    }
    single = {
        "title": "MultiClassClassification",
        "type": "object",
        "properties": {
            **common,
            "predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"class": _STRING, "class_id": _INTEGER, "confidence": _NUMBER},
                },
            },
            "top": _STRING,
            "confidence": _NUMBER,
        },
        "required": ["image", "predictions", "top", "confidence"],
    }
    multi = {
        "title": "MultiLabelClassification",
        "type": "object",
        "properties": {
            **common,
            "predictions": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"confidence": _NUMBER, "class_id": _INTEGER},
                },
            },
            "predicted_classes": {"type": "array", "items": _STRING},
        },
        "required": ["image", "predictions", "predicted_classes"],
    }
    return [single, multi]


def _image_schema() -> dict[str, Any]:
    return {
        "title": "Image",
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["base64", "url"]},
            "value": _STRING,
            "video_metadata": {"type": ["object", "null"]},
            **_PROVENANCE,
        },
        "required": ["type", "value"],
    }


def _schemas() -> dict[str, dict[str, Any] | list[dict[str, Any]]]:
    return {
        "image": _image_schema(),
        "object_detection_prediction": _detections_schema("ObjectDetection"),
        "instance_segmentation_prediction": _detections_schema(
            "InstanceSegmentation", {"points": {"type": "array", "items": _POINT}}
        ),
        "keypoint_detection_prediction": _detections_schema(
            "KeypointDetection", {"keypoints": {"type": "array", "items": _KEYPOINT}}
        ),
        "classification_prediction": _classification_schemas(),
    }


def kind_schemas(names: Iterable[str]) -> dict[str, dict[str, Any] | list[dict[str, Any]]]:
    """Kind name → JSON schema of its serialised form (a list: one of those), for the structured
    kinds among ``names``."""
    wanted = set(names)
    return {name: schema for name, schema in _schemas().items() if name in wanted}
