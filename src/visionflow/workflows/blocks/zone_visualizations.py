"""Visualizations of zones rather than detections: ``polygon_zone_visualization`` (filled polygons)
and ``line_counter_visualization`` (a counting line with its ``in``/``out`` counts).

As in the reference, the shape is drawn on a black layer that is added to the image at
``opacity`` (``image + opacity * layer``, saturating), so zones lighten what lies under them;
draw them before other visualizations.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.visualization import MAX_COORDINATE_PX, MAX_ZONES
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.visualizations import (
    CanvasManifest,
    Opacity,
    annotated,
    color_of,
    drawing_px,
    text_scale_of,
)
from visionflow.workflows.manifest import (
    FloatSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    ListOfValuesSelector,
    StringSelector,
)

__all__ = ["ZONE_VISUALIZATION_BLOCKS", "LineCounterVisualizationV1", "PolygonZoneVisualizationV1"]

Pixels = npt.NDArray[np.uint8]
_ZONE_COLOR = "#5bb573"


class _ZoneManifest(CanvasManifest):
    zone: list[Any] | ListOfValuesSelector


class PolygonZoneManifest(_ZoneManifest):
    color: str | StringSelector = _ZONE_COLOR
    opacity: Opacity | FloatZeroToOneSelector = 0.3


class LineCounterVisualizationManifest(_ZoneManifest):
    color: str | StringSelector = _ZONE_COLOR
    thickness: int | IntegerSelector = 2
    text_thickness: int | IntegerSelector = 1
    text_scale: float | FloatSelector = 1.0
    count_in: int | IntegerSelector = 0
    count_out: int | IntegerSelector = 0
    opacity: Opacity | FloatZeroToOneSelector = 0.3


class _FarPointError(ValueError):
    """A point beyond ``MAX_COORDINATE_PX``."""


def _points(value: Any) -> npt.NDArray[np.int32] | None:
    """``value`` as ``(N, 2)`` int32 pixel points, or ``None`` if it is not a list of
    ``[x, y]`` numbers; ``_FarPointError`` if one lies beyond ``MAX_COORDINATE_PX``."""
    if not isinstance(value, list | tuple) or not value:
        return None
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        return None
    if np.abs(points).max() > MAX_COORDINATE_PX:
        raise _FarPointError
    return np.round(points).astype(np.int32)


def _zone_points(inputs: StepInputs, value: Any) -> npt.NDArray[np.int32] | None:
    try:
        return _points(value)
    except _FarPointError:
        raise inputs.fail(
            "zone",
            f"points must lie within [-{MAX_COORDINATE_PX}, {MAX_COORDINATE_PX}] px",
        ) from None


def _polygons(inputs: StepInputs) -> list[npt.NDArray[np.int32]]:
    """``zone``: one polygon (``[[x, y], ...]``) or several (``[[[x, y], ...], ...]``), each of
    at least 3 points; ``[]``: none (the image is left as it is, as in the reference)."""
    zone = inputs["zone"]
    if isinstance(zone, list | tuple) and not zone:
        return []
    single = _zone_points(inputs, zone)
    if single is None and isinstance(zone, list | tuple) and len(zone) > MAX_ZONES:
        raise inputs.fail("zone", f"{len(zone)} polygons, more than the {MAX_ZONES} a step draws")
    polygons = (
        [single] if single is not None else [_zone_points(inputs, item) for item in zone or []]
    )
    if not polygons or any(p is None or len(p) < 3 for p in polygons):
        raise inputs.fail(
            "zone", "expected a polygon [[x, y], ...] of at least 3 points, or a list of them"
        )
    return [p for p in polygons if p is not None]


def _add_layer(image: Pixels, layer: Pixels, opacity: float) -> Pixels:
    return np.asarray(cv2.addWeighted(layer, opacity, image, 1.0, 0.0), dtype=np.uint8)


class PolygonZoneVisualizationV1(Block):
    """Fills the polygon(s) of ``zone`` with ``color`` at ``opacity``."""

    type = "roboflow_core/polygon_zone_visualization@v1"
    manifest = PolygonZoneManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        polygons = _polygons(inputs)
        opacity = inputs.as_float("opacity", low=0.0, high=1.0)
        pixels = image.pixels_bgr
        layer = np.zeros_like(pixels)
        if polygons:
            cv2.fillPoly(layer, polygons, color_of(inputs, "color").as_bgr())
        return annotated(image, _add_layer(pixels, layer, opacity))


class LineCounterVisualizationV1(Block):
    """Draws the line ``zone`` (two points) in ``color`` at ``opacity``, and at its first point
    the text ``in: <count_in>, out: <count_out>`` on white."""

    type = "roboflow_core/line_counter_visualization@v1"
    manifest = LineCounterVisualizationManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        line = _zone_points(inputs, inputs["zone"])
        if line is None or len(line) != 2:
            raise inputs.fail("zone", "expected a line of exactly two points: [[x1, y1], [x2, y2]]")
        (x1, y1), (x2, y2) = line.tolist()
        opacity = inputs.as_float("opacity", low=0.0, high=1.0)
        pixels = image.pixels_bgr
        layer = np.zeros_like(pixels)
        color_bgr = color_of(inputs, "color").as_bgr()
        cv2.line(layer, (x1, y1), (x2, y2), color_bgr, drawing_px(inputs, "thickness"))
        canvas = _add_layer(pixels, layer, opacity)
        text = f"in: {inputs.as_int('count_in')}, out: {inputs.as_int('count_out')}"
        drawn = sv.draw_text(
            scene=canvas,
            text=text,
            text_anchor=sv.Point(x1, y1),
            text_scale=text_scale_of(inputs),
            text_thickness=drawing_px(inputs, "text_thickness"),
            background_color=sv.Color.WHITE,
            text_padding=0,
        )
        return annotated(image, drawn)


ZONE_VISUALIZATION_BLOCKS: tuple[type[Block], ...] = (
    PolygonZoneVisualizationV1,
    LineCounterVisualizationV1,
)
