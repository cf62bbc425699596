"""``dynamic_zone``: a convex polygon zone with ``required_number_of_vertices`` corners from
each instance mask (e.g. a court or a road from a segmentation model), as the reference makes
it: the convex hull of the mask's longest outer contour, simplified by Douglas-Peucker with an
epsilon found by bisection (at most 1000 steps), optionally refined by fitting least-squares
lines to the contour between corners, padded (last vertex repeated) or cut to the required
count, and scaled about its centroid by ``scale_ratio``."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import POLYGON
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "DYNAMIC_ZONE_BLOCKS",
    "DynamicZoneV1",
    "least_squares_polygon",
    "scale_polygon",
    "simplified_polygon",
]

Points = npt.NDArray[Any]
MAX_STEPS = 1000

MasksSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INSTANCE_SEGMENTATION_PREDICTION,))
]


class DynamicZoneManifest(StepManifest):
    predictions: MasksSelector
    required_number_of_vertices: int | IntegerSelector
    scale_ratio: float | FloatSelector = 1
    apply_least_squares: bool | BooleanSelector = False
    midpoint_fraction: float | FloatZeroToOneSelector = 1


def mask_contours(mask: npt.NDArray[Any]) -> list[Points]:
    """The mask's outer contours of 3+ points, each ``(K, 2) int32`` x/y."""
    contours, _ = cv2.findContours(
        np.asarray(mask).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [np.squeeze(c, axis=1) for c in contours if c.shape[0] >= 3]


def simplified_polygon(contours: list[Points], vertices: int) -> tuple[Points, Points]:
    """The convex hull of the longest contour simplified towards ``vertices`` corners
    ``(V, 2) int32``, and that contour."""
    longest = max(contours, key=len)
    hull = cv2.convexHull(longest, returnPoints=True, clockwise=True)
    upper = cv2.arcLength(hull, True)
    lower = 0.0000001
    epsilon = lower + upper / 2
    polygon = cv2.approxPolyDP(hull, epsilon, True)
    for _ in range(MAX_STEPS):
        if len(polygon) == vertices:
            break
        if len(polygon) > vertices:
            lower = epsilon
        else:
            upper = epsilon
        epsilon = lower + (upper - lower) / 2
        polygon = cv2.approxPolyDP(hull, epsilon, True)
    return np.asarray(polygon).reshape(-1, 2), longest


def _closest(point: Points, contour: Points) -> int:
    return int(np.argmin(np.linalg.norm(contour - point, axis=1)))


def _between(first: Points, second: Points, contour: Points) -> Points:
    i, j = _closest(first, contour), _closest(second, contour)
    return contour[i : j + 1] if i <= j else np.concatenate((contour[i:], contour[: j + 1]))


def _line(points: Points) -> tuple[float, float] | None:
    if len(points) < 2:
        return None
    x, y = points[:, 0], points[:, 1]
    design = np.vstack([x, np.ones_like(x)]).T
    slope, intercept = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(slope), float(intercept)


def _intersection(a: tuple[float, float] | None, b: tuple[float, float] | None) -> Points | None:
    if a is None or b is None or np.isclose(a[0], b[0]):
        return None
    x = (b[1] - a[1]) / (a[0] - b[0])
    return np.array([x, a[0] * x + a[1]])


def least_squares_polygon(contour: Points, polygon: Points, midpoint_fraction: float) -> Points:
    """Corners where lines fitted (``y = a x + b``) to the contour points between consecutive
    corners meet (the middle ``midpoint_fraction`` of each edge's points when below 1);
    ``(V, 2) int`` rounded. ``ValueError`` when two neighbouring lines are parallel or an edge
    has too few points to fit (the reference fails there too)."""
    pairs = [(polygon[-1], polygon[0]), *itertools.pairwise(polygon)]
    lines = []
    for first, second in pairs:
        segment = _between(first, second, contour)
        if midpoint_fraction < 1:
            kept = round(len(segment) * midpoint_fraction)
            if kept > 2:
                cut = (len(segment) - kept) // 2
                segment = segment[cut : len(segment) - cut]
        lines.append(_line(segment))
    corners = [_intersection(lines[i], lines[(i + 1) % len(lines)]) for i in range(len(lines))]
    if any(corner is None for corner in corners):
        raise ValueError("least-squares edges do not meet at every corner (parallel or too short)")
    return np.array(corners, dtype=float).round().astype(int)


def scale_polygon(polygon: Points, scale: float) -> Points:
    """``polygon`` scaled about its centroid (unchanged when ``scale`` is 1 or its area 0)."""
    if scale == 1:
        return polygon
    moments = cv2.moments(polygon)
    if moments["m00"] == 0:
        return polygon
    centre = np.array([moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]])
    return np.asarray(((polygon - centre) * scale + centre).round().astype(np.int32))


class DynamicZoneV1(Block):
    """``zones``: one polygon (list of ``[x, y]``) per detection, made as the module docstring
    says; ``predictions``: the detections with that polygon and its filled mask;
    ``simplification_converged``: every polygon got exactly the required vertices. Detections
    without masks give no zones and no predictions, as in the reference."""

    type = "roboflow_core/dynamic_zone@v1"
    aliases = ("DynamicZone",)
    manifest = DynamicZoneManifest
    outputs = (
        OutputDefinition("zones", (k.LIST_OF_VALUES,)),
        OutputDefinition("predictions", (k.INSTANCE_SEGMENTATION_PREDICTION,)),
        OutputDefinition("simplification_converged", (k.BOOLEAN,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        vertices = inputs.as_int("required_number_of_vertices", low=1)
        scale = inputs.as_float("scale_ratio")
        least_squares = inputs.as_bool("apply_least_squares")
        fraction = inputs.as_float("midpoint_fraction", low=0.0, high=1.0)
        if detections.mask is None:
            return {"zones": [], "predictions": None, "simplification_converged": False}
        zones: list[Any] = []
        rows: list[sv.Detections] = []
        converged = True
        for index, mask in enumerate(detections.mask):
            contours = mask_contours(mask)
            if not contours:
                raise inputs.fail("predictions", f"detection {index} has an empty mask: no zone")
            polygon, contour = simplified_polygon(contours, vertices)
            if least_squares:
                try:
                    polygon = least_squares_polygon(contour, polygon, fraction)
                except ValueError as exc:
                    raise inputs.fail("apply_least_squares", f"detection {index}: {exc}") from None
            count = len(polygon)
            if count != vertices:
                converged = False
                if count < vertices:
                    polygon = np.concatenate(
                        [polygon, np.repeat(polygon[-1:], vertices - count, 0)]
                    )
                else:
                    polygon = polygon[:vertices]
            polygon = scale_polygon(polygon, scale)
            row = detections[[index]]
            assert isinstance(row, sv.Detections)
            outline = np.empty(1, dtype=object)
            outline[0] = np.asarray(polygon, dtype=np.float32)
            row.data[POLYGON] = outline
            height, width = np.asarray(mask).shape
            row.mask = sv.polygon_to_mask(polygon, (width, height)).astype(bool)[None]
            zones.append(np.asarray(polygon).tolist())
            rows.append(row)
        merged = sv.Detections.merge(rows) if rows else sv.Detections.empty()
        return {"zones": zones, "predictions": merged, "simplification_converged": converged}


DYNAMIC_ZONE_BLOCKS: tuple[type[Block], ...] = (DynamicZoneV1,)
