"""Drawing detections with supervision annotators (returns new pixels; never writes files)."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import CLASS_NAME

__all__ = ["annotate_detections", "encode_jpeg", "encode_jpeg_base64"]


def annotate_detections(
    image_bgr: npt.NDArray[np.uint8],
    detections: sv.Detections,
    *,
    labels: bool = True,
    stroke_width: int = 2,
) -> npt.NDArray[np.uint8]:
    """A copy of ``image_bgr`` with boxes (and ``class confidence`` labels) drawn on it."""
    canvas = image_bgr.copy()
    if len(detections) == 0:
        return canvas
    canvas = sv.BoxAnnotator(thickness=max(1, stroke_width)).annotate(canvas, detections)
    if labels:
        names = detections.data.get(CLASS_NAME)
        confidences = detections.confidence
        texts = [
            f"{names[i] if names is not None else i}"
            + (f" {confidences[i]:.2f}" if confidences is not None else "")
            for i in range(len(detections))
        ]
        canvas = sv.LabelAnnotator(text_scale=0.4, text_padding=3).annotate(
            canvas, detections, labels=texts
        )
    return np.asarray(canvas, dtype=np.uint8)


def encode_jpeg(image_bgr: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def encode_jpeg_base64(image_bgr: npt.NDArray[np.uint8], quality: int = 90) -> str:
    return base64.b64encode(encode_jpeg(image_bgr, quality)).decode("ascii")
