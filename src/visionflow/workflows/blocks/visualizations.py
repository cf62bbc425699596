"""Visualizations with supervision's annotators: ``bounding_box_visualization`` and
``label_visualization@v1..v2``. Each draws on a copy of ``image`` and outputs it as ``image``.

Also what every visualization module shares: the canvas and palette manifests, reading the
palette, position and colour fields, and drawing detections on a copy of the image."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME
from visionflow.core.visualization import (
    MAX_DRAWING_PX,
    MAX_PALETTE_COLORS,
    MAX_TEXT_SCALE,
    drawable_text,
)
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.colors import parse_color, parse_palette
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "VISUALIZATION_BLOCKS",
    "BoundingBoxVisualizationV1",
    "CanvasManifest",
    "LabelStyleManifest",
    "LabelVisualizationV1",
    "LabelVisualizationV2",
    "Opacity",
    "Palette",
    "PaletteBlock",
    "PaletteManifest",
    "Position",
    "VisualizedPredictionsSelector",
    "annotated",
    "color_of",
    "detection_labels",
    "draw_detections",
    "drawing_px",
    "label_annotator",
    "palette_and_lookup",
    "position_of",
    "text_scale_of",
]

VisualizedPredictionsSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((*k.DETECTION_KINDS, k.RLE_INSTANCE_SEGMENTATION_PREDICTION)),
]
Palette = Literal[
    "DEFAULT",
    "CUSTOM",
    "ROBOFLOW",
    "Matplotlib Viridis",
    "Matplotlib Plasma",
    "Matplotlib Inferno",
    "Matplotlib Magma",
    "Matplotlib Cividis",
    "Matplotlib Pastel1",
    "Matplotlib Pastel2",
    "Matplotlib Paired",
    "Matplotlib Accent",
    "Matplotlib Dark2",
    "Matplotlib Set1",
    "Matplotlib Set2",
    "Matplotlib Set3",
    "Matplotlib Tab10",
    "Matplotlib Tab20",
    "Matplotlib Tab20b",
    "Matplotlib Tab20c",
]
LabelText = Literal[
    "Class",
    "Confidence",
    "Class and Confidence",
    "Index",
    "Dimensions",
    "Area",
    "Area (mask)",
    "Area (converted)",
    "Tracker Id",
    "Time In Zone",
]
Position = Literal[
    "CENTER",
    "CENTER_LEFT",
    "CENTER_RIGHT",
    "TOP_CENTER",
    "TOP_LEFT",
    "TOP_RIGHT",
    "BOTTOM_LEFT",
    "BOTTOM_CENTER",
    "BOTTOM_RIGHT",
    "CENTER_OF_MASS",
]
Opacity = Annotated[float, Field(ge=0.0, le=1.0)]


# The image a visualization draws on.
class CanvasManifest(StepManifest):
    image: ImageSelector
    copy_image: bool | BooleanSelector = True


class PaletteManifest(CanvasManifest):
    predictions: VisualizedPredictionsSelector
    color_palette: Palette | StringSelector = "DEFAULT"
    palette_size: int | IntegerSelector = 10
    # A literal default (pydantic copies it per instance): the reference's schema shows it.
    custom_colors: list[str] | ListOfValuesSelector = Field(default=[])
    color_axis: Literal["INDEX", "CLASS", "TRACK"] | StringSelector = "CLASS"


class BoundingBoxManifest(PaletteManifest):
    thickness: int | IntegerSelector = 2
    roundness: Opacity | FloatZeroToOneSelector = 0.0


class _LabelText(PaletteManifest):
    text: LabelText | StringSelector = "Class"
    text_position: Position | StringSelector = "TOP_LEFT"
    text_color: str | StringSelector = "WHITE"


class _TextSizeMode(StepManifest):
    text_size_mode: Literal["Manual", "Automatic"] | StringSelector = "Manual"


class LabelStyleManifest(StepManifest):
    text_scale: float | FloatSelector = 1.0
    text_thickness: int | IntegerSelector = 1
    text_padding: int | IntegerSelector = 10
    border_radius: int | IntegerSelector = 0


class LabelManifest(LabelStyleManifest, _LabelText):
    pass


class LabelManifestV2(LabelStyleManifest, _TextSizeMode, _LabelText):
    pass


def annotated(image: WorkflowImage, canvas: object) -> StepResult:
    """The ``image`` output: ``image`` (identity and placement) with the drawn pixels."""
    return {"image": image.with_pixels(np.asarray(canvas, dtype=np.uint8))}


Draw = Callable[[npt.NDArray[np.uint8], sv.Detections], object]


def draw_detections(inputs: StepInputs, draw: Draw) -> StepResult:
    """The step of a detection visualization: ``draw`` on a copy of ``image`` with the step's
    ``predictions``; with no detections the image comes back undrawn (a copy)."""
    image = inputs.image("image")
    detections = inputs.detections("predictions")
    pixels = image.pixels_bgr.copy()
    return annotated(image, draw(pixels, detections) if len(detections) else pixels)


def palette_and_lookup(inputs: StepInputs) -> tuple[sv.ColorPalette, sv.ColorLookup]:
    try:
        palette = parse_palette(
            inputs.as_str("color_palette"),
            inputs.as_int("palette_size", low=1, high=MAX_PALETTE_COLORS),
            inputs.as_str_list("custom_colors") or [],
        )
    except ValueError as exc:
        raise inputs.fail("color_palette", str(exc)) from None
    axis = inputs.as_str("color_axis")
    lookup = getattr(sv.ColorLookup, axis, None)
    if not isinstance(lookup, sv.ColorLookup):
        raise inputs.fail("color_axis", f"expected INDEX, CLASS or TRACK, got {axis!r}")
    return palette, lookup


def drawing_px(inputs: StepInputs, field: str, *, low: int = 1) -> int:
    """A size in pixels (a thickness, radius, padding...) within ``[low, MAX_DRAWING_PX]``."""
    return inputs.as_int(field, low=low, high=MAX_DRAWING_PX)


def text_scale_of(inputs: StepInputs, field: str = "text_scale") -> float:
    """A font scale within ``[0, MAX_TEXT_SCALE]``."""
    return inputs.as_float(field, low=0.0, high=MAX_TEXT_SCALE)


def position_of(inputs: StepInputs, field: str) -> sv.Position:
    position = getattr(sv.Position, inputs.as_str(field), None)
    if not isinstance(position, sv.Position):
        raise inputs.fail(field, "not a supervision Position name")
    return position


def color_of(inputs: StepInputs, field: str) -> sv.Color:
    try:
        return parse_color(inputs.as_str(field))
    except ValueError as exc:
        raise inputs.fail(field, str(exc)) from None


class PaletteBlock(Block):
    """Draws ``predictions`` on a copy of ``image`` with the annotator ``build`` returns."""

    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        raise NotImplementedError

    def prepare(self, detections: sv.Detections, inputs: StepInputs) -> sv.Detections:
        """The detections to draw (a block may need them completed, e.g. with masks)."""
        return detections

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        def draw(canvas: npt.NDArray[np.uint8], detections: sv.Detections) -> object:
            detections = self.prepare(detections, inputs)
            palette, lookup = palette_and_lookup(inputs)
            return self.build(inputs, palette, lookup).annotate(canvas, detections)

        return draw_detections(inputs, draw)


class BoundingBoxVisualizationV1(PaletteBlock):
    type = "roboflow_core/bounding_box_visualization@v1"
    aliases = ("BoundingBoxVisualization",)
    manifest = BoundingBoxManifest

    def build(self, inputs: StepInputs, palette: sv.ColorPalette, lookup: sv.ColorLookup) -> Any:
        thickness = drawing_px(inputs, "thickness")
        roundness = inputs.as_float("roundness", low=0.0, high=1.0)
        if roundness > 0:
            return sv.RoundBoxAnnotator(
                color=palette, thickness=thickness, color_lookup=lookup, roundness=roundness
            )
        return sv.BoxAnnotator(color=palette, thickness=thickness, color_lookup=lookup)


# Where ``mask_area_measurement`` puts each detection's mask area (pixels, converted units).
_AREA_PX = "area_px"
_AREA_CONVERTED = "area_converted"


def _measured(detections: sv.Detections, key: str, prefix: str) -> list[str]:
    values = detections.data.get(key)
    if values is None:
        return [f"{prefix}: N/A"] * len(detections)
    return [f"{prefix}: N/A" if v is None else f"{prefix}: {float(v):.2f}" for v in values]


def detection_labels(detections: sv.Detections, text: str) -> list[str] | None:
    """One label per detection as ``text`` asks (a name of ``LabelText``, or a key of
    ``detections.data``), safe to draw (``drawable_text``); ``None`` when ``text`` is neither."""
    labels = _labels(detections, text)
    return None if labels is None else [drawable_text(label) for label in labels]


def _labels(detections: sv.Detections, text: str) -> list[str] | None:
    names = detections.data.get(CLASS_NAME)
    confidence = detections.confidence
    count = len(detections)
    if text == "Class":
        return [str(names[i]) if names is not None else "" for i in range(count)]
    if text == "Confidence":
        return [f"{c:.2f}" for c in confidence] if confidence is not None else [""] * count
    if text == "Class and Confidence":
        if confidence is None:
            return _labels(detections, "Class")
        if names is None:
            return _labels(detections, "Confidence")
        return [f"{names[i]} {confidence[i]:.2f}" for i in range(count)]
    if text == "Index":
        return [str(i) for i in range(count)]
    if text == "Dimensions":
        labels = []
        for x1, y1, x2, y2 in detections.xyxy:
            labels.append(
                f"{int((x1 + x2) / 2)}, {int((y1 + y2) / 2)} {int(x2 - x1)}x{int(y2 - y1)}"
            )
        return labels
    if text == "Area":
        return [str(int(area)) for area in detections.area]
    if text == "Area (mask)":
        return _measured(detections, _AREA_PX, "Area (mask)")
    if text == "Area (converted)":
        return _measured(detections, _AREA_CONVERTED, "Area (conv)")
    if text == "Tracker Id":
        ids = detections.tracker_id
        return [str(t) for t in ids] if ids is not None else ["No Tracker ID"] * count
    if text == "Time In Zone":
        times = detections.data.get("time_in_zone")
        if times is None:
            return ["In zone: N/A"] * count
        return [f"In zone: {round(float(t), 2)}s" if t else "In zone: N/A" for t in times]
    if text in detections.data:
        return ["" if value is None else str(value) for value in detections.data[text]]
    return None


def label_annotator(inputs: StepInputs, text_scale: float) -> sv.LabelAnnotator:
    """A label annotator as the step's palette, ``text_*`` and ``border_radius`` fields say
    (``LabelStyleManifest``), with labels of ``text_scale``."""
    palette, lookup = palette_and_lookup(inputs)
    return sv.LabelAnnotator(
        color=palette,
        color_lookup=lookup,
        text_position=position_of(inputs, "text_position"),
        text_color=color_of(inputs, "text_color"),
        text_scale=text_scale,
        text_thickness=drawing_px(inputs, "text_thickness"),
        text_padding=drawing_px(inputs, "text_padding", low=0),
        border_radius=drawing_px(inputs, "border_radius", low=0),
    )


class _LabelVisualization(Block):
    """Labels each detection (``text``: its class, confidence, index, box size, area, tracker
    id, time in zone, or any per-detection value by its ``data`` key)."""

    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def text_scale(self, inputs: StepInputs, size_wh: tuple[int, int]) -> float:
        return text_scale_of(inputs)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        def draw(canvas: npt.NDArray[np.uint8], detections: sv.Detections) -> object:
            annotator = label_annotator(
                inputs, self.text_scale(inputs, (canvas.shape[1], canvas.shape[0]))
            )
            labels = detection_labels(detections, inputs.as_str("text"))
            if labels is None:
                raise inputs.fail("text", "not a label type nor a per-detection value")
            return annotator.annotate(canvas, detections, labels=labels)

        return draw_detections(inputs, draw)


class LabelVisualizationV1(_LabelVisualization):
    type = "roboflow_core/label_visualization@v1"
    aliases = ("LabelVisualization",)
    manifest = LabelManifest


# ``Automatic`` text size: ``text_scale`` at a 1080 px short side, proportional to it elsewhere.
_REFERENCE_SHORT_SIDE_PX = 1080
_AUTOMATIC_SCALE_RANGE = (0.3, 5.0)


class LabelVisualizationV2(_LabelVisualization):
    """v2: ``text_size_mode`` ``Automatic`` scales ``text_scale`` with the image (as given at a
    1080 px short side, clamped to [0.3, 5])."""

    type = "roboflow_core/label_visualization@v2"
    manifest = LabelManifestV2

    def text_scale(self, inputs: StepInputs, size_wh: tuple[int, int]) -> float:
        scale = super().text_scale(inputs, size_wh)
        mode = inputs.as_str("text_size_mode")
        if mode == "Manual":
            return scale
        if mode != "Automatic":
            raise inputs.fail("text_size_mode", f"expected Manual or Automatic, got {mode!r}")
        low, high = _AUTOMATIC_SCALE_RANGE
        return min(high, max(low, scale * min(size_wh) / _REFERENCE_SHORT_SIDE_PX))


VISUALIZATION_BLOCKS: tuple[type[Block], ...] = (
    BoundingBoxVisualizationV1,
    LabelVisualizationV1,
    LabelVisualizationV2,
)
