"""Kinds: the names that type-check workflow edges (wire reference §6.10).

A selector may feed a field when the kinds it produces and the kinds the field accepts share a
name; the wildcard ``*`` on either side matches everything.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BAR_CODE_DETECTION",
    "BOOLEAN",
    "BYTES",
    "CLASSIFICATION_PREDICTION",
    "CONTOURS",
    "DETECTION",
    "DETECTION_KINDS",
    "DICTIONARY",
    "EMBEDDING",
    "FLOAT",
    "FLOAT_ZERO_TO_ONE",
    "IMAGE",
    "IMAGE_METADATA",
    "INFERENCE_ID",
    "INSTANCE_SEGMENTATION_PREDICTION",
    "INTEGER",
    "KEYPOINT_DETECTION_PREDICTION",
    "LANGUAGE_MODEL_OUTPUT",
    "LIST_OF_VALUES",
    "NUMPY_ARRAY",
    "OBJECT_DETECTION_PREDICTION",
    "PARENT_ID",
    "POINT",
    "PREDICTION_TYPE",
    "QR_CODE_DETECTION",
    "RGB_COLOR",
    "RLE_INSTANCE_SEGMENTATION_PREDICTION",
    "ROBOFLOW_API_KEY",
    "ROBOFLOW_MODEL_ID",
    "ROBOFLOW_PROJECT",
    "SECRET",
    "SEMANTIC_SEGMENTATION_PREDICTION",
    "SERIALISED_PAYLOADS",
    "STRING",
    "TIMESTAMP",
    "TOP_CLASS",
    "VIDEO_METADATA",
    "WILDCARD",
    "ZONE",
    "kinds_compatible",
]

WILDCARD = "*"
IMAGE = "image"
BOOLEAN = "boolean"
INTEGER = "integer"
FLOAT = "float"
FLOAT_ZERO_TO_ONE = "float_zero_to_one"
STRING = "string"
LIST_OF_VALUES = "list_of_values"
DICTIONARY = "dictionary"
EMBEDDING = "embedding"
RGB_COLOR = "rgb_color"
INFERENCE_ID = "inference_id"
ROBOFLOW_MODEL_ID = "roboflow_model_id"
ROBOFLOW_PROJECT = "roboflow_project"
OBJECT_DETECTION_PREDICTION = "object_detection_prediction"
INSTANCE_SEGMENTATION_PREDICTION = "instance_segmentation_prediction"
RLE_INSTANCE_SEGMENTATION_PREDICTION = "rle_instance_segmentation_prediction"
KEYPOINT_DETECTION_PREDICTION = "keypoint_detection_prediction"
SEMANTIC_SEGMENTATION_PREDICTION = "semantic_segmentation_prediction"
CLASSIFICATION_PREDICTION = "classification_prediction"
BAR_CODE_DETECTION = "bar_code_detection"
BYTES = "bytes"
CONTOURS = "contours"
DETECTION = "detection"
IMAGE_METADATA = "image_metadata"
LANGUAGE_MODEL_OUTPUT = "language_model_output"
NUMPY_ARRAY = "numpy_array"
PARENT_ID = "parent_id"
POINT = "point"
PREDICTION_TYPE = "prediction_type"
QR_CODE_DETECTION = "qr_code_detection"
ROBOFLOW_API_KEY = "roboflow_api_key"
SECRET = "secret"
SERIALISED_PAYLOADS = "serialised_payloads"
TIMESTAMP = "timestamp"
TOP_CLASS = "top_class"
VIDEO_METADATA = "video_metadata"
ZONE = "zone"

# What the detection-consuming blocks accept.
DETECTION_KINDS = (
    OBJECT_DETECTION_PREDICTION,
    INSTANCE_SEGMENTATION_PREDICTION,
    KEYPOINT_DETECTION_PREDICTION,
)


def kinds_compatible(accepted: Iterable[str], produced: Iterable[str]) -> bool:
    """Whether data of ``produced`` kinds may flow into a field accepting ``accepted`` kinds."""
    accepted_set, produced_set = set(accepted), set(produced)
    if WILDCARD in accepted_set or WILDCARD in produced_set:
        return True
    return bool(accepted_set & produced_set)
