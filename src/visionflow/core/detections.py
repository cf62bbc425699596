"""Building ``supervision.Detections``, the one result type of every detection-like task.

Conventions for ``Detections.data`` keys: ``class_name`` (``(N,)`` str), ``detection_id``
(``(N,)`` str, uuid4), and optionally ``parent_id``, ``polygon`` and the keypoint keys below.
"""

from __future__ import annotations

import os
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
    "random_uuid4s",
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


def random_uuid4s(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as canonical strings, from one ``os.urandom`` read:
    what ``str(uuid.uuid4())`` gives, ~4x faster for hundreds of detections."""
    octets = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    octets[:, 6] = (octets[:, 6] & 0x0F) | 0x40  # version 4
    octets[:, 8] = (octets[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = octets.tobytes().hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-{digits[i + 12 : i + 16]}-"
        f"{digits[i + 16 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


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
            DETECTION_ID: np.array(random_uuid4s(count), dtype=object).reshape(count),
        },
    )


def empty_detections() -> sv.Detections:
    return make_detections(
        np.zeros((0, 4), dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.zeros(0, dtype=np.int64),
        [],
    )
