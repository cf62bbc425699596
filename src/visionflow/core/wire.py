"""The Roboflow-compatible wire format for model results (JSON-ready dicts).

Null fields are omitted, as the reference serializes with ``exclude_none``; a box is written as
its centre, width and height in original-image pixels, the class name under the key ``class``.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv

from visionflow.core.detections import (
    CLASS_NAME,
    DETECTION_ID,
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    PARENT_ID,
    POLYGON,
)
from visionflow.core.masks import mask_to_rle
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult

__all__ = [
    "TASK_ROUTES",
    "MaskFormat",
    "classification_response",
    "detection_predictions",
    "object_detection_response",
    "semantic_segmentation_response",
]

MaskFormat = Literal["polygon", "rle"]

# The v1 route of each task type (what /model/registry reports and clients route by).
TASK_ROUTES = {
    "object-detection": "/infer/object_detection",
    "instance-segmentation": "/infer/instance_segmentation",
    "keypoint-detection": "/infer/keypoints_detection",
    "classification": "/infer/classification",
    "semantic-segmentation": "/infer/semantic_segmentation",
    "open-vocabulary-detection": "/yolo_world/infer",
}


def _keypoints(
    detections: sv.Detections, index: int, min_confidence: float
) -> list[dict[str, Any]]:
    xy = detections.data[KEYPOINTS_XY][index]
    scores = detections.data[KEYPOINTS_CONFIDENCE][index]
    names = detections.data[KEYPOINTS_CLASS_NAME][index]
    return [
        {
            "x": float(xy[k, 0]),
            "y": float(xy[k, 1]),
            "confidence": float(scores[k]),
            "class_id": k,
            "class": str(names[k]),
        }
        for k in range(len(scores))
        if scores[k] > min_confidence
    ]


def detection_predictions(
    detections: sv.Detections,
    *,
    mask_format: MaskFormat = "polygon",
    keypoint_confidence: float = 0.0,
) -> list[dict[str, Any]]:
    """One wire prediction per detection: ``x, y`` (centre), ``width, height``, ``confidence``,
    ``class``, ``class_id``, ``detection_id`` (+ ``tracker_id`` / ``parent_id`` when set); instance
    segmentation adds ``points`` (or ``rle``) and ``mask_format``; keypoint detection adds
    ``keypoints`` whose confidence is above ``keypoint_confidence``."""
    predictions: list[dict[str, Any]] = []
    count = len(detections)
    names = detections.data.get(CLASS_NAME)
    ids = detections.data.get(DETECTION_ID)
    parents = detections.data.get(PARENT_ID)
    polygons = detections.data.get(POLYGON)
    has_keypoints = KEYPOINTS_XY in detections.data
    # Whole columns converted to Python floats at once (to float64, then arithmetic in float64,
    # as per-element ``float()`` gave): hundreds of boxes cost a few list passes.
    x1, y1, x2, y2 = np.asarray(detections.xyxy).reshape(-1, 4).astype(np.float64).T.tolist()
    class_ids = (
        np.asarray(detections.class_id).astype(np.int64).tolist()
        if detections.class_id is not None
        else [0] * count
    )
    confidences = (
        np.asarray(detections.confidence).astype(np.float64).tolist()
        if detections.confidence is not None
        else [1.0] * count
    )
    class_names = (
        [str(name) for name in names] if names is not None else [str(c) for c in class_ids]
    )
    tracker_ids = (
        np.asarray(detections.tracker_id).astype(np.int64).tolist()
        if detections.tracker_id is not None
        else None
    )
    for index in range(count):
        left, top, right, bottom = x1[index], y1[index], x2[index], y2[index]
        item: dict[str, Any] = {
            "x": (left + right) / 2,
            "y": (top + bottom) / 2,
            "width": right - left,
            "height": bottom - top,
            "confidence": confidences[index],
            "class": class_names[index],
            "class_id": class_ids[index],
        }
        if tracker_ids is not None:
            item["tracker_id"] = tracker_ids[index]
        if ids is not None:
            item["detection_id"] = str(ids[index])
        if parents is not None and parents[index] is not None:
            item["parent_id"] = str(parents[index])
        if polygons is not None:
            if mask_format == "rle" and detections.mask is not None:
                item["rle"] = mask_to_rle(detections.mask[index])
            else:
                item["points"] = [
                    {"x": x, "y": y}
                    for x, y in np.asarray(polygons[index], dtype=np.float64)
                    .reshape(-1, 2)
                    .tolist()
                ]
            item["mask_format"] = mask_format if detections.mask is not None else "polygon"
        if has_keypoints:
            item["keypoints"] = _keypoints(detections, index, keypoint_confidence)
        predictions.append(item)
    return predictions


def _envelope(
    image_wh: tuple[int, int], inference_id: str | None, time_s: float | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if inference_id is not None:
        body["inference_id"] = inference_id
    if time_s is not None:
        body["time"] = time_s
    body["image"] = {"width": int(image_wh[0]), "height": int(image_wh[1])}
    return body


def object_detection_response(
    detections: sv.Detections,
    *,
    image_wh: tuple[int, int],
    inference_id: str | None,
    time_s: float | None,
    visualization: str | None = None,
    mask_format: MaskFormat = "polygon",
    keypoint_confidence: float = 0.0,
) -> dict[str, Any]:
    """The object detection, instance segmentation and keypoint responses: envelope +
    ``predictions`` (+ ``visualization``)."""
    body = _envelope(image_wh, inference_id, time_s)
    body["predictions"] = detection_predictions(
        detections, mask_format=mask_format, keypoint_confidence=keypoint_confidence
    )
    if visualization is not None:
        body["visualization"] = visualization
    return body


def classification_response(
    result: ClassificationResult,
    *,
    image_wh: tuple[int, int],
    inference_id: str | None,
    time_s: float | None,
    confidence: float,
    visualization: str | None = None,
) -> dict[str, Any]:
    """Single label: ``predictions`` (scores >= confidence, 4 decimals, best first), ``top``,
    ``confidence``. Multi-label: ``predictions`` as a dict over every class and
    ``predicted_classes`` (scores strictly above the threshold)."""
    body = _envelope(image_wh, inference_id, time_s)
    scores = result.scores
    if result.multilabel:
        body["predictions"] = {
            name: {"confidence": float(scores[i]), "class_id": i}
            for i, name in enumerate(result.class_names)
        }
        body["predicted_classes"] = [
            name for i, name in enumerate(result.class_names) if scores[i] > confidence
        ]
    else:
        order = np.argsort(-scores, kind="stable")
        predictions = [
            {
                "class": result.class_names[i],
                "class_id": int(i),
                "confidence": round(float(scores[i]), 4),
            }
            for i in order
            if scores[i] >= confidence
        ]
        body["predictions"] = predictions
        body["top"] = predictions[0]["class"] if predictions else ""
        body["confidence"] = predictions[0]["confidence"] if predictions else 0.0
    if visualization is not None:
        body["visualization"] = visualization
    return body


def _png_base64(plane: np.ndarray) -> str:
    ok, buffer = cv2.imencode(".png", plane)
    if not ok:
        raise ValueError("PNG encoding failed")
    return base64.b64encode(buffer.tobytes()).decode("ascii")


def semantic_segmentation_response(
    result: SemanticSegmentationResult,
    *,
    image_wh: tuple[int, int],
    inference_id: str | None,
    time_s: float | None,
    visualization: str | None = None,
) -> dict[str, Any]:
    """``predictions`` is an object: ``segmentation_mask`` (PNG of class ids), ``class_map``,
    ``confidence_mask`` (PNG, confidence x 255, truncated) and ``present_class_ids``."""
    body = _envelope(image_wh, inference_id, time_s)
    dtype = np.uint8 if len(result.class_names) <= 256 else np.uint16
    body["predictions"] = {
        "segmentation_mask": _png_base64(result.class_ids.astype(dtype)),
        "class_map": {str(i): name for i, name in enumerate(result.class_names)},
        # confidence x 255 truncated to uint8 in float32, as the reference converts it.
        "confidence_mask": _png_base64(
            (np.clip(result.confidence, 0, 1).astype(np.float32) * np.float32(255)).astype(np.uint8)
        ),
        "present_class_ids": [int(v) for v in np.unique(result.class_ids)],
    }
    if visualization is not None:
        body["visualization"] = visualization
    return body
