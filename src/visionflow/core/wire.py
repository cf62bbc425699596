"""The Roboflow-compatible wire format for model results (JSON-ready dicts).

Null fields are omitted, as the reference serializes with ``exclude_none``; a box is written as
its centre, width and height in original-image pixels, the class name under the key ``class``.
"""

from __future__ import annotations

from typing import Any

import supervision as sv

from visionflow.core.detections import CLASS_NAME, DETECTION_ID, PARENT_ID

__all__ = ["detection_predictions", "object_detection_response"]


def detection_predictions(detections: sv.Detections) -> list[dict[str, Any]]:
    """One wire prediction per detection: ``x, y`` (centre), ``width, height``, ``confidence``,
    ``class``, ``class_id``, ``detection_id`` (+ ``tracker_id`` / ``parent_id`` when set)."""
    predictions: list[dict[str, Any]] = []
    names = detections.data.get(CLASS_NAME)
    ids = detections.data.get(DETECTION_ID)
    parents = detections.data.get(PARENT_ID)
    for index in range(len(detections)):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
        class_id = int(detections.class_id[index]) if detections.class_id is not None else 0
        item: dict[str, Any] = {
            "x": (x1 + x2) / 2,
            "y": (y1 + y2) / 2,
            "width": x2 - x1,
            "height": y2 - y1,
            "confidence": (
                float(detections.confidence[index]) if detections.confidence is not None else 1.0
            ),
            "class": str(names[index]) if names is not None else str(class_id),
            "class_id": class_id,
        }
        if detections.tracker_id is not None:
            item["tracker_id"] = int(detections.tracker_id[index])
        if ids is not None:
            item["detection_id"] = str(ids[index])
        if parents is not None and parents[index] is not None:
            item["parent_id"] = str(parents[index])
        predictions.append(item)
    return predictions


def object_detection_response(
    detections: sv.Detections,
    *,
    image_wh: tuple[int, int],
    inference_id: str | None,
    time_s: float | None,
    visualization: str | None = None,
) -> dict[str, Any]:
    """``ObjectDetectionInferenceResponse``: envelope + ``predictions``."""
    body: dict[str, Any] = {}
    if inference_id is not None:
        body["inference_id"] = inference_id
    if time_s is not None:
        body["time"] = time_s
    body["image"] = {"width": int(image_wh[0]), "height": int(image_wh[1])}
    body["predictions"] = detection_predictions(detections)
    if visualization is not None:
        body["visualization"] = visualization
    return body
