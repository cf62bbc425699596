"""Building ``supervision.Detections``, the one result type of every detection-like task.

Conventions for ``Detections.data`` keys: ``class_name`` (``(N,)`` str), ``detection_id``
(``(N,)`` str, uuid4), and optionally ``parent_id``, ``polygon`` and the keypoint keys below.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import supervision as sv

__all__ = [
    "CLASS_NAME",
    "DETECTION_ID",
    "KEYPOINTS_CLASS_NAME",
    "KEYPOINTS_CONFIDENCE",
    "KEYPOINTS_XY",
    "PARENT_ID",
    "POLYGON",
    "empty_detections",
    "make_detections",
]

CLASS_NAME = "class_name"
DETECTION_ID = "detection_id"
PARENT_ID = "parent_id"
# Instance segmentation: per detection a (K, 2) float32 polygon in image pixels.
POLYGON = "polygon"
# Keypoints: (N, K, 2) float32 image pixels, (N, K) float32 scores, per detection a list of names.
KEYPOINTS_XY = "keypoints_xy"
KEYPOINTS_CONFIDENCE = "keypoints_confidence"
KEYPOINTS_CLASS_NAME = "keypoints_class_name"


def make_detections(
    xyxy: npt.NDArray[np.floating],
    confidence: npt.NDArray[np.floating],
    class_id: npt.NDArray[np.integer],
    class_names: Sequence[str],
) -> sv.Detections:
    """Detections from ``(N, 4)`` boxes, ``(N,)`` scores and ``(N,)`` class ids; names looked up."""
    ids = np.asarray(class_id, dtype=np.int64).reshape(-1)
    names = [class_names[i] if 0 <= i < len(class_names) else str(i) for i in ids.tolist()]
    count = ids.shape[0]
    return sv.Detections(
        xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
        confidence=np.asarray(confidence, dtype=np.float32).reshape(-1),
        class_id=ids,
        data={
            CLASS_NAME: np.array(names, dtype=object).reshape(count),
            DETECTION_ID: np.array([str(uuid.uuid4()) for _ in range(count)], dtype=object),
        },
    )


def empty_detections() -> sv.Detections:
    return make_detections(
        np.zeros((0, 4), dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.zeros(0, dtype=np.int64),
        [],
    )
