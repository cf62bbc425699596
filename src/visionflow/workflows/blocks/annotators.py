"""Palette-coloured visualizations with supervision's annotators: masks, polygons, halos, dots,
circles, ellipses, triangles, box corners, colour fills, zoomed crops and tracks' traces. Each
draws on a copy of ``image`` and outputs it as ``image``."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, ClassVar

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.masks import rle_to_mask
from visionflow.core.visualization import (
    MAX_ANGLE_DEG,
    MAX_TRACE_POINTS,
    MAX_ZOOM,
    MAX_ZOOMED_PIXELS,
)
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.blocks.visualizations import (
    Opacity,
    PaletteBlock,
    PaletteManifest,
    Position,
    draw_detections,
    drawing_px,
    palette_and_lookup,
    position_of,
)
from visionflow.workflows.manifest import (
    FloatSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    Reference,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN
from visionflow.workflows.serialize import RLE_MASK

__all__ = ["ANNOTATOR_BLOCKS", "with_masks"]

MaskedSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference(
        (
            k.INSTANCE_SEGMENTATION_PREDICTION,
            k.RLE_INSTANCE_SEGMENTATION_PREDICTION,
            k.SEMANTIC_SEGMENTATION_PREDICTION,
        )
    ),
]
SegmentationSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.INSTANCE_SEGMENTATION_PREDICTION, k.RLE_INSTANCE_SEGMENTATION_PREDICTION)),
]


def with_masks(detections: sv.Detections, inputs: StepInputs) -> sv.Detections:
    """``detections`` with ``mask`` set: instance masks as they are, semantic segmentation's
    per-class RLE masks decoded."""
    if detections.mask is not None or len(detections) == 0:
        return detections
    rles = detections.data.get(RLE_MASK)
    if rles is None:
        raise inputs.fail("predictions", "needs detections with masks (a segmentation model's)")
    masks = np.stack([rle_to_mask(rle) for rle in rles])
    masked = detections[np.arange(len(detections))]
    assert isinstance(masked, sv.Detections)
    masked.mask = masks
    return masked


class _MaskedBlock(PaletteBlock):
    """Draws detections' masks: instance masks, or semantic segmentation's decoded."""

    def prepare(self, detections: sv.Detections, inputs: StepInputs) -> sv.Detections:
        return with_masks(detections, inputs)


class MaskManifest(PaletteManifest):
    predictions: MaskedSelector
    opacity: Opacity | FloatZeroToOneSelector = 0.5


class MaskVisualizationV1(_MaskedBlock):
    type = "roboflow_core/mask_visualization@v1"
    aliases = ("MaskVisualization",)
    manifest = MaskManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        opacity = inputs.as_float("opacity", low=0.0, high=1.0)
        return sv.MaskAnnotator(color=palette, opacity=opacity, color_lookup=lookup)


class PolygonManifest(PaletteManifest):
    predictions: SegmentationSelector
    thickness: int | IntegerSelector = 2


class PolygonVisualizationV1(_MaskedBlock):
    type = "roboflow_core/polygon_visualization@v1"
    aliases: ClassVar[tuple[str, ...]] = ("PolygonVisualization",)
    manifest = PolygonManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        thickness = drawing_px(inputs, "thickness")
        return sv.PolygonAnnotator(color=palette, thickness=thickness, color_lookup=lookup)


class PolygonVisualizationV2(PolygonVisualizationV1):
    type = "roboflow_core/polygon_visualization@v2"
    aliases = ()


class HaloManifest(PaletteManifest):
    predictions: SegmentationSelector
    opacity: Opacity | FloatZeroToOneSelector = 0.8
    kernel_size: int | IntegerSelector = 40


class HaloVisualizationV1(_MaskedBlock):
    type = "roboflow_core/halo_visualization@v1"
    aliases: ClassVar[tuple[str, ...]] = ("HaloVisualization",)
    manifest = HaloManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.HaloAnnotator(
            color=palette,
            opacity=inputs.as_float("opacity", low=0.0, high=1.0),
            kernel_size=drawing_px(inputs, "kernel_size"),
            color_lookup=lookup,
        )


class HaloVisualizationV2(HaloVisualizationV1):
    type = "roboflow_core/halo_visualization@v2"
    aliases = ()


class DotManifest(PaletteManifest):
    position: Position | StringSelector = "CENTER"
    radius: int | IntegerSelector = 4
    outline_thickness: int | IntegerSelector = 0


class DotVisualizationV1(PaletteBlock):
    type = "roboflow_core/dot_visualization@v1"
    aliases = ("DotVisualization",)
    manifest = DotManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.DotAnnotator(
            color=palette,
            radius=drawing_px(inputs, "radius"),
            position=position_of(inputs, "position"),
            color_lookup=lookup,
            outline_thickness=drawing_px(inputs, "outline_thickness", low=0),
        )


class CircleManifest(PaletteManifest):
    thickness: int | IntegerSelector = 2


class CircleVisualizationV1(PaletteBlock):
    type = "roboflow_core/circle_visualization@v1"
    aliases = ("CircleVisualization",)
    manifest = CircleManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        thickness = drawing_px(inputs, "thickness")
        return sv.CircleAnnotator(color=palette, thickness=thickness, color_lookup=lookup)


class EllipseManifest(PaletteManifest):
    thickness: int | IntegerSelector = 2
    start_angle: int | IntegerSelector = -45
    end_angle: int | IntegerSelector = 235


class EllipseVisualizationV1(PaletteBlock):
    type = "roboflow_core/ellipse_visualization@v1"
    aliases = ("EllipseVisualization",)
    manifest = EllipseManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.EllipseAnnotator(
            color=palette,
            thickness=drawing_px(inputs, "thickness"),
            start_angle=inputs.as_int("start_angle", low=-MAX_ANGLE_DEG, high=MAX_ANGLE_DEG),
            end_angle=inputs.as_int("end_angle", low=-MAX_ANGLE_DEG, high=MAX_ANGLE_DEG),
            color_lookup=lookup,
        )


class TriangleManifest(PaletteManifest):
    position: Position | StringSelector = "TOP_CENTER"
    base: int | IntegerSelector = 10
    height: int | IntegerSelector = 10
    outline_thickness: int | IntegerSelector = 0


class TriangleVisualizationV1(PaletteBlock):
    type = "roboflow_core/triangle_visualization@v1"
    aliases = ("TriangleVisualization",)
    manifest = TriangleManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.TriangleAnnotator(
            color=palette,
            base=drawing_px(inputs, "base"),
            height=drawing_px(inputs, "height"),
            position=position_of(inputs, "position"),
            color_lookup=lookup,
            outline_thickness=drawing_px(inputs, "outline_thickness", low=0),
        )


class CornerManifest(PaletteManifest):
    thickness: int | IntegerSelector = 4
    corner_length: int | IntegerSelector = 15


class CornerVisualizationV1(PaletteBlock):
    type = "roboflow_core/corner_visualization@v1"
    aliases = ("CornerVisualization",)
    manifest = CornerManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.BoxCornerAnnotator(
            color=palette,
            thickness=drawing_px(inputs, "thickness"),
            corner_length=drawing_px(inputs, "corner_length"),
            color_lookup=lookup,
        )


class ColorManifest(PaletteManifest):
    opacity: Opacity | FloatZeroToOneSelector = 0.5


class ColorVisualizationV1(PaletteBlock):
    type = "roboflow_core/color_visualization@v1"
    aliases = ("ColorVisualization",)
    manifest = ColorManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        opacity = inputs.as_float("opacity", low=0.0, high=1.0)
        return sv.ColorAnnotator(color=palette, opacity=opacity, color_lookup=lookup)


class CropManifest(PaletteManifest):
    position: Position | StringSelector = "TOP_CENTER"
    scale_factor: float | FloatSelector = 2.0
    border_thickness: int | IntegerSelector = 2


class CropVisualizationV1(PaletteBlock):
    """Draws each detection's region, zoomed by ``scale_factor``, next to it (a zoomed crop
    may have at most ``MAX_ZOOMED_PIXELS``)."""

    type = "roboflow_core/crop_visualization@v1"
    aliases = ("CropVisualization",)
    manifest = CropManifest

    def _zoom(self, inputs: StepInputs) -> float:
        zoom = inputs.as_float("scale_factor", low=0.0, high=MAX_ZOOM)
        if zoom == 0:
            raise inputs.fail("scale_factor", "expected a number > 0")
        return zoom

    def prepare(self, detections: sv.Detections, inputs: StepInputs) -> sv.Detections:
        zoom = self._zoom(inputs)
        areas = detections.box_area
        largest = float(areas.max()) * zoom * zoom if len(areas) else 0.0
        if largest > MAX_ZOOMED_PIXELS:
            raise inputs.fail(
                "scale_factor",
                f"a detection zoomed {zoom:g} times would have {largest:.0f} pixels, more than "
                f"the {MAX_ZOOMED_PIXELS} a zoomed crop may have",
            )
        return detections

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        return sv.CropAnnotator(
            position=position_of(inputs, "position"),
            scale_factor=self._zoom(inputs),
            border_color=palette,
            border_thickness=drawing_px(inputs, "border_thickness", low=0),
            border_color_lookup=lookup,
        )


class TraceManifest(PaletteManifest):
    position: Position | StringSelector = "CENTER"
    trace_length: int | IntegerSelector = 30
    thickness: int | IntegerSelector = 1


class TraceVisualizationV1(VideoBlock):
    """Draws each track's path over its last ``trace_length`` frames (needs ``tracker_id``,
    e.g. from ``byte_tracker``). The path is remembered per video and settings, like a
    tracker's tracks (``blocks.video``): across requests for frames with video metadata."""

    type = "roboflow_core/trace_visualization@v1"
    manifest = TraceManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)
    state_fields = (
        "color_palette",
        "palette_size",
        "custom_colors",
        "color_axis",
        "position",
        "trace_length",
        "thickness",
    )

    def start(self, inputs: StepInputs) -> sv.TraceAnnotator:
        palette, lookup = palette_and_lookup(inputs)
        return sv.TraceAnnotator(
            color=palette,
            position=position_of(inputs, "position"),
            trace_length=inputs.as_int("trace_length", low=1, high=MAX_TRACE_POINTS),
            thickness=drawing_px(inputs, "thickness"),
            color_lookup=lookup,
        )

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        return draw_detections(inputs, partial(_trace, state, inputs))


def _trace(
    annotator: sv.TraceAnnotator,
    inputs: StepInputs,
    canvas: npt.NDArray[np.uint8],
    detections: sv.Detections,
) -> object:
    if detections.tracker_id is None:
        raise inputs.fail("predictions", "needs tracked detections (e.g. from byte_tracker)")
    return annotator.annotate(canvas, detections)


ANNOTATOR_BLOCKS: tuple[type[Block], ...] = (
    MaskVisualizationV1,
    PolygonVisualizationV1,
    PolygonVisualizationV2,
    HaloVisualizationV1,
    HaloVisualizationV2,
    DotVisualizationV1,
    CircleVisualizationV1,
    EllipseVisualizationV1,
    TriangleVisualizationV1,
    CornerVisualizationV1,
    ColorVisualizationV1,
    CropVisualizationV1,
    TraceVisualizationV1,
)
