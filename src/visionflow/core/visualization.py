"""Drawing results with supervision annotators (returns new pixels; never writes files)."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import CLASS_NAME, KEYPOINTS_CONFIDENCE, KEYPOINTS_XY
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult

__all__ = [
    "MAX_ANGLE_DEG",
    "MAX_COORDINATE_PX",
    "MAX_DRAWING_PX",
    "MAX_PALETTE_COLORS",
    "MAX_TEXT_SCALE",
    "MAX_TRACE_POINTS",
    "MAX_ZONES",
    "MAX_ZOOM",
    "MAX_ZOOMED_PIXELS",
    "annotate",
    "annotate_detections",
    "drawable_text",
    "encode_jpeg",
    "encode_jpeg_base64",
]


def drawable_text(text: str) -> str:
    """``text`` with unpaired UTF-16 surrogates replaced by U+FFFD: OpenCV's ``putText`` (and
    so every supervision label annotator) crashes the process on one. Class names from model
    files, provider replies and OCR can hold them; the HTTP layer only screens request bodies."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


Result = sv.Detections | ClassificationResult | SemanticSegmentationResult

# The ranges drawing parameters must lie in. OpenCV asserts past a thickness of 32767 px and
# overflows 32-bit coordinates, and large sizes cost time and memory without showing more (a
# blur kernel or text padding of a million px, a crop zoomed a thousand times).
MAX_DRAWING_PX = 1000  # thickness, outline, border, radius, padding, kernel, pixel, corner sizes
MAX_TEXT_SCALE = 100.0  # OpenCV's font scale (1.0: ~22 px high text)
MAX_ANGLE_DEG = 360  # arc start and end angles, each within [-360, 360]
MAX_PALETTE_COLORS = 1000
MAX_TRACE_POINTS = 10_000  # positions a track's trace keeps
MAX_ZOOM = 10.0  # a zoomed crop's scale factor
MAX_ZOOMED_PIXELS = 16 * 1024 * 1024  # pixels of one zoomed crop
# Zones drawn from request coordinates: filling a polygon costs time in proportion to how far
# it reaches (a vertex at -2**31 px takes ten seconds), once per polygon.
MAX_COORDINATE_PX = 100_000  # each point's x and y, within [-MAX, MAX]
MAX_ZONES = 1000  # polygons one step draws


def annotate_detections(
    image_bgr: npt.NDArray[np.uint8],
    detections: sv.Detections,
    *,
    labels: bool = True,
    stroke_width: int = 2,
) -> npt.NDArray[np.uint8]:
    """A copy of ``image_bgr`` with masks, boxes, keypoints and (optionally) labels drawn."""
    canvas = image_bgr.copy()
    if len(detections) == 0:
        return canvas
    if detections.mask is not None:
        canvas = sv.MaskAnnotator(opacity=0.45).annotate(canvas, detections)
    canvas = sv.BoxAnnotator(thickness=max(1, stroke_width)).annotate(canvas, detections)
    if KEYPOINTS_XY in detections.data:
        # Positional: the confidence argument was renamed across supervision releases.
        key_points = sv.KeyPoints(
            np.asarray(detections.data[KEYPOINTS_XY], dtype=np.float32),
            None,
            np.asarray(detections.data[KEYPOINTS_CONFIDENCE], dtype=np.float32),
        )
        canvas = sv.VertexAnnotator(radius=max(2, stroke_width + 1)).annotate(canvas, key_points)
    if labels:
        names = detections.data.get(CLASS_NAME)
        confidences = detections.confidence
        texts = [
            drawable_text(
                f"{names[i] if names is not None else i}"
                + (f" {confidences[i]:.2f}" if confidences is not None else "")
            )
            for i in range(len(detections))
        ]
        canvas = sv.LabelAnnotator(text_scale=0.4, text_padding=3).annotate(
            canvas, detections, labels=texts
        )
    return np.asarray(canvas, dtype=np.uint8)


def _annotate_classification(
    image_bgr: npt.NDArray[np.uint8], result: ClassificationResult
) -> npt.NDArray[np.uint8]:
    canvas = image_bgr.copy()
    order = np.argsort(-result.scores)[:3]
    for row, index in enumerate(order.tolist()):
        text = drawable_text(f"{result.class_names[index]} {result.scores[index]:.2f}")
        origin = (8, 22 + 22 * row)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return canvas


def _annotate_semantic(
    image_bgr: npt.NDArray[np.uint8], result: SemanticSegmentationResult
) -> npt.NDArray[np.uint8]:
    palette = sv.ColorPalette.DEFAULT
    colours = np.array(
        [palette.by_idx(i).as_bgr() for i in range(len(result.class_names))], dtype=np.uint8
    )
    overlay = colours[np.clip(result.class_ids, 0, len(colours) - 1)]
    # Class 0 is conventionally background: leave it unpainted.
    painted = result.class_ids > 0
    blended = cv2.addWeighted(image_bgr, 0.5, overlay, 0.5, 0)
    return np.where(painted[..., None], blended, image_bgr).astype(np.uint8)


def annotate(
    image_bgr: npt.NDArray[np.uint8], result: Result, *, labels: bool = True, stroke_width: int = 2
) -> npt.NDArray[np.uint8]:
    """Draw any task's result on a copy of the image."""
    if isinstance(result, ClassificationResult):
        return _annotate_classification(image_bgr, result)
    if isinstance(result, SemanticSegmentationResult):
        return _annotate_semantic(image_bgr, result)
    return annotate_detections(image_bgr, result, labels=labels, stroke_width=stroke_width)


def encode_jpeg(image_bgr: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def encode_jpeg_base64(image_bgr: npt.NDArray[np.uint8], quality: int = 90) -> str:
    return base64.b64encode(encode_jpeg(image_bgr, quality)).decode("ascii")
