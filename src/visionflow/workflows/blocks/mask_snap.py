"""``mask_edge_snap``: instance masks whose outlines are moved onto the image's strong edges
nearby (adaptive-threshold Sobel edges in a band around each mask), as the reference does."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.classical_cv import to_gray
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    FloatSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["MASK_SNAP_BLOCKS", "MaskEdgeSnapV1", "thin_once"]

Mask = npt.NDArray[np.uint8]
_MasksSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INSTANCE_SEGMENTATION_PREDICTION,))
]
# The contour points either side of a point that give its tangent.
TANGENT_WINDOW = 5
# Pixels of the edge search: masks up to this many outline points x tolerance are refined.
MAX_TOLERANCE_PX = 100


def thin_once(image: Mask) -> Mask:
    """One Zhang-Suen thinning iteration (both sub-iterations): peels one layer of pixels whose
    removal keeps the shape connected."""
    img = (image > 0).astype(np.uint8)
    if img.shape[0] < 3 or img.shape[1] < 3:
        return np.asarray(img * 255, dtype=np.uint8)

    def around(a: Mask) -> list[Mask]:
        return [
            a[:-2, 1:-1], a[:-2, 2:], a[1:-1, 2:], a[2:, 2:],
            a[2:, 1:-1], a[2:, :-2], a[1:-1, :-2], a[:-2, :-2],
        ]  # fmt: skip

    def removable(p1: Mask, n: list[Mask]) -> Any:
        count = sum(x.astype(np.int16) for x in n)
        transitions = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int16) for i in range(8))
        return (p1 == 1) & (count >= 2) & (count <= 6) & (transitions == 1)

    for first in (True, False):
        p1 = img[1:-1, 1:-1]
        n = around(img)
        p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
        if first:
            extra = ((p2 * p4 * p6) == 0) & ((p4 * p6 * p8) == 0)
        else:
            extra = ((p2 * p4 * p8) == 0) & ((p2 * p6 * p8) == 0)
        img[1:-1, 1:-1] = np.where(removable(p1, n) & extra, 0, p1)
    return np.asarray(img * 255, dtype=np.uint8)


class MaskEdgeSnapManifestV1(StepManifest):
    image: ImageSelector
    segmentation: _MasksSelector
    pixel_tolerance: int | IntegerSelector = 15
    sigma: float | FloatSelector = 1.0
    min_contour_area: float | FloatSelector = 50.0
    dilation_iterations: int | IntegerSelector = 2
    boundary_band_width: int | IntegerSelector = 15
    adaptive_window_size: int | IntegerSelector = 41


def _sized(mask: Any, height: int, width: int) -> Mask:
    m = np.asarray(mask, dtype=np.uint8)
    if m.shape[:2] != (height, width):
        m = np.asarray(cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST), np.uint8)
    return m


def _edges(inputs: StepInputs, gray: Mask, masks: list[Mask]) -> tuple[Any, Mask]:
    """The Sobel magnitude and the snap region: adaptive-threshold edges, closed and thinned,
    inside the band around the masks, in components of at least ``min_contour_area``."""
    height, width = gray.shape
    radius = max(1, inputs.as_int("boundary_band_width"))
    band_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (radius * 2 + 1, radius * 2 + 1))
    band = np.zeros((height, width), np.uint8) if masks else np.ones((height, width), np.uint8)
    for m in masks:
        inner, outer = cv2.erode(m, band_kernel), cv2.dilate(m, band_kernel)
        band = np.maximum(band, ((outer > 0) & (inner == 0)).astype(np.uint8))
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    window = max(3, inputs.as_int("adaptive_window_size"))
    window += 1 - window % 2
    mean = cv2.boxFilter(magnitude, cv2.CV_32F, (window, window))
    mean_sq = cv2.boxFilter(magnitude * magnitude, cv2.CV_32F, (window, window))
    spread = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    edges = (magnitude > mean + inputs.as_float("sigma") * spread).astype(np.uint8) * 255
    iterations = max(0, inputs.as_int("dilation_iterations"))
    if iterations > 0:
        close = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        edges = np.asarray(
            cv2.morphologyEx(edges, cv2.MORPH_CLOSE, close, iterations=iterations), np.uint8
        )
        edges = thin_once(edges)
    candidates = (edges * band).astype(np.uint8) if masks else edges.copy()
    least = max(0.0, inputs.as_float("min_contour_area"))
    count, labels, _stats, _centroids = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    kept = np.zeros((height, width), np.uint8)
    for label in range(1, count):
        component = (labels == label).astype(np.uint8)
        contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if contours and cv2.contourArea(max(contours, key=cv2.contourArea)) >= least:
            kept[labels == label] = 255
    return magnitude, kept


def _snap(mask: Mask, snap: Any, magnitude: Any, tolerance: int) -> npt.NDArray[np.bool_]:
    """``mask`` with each outline point moved along its normal (up to ``tolerance`` px) to the
    snap pixel scoring best (edge strength x closeness)."""
    height, width = mask.shape
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    grown = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    valid = snap & ((distance <= tolerance) | (grown == 0))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return mask.astype(bool)
    refined_mask = np.zeros((height, width), np.uint8)
    for contour in contours:
        points = contour.reshape(-1, 2).astype(np.float32)
        refined = points.copy()
        total = len(points)
        for i in range(total):
            px, py = points[i]
            tangent = points[(i + TANGENT_WINDOW) % total] - points[(i - TANGENT_WINDOW) % total]
            length = float(np.linalg.norm(tangent))
            if length < 1e-6:
                continue
            tangent /= length
            nx, ny = -tangent[1], tangent[0]
            best, best_at = 0.0, None
            for sign in (1.0, -1.0):
                for d in range(1, tolerance + 1):
                    sx, sy = round(px + sign * nx * d), round(py + sign * ny * d)
                    if 0 <= sx < width and 0 <= sy < height and valid[sy, sx]:
                        score = float(magnitude[sy, sx]) * (1.0 - d / (tolerance + 1))
                        if score > best:
                            best, best_at = score, (sx, sy)
            if best_at is not None:
                refined[i] = best_at
        cv2.fillPoly(refined_mask, [refined.reshape(-1, 1, 2).astype(np.int32)], color=1)
    return refined_mask.astype(bool)


class MaskEdgeSnapV1(Block):
    """``refined_segmentation``: the masks of ``segmentation`` snapped to nearby edges (boxes,
    classes and data kept); ``edges``: the edge pixels used, as one ``edges`` detection (none
    when there are none). Without masks the segmentation is passed on unchanged."""

    type = "roboflow_core/mask_edge_snap@v1"
    manifest = MaskEdgeSnapManifestV1
    outputs = (
        OutputDefinition("refined_segmentation", (k.INSTANCE_SEGMENTATION_PREDICTION,)),
        OutputDefinition("edges", (k.INSTANCE_SEGMENTATION_PREDICTION,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        segmentation = inputs.detections("segmentation")
        tolerance = inputs.as_int("pixel_tolerance", low=0, high=MAX_TOLERANCE_PX)
        gray = to_gray(image.pixels_bgr)
        height, width = gray.shape
        has_masks = segmentation.mask is not None and len(segmentation) > 0
        masks = [_sized(m, height, width) for m in segmentation.mask] if has_masks else []  # type: ignore[union-attr]
        magnitude, kept = _edges(inputs, gray, masks)
        snap = kept > 0
        edges = self._edges_detection(snap)
        attach_lineage(edges, image.lineage)
        if not has_masks:
            return {"refined_segmentation": segmentation, "edges": edges}
        refined = np.stack([_snap(m, snap, magnitude, tolerance) for m in masks], axis=0)
        result = sv.Detections(
            xyxy=segmentation.xyxy.copy(),
            mask=refined,
            confidence=segmentation.confidence,
            class_id=segmentation.class_id,
            tracker_id=segmentation.tracker_id,
            data=dict(segmentation.data),
            metadata=dict(segmentation.metadata),
        )
        lineage = lineage_of(segmentation)
        if lineage is not None:
            attach_lineage(result, lineage)
        return {"refined_segmentation": result, "edges": edges}

    @staticmethod
    def _edges_detection(snap: Any) -> sv.Detections:
        if not snap.any():
            return sv.Detections(
                xyxy=np.zeros((0, 4), np.float32),
                mask=np.zeros((0, *snap.shape), dtype=bool),
                confidence=np.zeros(0, np.float32),
                class_id=np.zeros(0, int),
                data={
                    CLASS_NAME: np.array([], dtype=object),
                    DETECTION_ID: np.array([], dtype=object),
                },
            )
        ys, xs = np.where(snap)
        return sv.Detections(
            xyxy=np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=np.float32),
            mask=snap[None, :, :],
            confidence=np.array([1.0], dtype=np.float32),
            class_id=np.array([0], dtype=int),
            data={
                CLASS_NAME: np.array(["edges"], dtype=object),
                DETECTION_ID: np.array([str(uuid.uuid4())], dtype=object),
            },
        )


MASK_SNAP_BLOCKS: tuple[type[Block], ...] = (MaskEdgeSnapV1,)
