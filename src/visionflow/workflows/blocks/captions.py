"""Text drawn on images: ``text_display`` (a text box from a template, placed on the image, in
OpenCV's Hershey font) and ``rich_label_visualization`` (detection labels in a TrueType font
with supervision's ``RichLabelAnnotator``; fonts: ``core.fonts``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field, PositiveInt, field_validator

from visionflow.core.fonts import DEFAULT_FONT_FAMILY, FontFamily, font_family_name, font_path
from visionflow.core.visualization import MAX_COORDINATE_PX, MAX_DRAWING_PX
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.annotators import with_masks
from visionflow.workflows.blocks.visualizations import (
    LabelText,
    Opacity,
    PaletteManifest,
    Position,
    annotated,
    color_of,
    detection_labels,
    draw_detections,
    drawing_px,
    palette_and_lookup,
    position_of,
)
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.manifest import (
    AnySelector,
    BooleanSelector,
    FloatSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.query import Operation, QueryError, apply_operations

__all__ = ["CAPTION_BLOCKS", "RichLabelVisualizationV1", "TextDisplayV1", "format_text"]

Pixels = npt.NDArray[np.uint8]
_PARAMETER = re.compile(r"({{\s*\$parameters\.(\w+)\s*}})")
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MAX_TEXT_LINES = 10_000  # each line is measured: bound the work a (templated) text can ask for
Anchor = Literal[
    "center",
    "top_left",
    "top_center",
    "top_right",
    "bottom_left",
    "bottom_center",
    "bottom_right",
    "center_left",
    "center_right",
]
# Where an anchor lies, as fractions of the width and height (of the image and of the box).
_ANCHOR_XY: dict[str, tuple[float, float]] = {
    "top_left": (0.0, 0.0),
    "top_center": (0.5, 0.0),
    "top_right": (1.0, 0.0),
    "center_left": (0.0, 0.5),
    "center": (0.5, 0.5),
    "center_right": (1.0, 0.5),
    "bottom_left": (0.0, 1.0),
    "bottom_center": (0.5, 1.0),
    "bottom_right": (1.0, 1.0),
}


class TextDisplayManifest(StepManifest):
    image: ImageSelector
    text: str
    text_parameters: dict[str, AnySelector | str | int | float | bool] = Field(default_factory=dict)
    text_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    text_color: str | StringSelector = "WHITE"
    background_color: str | StringSelector = "BLACK"
    background_opacity: Opacity | FloatZeroToOneSelector = 1.0
    font_scale: float | FloatSelector = 1.0
    font_thickness: int | IntegerSelector = 2
    padding: int | IntegerSelector = 10
    text_align: Literal["left", "center", "right"] | StringSelector = "left"
    border_radius: int | IntegerSelector = 0
    position_mode: Literal["absolute", "relative"] | StringSelector = "relative"
    position_x: int | IntegerSelector = 0
    position_y: int | IntegerSelector = 0
    anchor: Anchor | StringSelector = "top_left"
    offset_x: int | IntegerSelector = 10
    offset_y: int | IntegerSelector = 10
    copy_image: bool | BooleanSelector = True


def format_text(
    text: str,
    parameters: dict[str, Any],
    operations: dict[str, list[Any]],
    budget: RunBudget,
) -> str:
    """``text`` with each ``{{ $parameters.name }}`` replaced by ``str`` of that parameter
    (after its ``operations``); a placeholder of an unknown parameter stays as it is, and
    operations of a parameter no placeholder uses are not run (as in the reference).
    ``QueryError`` when an operation fails."""
    computed: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in parameters:
            return match.group(0)
        if name not in computed:
            value = parameters[name]
            if operations.get(name):
                value = apply_operations(value, operations[name], budget=budget)
            computed[name] = str(value)
        return computed[name]

    return _PARAMETER.sub(replace, text)


@dataclass(frozen=True)
class _Layout:
    lines: list[str]
    widths: list[int]
    ref_height: int  # a line's height above its baseline
    advance: int  # a line's full height
    spacing: int  # between lines
    x: int
    y: int
    w: int
    h: int


def _layout(
    text: str,
    scale: float,
    thickness: int,
    padding: int,
    size_wh: tuple[int, int],
    corner_xy: tuple[int, int] | None,
    anchor: str,
    offset_xy: tuple[int, int],
) -> _Layout:
    """The text box: absolute at ``corner_xy``, else at ``anchor`` of the image shifted by
    ``offset_xy``; moved inside the image where it fits."""
    lines = text.split("\n") if text else [""]
    (_, ref_height), baseline = cv2.getTextSize("Ag", _FONT, scale, thickness)
    advance = ref_height + baseline
    spacing = max(1, round(0.25 * advance))
    widths = [
        cv2.getTextSize(ln, _FONT, scale, thickness)[0][0] if ln.strip() else 0 for ln in lines
    ]
    box_w = max(widths, default=0) + 2 * padding
    box_h = len(lines) * advance + (len(lines) - 1) * spacing + 2 * padding
    img_w, img_h = size_wh
    if corner_xy is not None:
        x, y = corner_xy
    else:
        ax, ay = _ANCHOR_XY[anchor]
        x = round(ax * img_w) - round(ax * box_w) + offset_xy[0]
        y = round(ay * img_h) - round(ay * box_h) + offset_xy[1]
    x = 0 if box_w > img_w else max(0, min(x, img_w - box_w))
    y = 0 if box_h > img_h else max(0, min(y, img_h - box_h))
    return _Layout(lines, widths, ref_height, advance, spacing, x, y, box_w, box_h)


def _rounded_box(canvas: Pixels, xyxy: tuple[int, int, int, int], color: Any, radius: int) -> None:
    """A filled box with corners (inclusive ``xyxy``) rounded by ``radius`` px."""
    x1, y1, x2, y2 = xyxy
    if x2 <= x1 or y2 <= y1:
        return
    radius = min(radius, (x2 - x1) // 2, (y2 - y1) // 2)
    if radius <= 0:
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, -1)
        return
    cv2.rectangle(canvas, (x1 + radius, y1), (x2 - radius, y2), color, -1)
    cv2.rectangle(canvas, (x1, y1 + radius), (x2, y2 - radius), color, -1)
    for cx, cy, angle in (
        (x1 + radius, y1 + radius, 180),
        (x2 - radius, y1 + radius, 270),
        (x1 + radius, y2 - radius, 90),
        (x2 - radius, y2 - radius, 0),
    ):
        cv2.ellipse(canvas, (cx, cy), (radius, radius), angle, 0, 90, color, -1)


def _background(canvas: Pixels, box: _Layout, color: Any, opacity: float, radius: int) -> None:
    img_h, img_w = canvas.shape[:2]
    x1, y1 = max(0, box.x), max(0, box.y)
    x2, y2 = min(img_w, box.x + box.w), min(img_h, box.y + box.h)
    if color is None or opacity <= 0 or x2 <= x1 or y2 <= y1:
        return
    if opacity >= 1:
        _rounded_box(canvas, (x1, y1, x2 - 1, y2 - 1), color, radius)
        return
    region = canvas[y1:y2, x1:x2]
    overlay = region.copy()
    _rounded_box(overlay, (0, 0, x2 - x1 - 1, y2 - y1 - 1), color, radius)
    region[:] = cv2.addWeighted(overlay, opacity, region, 1 - opacity, 0)


def _draw_lines(
    canvas: Pixels, box: _Layout, style: tuple[float, int, Any], padding: int, align: str
) -> None:
    scale, thickness, color = style
    img_h, img_w = canvas.shape[:2]
    top = box.y + padding
    text_w = max(box.widths, default=0)
    for line, width in zip(box.lines, box.widths, strict=True):
        if line.strip():
            shift = {"center": (text_w - width) // 2, "right": text_w - width}.get(align, 0)
            x, y = box.x + padding + shift, top + box.ref_height
            if y > 0 and top < img_h and x < img_w:
                cv2.putText(canvas, line, (x, y), _FONT, scale, color, thickness, cv2.LINE_AA)
        top += box.advance + box.spacing


class TextDisplayV1(Block):
    """Draws ``text`` (``{{ $parameters.name }}`` placeholders filled from ``text_parameters``
    after ``text_parameters_operations``; ``\\n`` starts a line) in a box of
    ``background_color`` (``transparent``: none) at ``background_opacity``."""

    type = "roboflow_core/text_display@v1"
    manifest = TextDisplayManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        try:
            text = format_text(
                inputs.as_str("text"),
                dict(inputs["text_parameters"] or {}),
                dict(inputs["text_parameters_operations"] or {}),
                context.budget,
            )
        except QueryError as exc:
            raise inputs.fail("text_parameters_operations", str(exc)) from None
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # OpenCV's text functions crash the process on a string it cannot encode.
                raise inputs.fail("text", "holds an unpaired UTF-16 surrogate") from None
        lines = text.count("\n") + 1
        if lines > _MAX_TEXT_LINES:
            raise inputs.fail("text", f"{lines} lines, more than the {_MAX_TEXT_LINES} a box draws")
        mode = inputs.as_str("position_mode")
        anchor = inputs.as_str("anchor").lower()
        if mode not in ("absolute", "relative"):
            raise inputs.fail("position_mode", f"expected absolute or relative, got {mode!r}")
        if anchor not in _ANCHOR_XY:
            raise inputs.fail("anchor", f"expected one of {', '.join(_ANCHOR_XY)}")
        align = inputs.as_str("text_align")
        if align not in ("left", "center", "right"):
            raise inputs.fail("text_align", f"expected left, center or right, got {align!r}")
        scale = inputs.as_float("font_scale", low=0.1, high=10.0)
        thickness = inputs.as_int("font_thickness", low=1, high=10)
        padding = drawing_px(inputs, "padding", low=0)
        background = inputs.as_str("background_color")
        background_bgr = (
            None
            if background.lower() == "transparent"
            else color_of(inputs, "background_color").as_bgr()
        )

        def coordinate(field: str) -> int:
            return inputs.as_int(field, low=-MAX_COORDINATE_PX, high=MAX_COORDINATE_PX)

        pixels = image.pixels_bgr.copy()
        box = _layout(
            text,
            scale,
            thickness,
            padding,
            (pixels.shape[1], pixels.shape[0]),
            (coordinate("position_x"), coordinate("position_y")) if mode == "absolute" else None,
            anchor,
            (coordinate("offset_x"), coordinate("offset_y")),
        )
        opacity = inputs.as_float("background_opacity", low=0.0, high=1.0)
        radius = drawing_px(inputs, "border_radius", low=0)
        _background(pixels, box, background_bgr, opacity, radius)
        style = (scale, thickness, color_of(inputs, "text_color").as_bgr())
        _draw_lines(pixels, box, style, padding, align)
        return annotated(image, pixels)


class RichLabelManifest(PaletteManifest):
    text: LabelText | StringSelector = "Class"
    text_position: Position | StringSelector = "TOP_LEFT"
    text_color: str | StringSelector = "WHITE"
    font_family: FontFamily | StringSelector = DEFAULT_FONT_FAMILY
    text_size_mode: Literal["Manual", "Automatic"] | StringSelector = "Manual"
    font_size: PositiveInt | IntegerSelector = 14
    text_padding: int | IntegerSelector = 10
    border_radius: int | IntegerSelector = 0
    max_line_length: PositiveInt | IntegerSelector | None = None

    @field_validator("font_family", mode="before")
    @classmethod
    def _family_by_identifier(cls, value: Any) -> Any:
        # Older definitions name the family by its snake_case identifier ("geist_mono").
        return font_family_name(value) if isinstance(value, str) else value


# ``Automatic`` size: ``font_size`` at a 1080 px short side, proportional elsewhere, in [8, 128].
_REFERENCE_SHORT_SIDE_PX = 1080
_AUTOMATIC_FONT_RANGE = (8, 128)
_MAX_LINE_CHARS = 10_000


def _font_size(inputs: StepInputs, size_wh: tuple[int, int]) -> int:
    size = inputs.as_int("font_size", low=1, high=MAX_DRAWING_PX)
    mode = inputs.as_str("text_size_mode")
    if mode == "Manual":
        return size
    if mode != "Automatic":
        raise inputs.fail("text_size_mode", f"expected Manual or Automatic, got {mode!r}")
    low, high = _AUTOMATIC_FONT_RANGE
    return max(low, min(high, round(size * min(size_wh) / _REFERENCE_SHORT_SIDE_PX)))


class RichLabelVisualizationV1(Block):
    """Labels each detection like ``label_visualization`` (``text``), in a TrueType font of
    ``font_size`` points, wrapping lines longer than ``max_line_length`` characters."""

    type = "roboflow_core/rich_label_visualization@v1"
    manifest = RichLabelManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def _annotator(self, inputs: StepInputs, size_wh: tuple[int, int]) -> sv.RichLabelAnnotator:
        palette, lookup = palette_and_lookup(inputs)
        try:
            path = font_path(inputs.as_str("font_family"))
        except ValueError as exc:
            raise inputs.fail("font_family", str(exc)) from None
        max_line = inputs.get("max_line_length")
        return sv.RichLabelAnnotator(
            color=palette,
            color_lookup=lookup,
            text_position=position_of(inputs, "text_position"),
            text_color=color_of(inputs, "text_color"),
            font_path=path,
            font_size=_font_size(inputs, size_wh),
            text_padding=drawing_px(inputs, "text_padding", low=0),
            border_radius=drawing_px(inputs, "border_radius", low=0),
            max_line_length=None
            if max_line is None
            else inputs.as_int("max_line_length", low=1, high=_MAX_LINE_CHARS),
        )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        def draw(canvas: Pixels, detections: sv.Detections) -> object:
            annotator = self._annotator(inputs, (canvas.shape[1], canvas.shape[0]))
            if inputs.as_str("text_position") == "CENTER_OF_MASS":
                detections = with_masks(detections, inputs)
            labels = detection_labels(detections, inputs.as_str("text"))
            if labels is None:
                raise inputs.fail("text", "not a label type nor a per-detection value")
            return annotator.annotate(canvas, detections, labels=labels)

        return draw_detections(inputs, draw)


CAPTION_BLOCKS: tuple[type[Block], ...] = (TextDisplayV1, RichLabelVisualizationV1)
