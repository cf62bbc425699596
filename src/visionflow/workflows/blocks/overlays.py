"""Overlays drawn over an image from other inputs than one set of detections:
``icon_visualization`` (an image stamped at each detection or at a fixed place),
``reference_path_visualization`` (a polyline) and ``model_comparison_visualization`` (where
two models' detections agree and differ). Each draws on a copy of ``image``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field, model_validator

from visionflow.core.visualization import MAX_COORDINATE_PX
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.annotators import with_masks
from visionflow.workflows.blocks.visualizations import (
    CanvasManifest,
    Opacity,
    Position,
    annotated,
    color_of,
    drawing_px,
    position_of,
)
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "OVERLAY_BLOCKS",
    "IconVisualizationV1",
    "ModelComparisonVisualizationV1",
    "ReferencePathVisualizationV1",
]

Pixels = npt.NDArray[np.uint8]
ComparedSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference(
        (
            k.OBJECT_DETECTION_PREDICTION,
            k.INSTANCE_SEGMENTATION_PREDICTION,
            k.RLE_INSTANCE_SEGMENTATION_PREDICTION,
            k.KEYPOINT_DETECTION_PREDICTION,
        )
    ),
]
_MAX_ICON_PX = 4096  # an icon's width and height


class IconManifest(CanvasManifest):
    icon: ImageSelector
    mode: Literal["static", "dynamic"] | StringSelector = "dynamic"
    predictions: ComparedSelector | None = None
    icon_width: int | IntegerSelector = 64
    icon_height: int | IntegerSelector = 64
    position: Position | StringSelector | None = "TOP_CENTER"
    x_position: int | IntegerSelector | None = 10
    y_position: int | IntegerSelector | None = 10

    @model_validator(mode="after")
    def _dynamic_needs_predictions(self) -> IconManifest:
        if self.mode == "dynamic" and self.predictions is None:
            raise ValueError("mode 'dynamic' needs predictions (where to draw the icon)")
        return self


def _icon_bgra(icon: Pixels, size_wh: tuple[int, int]) -> Pixels:
    """``icon`` (opaque: decoded images have no alpha) letterboxed into ``size_wh``, with the
    letterbox bands transparent, as supervision's ``IconAnnotator`` loads an icon file."""
    opaque = np.dstack([icon, np.full(icon.shape[:2], 255, dtype=np.uint8)])
    return np.asarray(sv.letterbox_image(opaque, size_wh), dtype=np.uint8)


def _stamp(scene: Pixels, icon: Pixels, centres_xy: npt.NDArray[Any]) -> Pixels:
    """``icon`` (BGRA) alpha-blended on ``scene`` (in place) centred on each point, clipped to
    the scene, as supervision's ``IconAnnotator`` draws it."""
    scene_h, scene_w = scene.shape[:2]
    icon_h, icon_w = icon.shape[:2]
    for cx, cy in centres_xy:
        x, y = int(cx - icon_w / 2), int(cy - icon_h / 2)
        x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + icon_w, scene_w), min(y + icon_h, scene_h)
        if x2 <= x1 or y2 <= y1:
            continue
        part = icon[y1 - y : y2 - y, x1 - x : x2 - x]
        alpha = part[:, :, 3:].astype(np.float32) / 255.0
        region = scene[y1:y2, x1:x2].astype(np.float32)
        blended = region * (1 - alpha) + part[:, :, :3].astype(np.float32) * alpha
        scene[y1:y2, x1:x2] = np.clip(blended, 0, 255).astype(np.uint8)
    return scene


class IconVisualizationV1(Block):
    """Stamps ``icon`` (resized into ``icon_width`` x ``icon_height``, keeping its aspect) at
    ``position`` of each of ``predictions`` (``dynamic``) or once with its top-left corner at
    ``x_position``, ``y_position`` (``static``; a negative value counts from the right or
    bottom edge)."""

    type = "roboflow_core/icon_visualization@v1"
    aliases = ("IconVisualization",)
    manifest = IconManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def _centres(
        self, inputs: StepInputs, size_wh: tuple[int, int], icon_wh: tuple[int, int]
    ) -> Any:
        mode = inputs.as_str("mode")
        if mode == "static":
            (img_w, img_h), (icon_w, icon_h) = size_wh, icon_wh
            x = inputs.as_int("x_position", low=-MAX_COORDINATE_PX, high=MAX_COORDINATE_PX)
            y = inputs.as_int("y_position", low=-MAX_COORDINATE_PX, high=MAX_COORDINATE_PX)
            x = img_w + x - icon_w if x < 0 else x
            y = img_h + y - icon_h if y < 0 else y
            return np.array([[x + icon_w // 2, y + icon_h // 2]], dtype=np.float64)
        if mode != "dynamic":
            raise inputs.fail("mode", f"expected static or dynamic, got {mode!r}")
        if inputs.get("predictions") is None or inputs.get("position") is None:
            return np.empty((0, 2))
        detections = inputs.detections("predictions")
        if len(detections) == 0:
            return np.empty((0, 2))
        position = position_of(inputs, "position")
        if position is sv.Position.CENTER_OF_MASS:
            detections = with_masks(detections, inputs)
        # Whole pixels first, as supervision's IconAnnotator places icons.
        return detections.get_anchors_coordinates(anchor=position).astype(int)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        icon_wh = (
            inputs.as_int("icon_width", low=1, high=_MAX_ICON_PX),
            inputs.as_int("icon_height", low=1, high=_MAX_ICON_PX),
        )
        pixels = image.pixels_bgr.copy()
        centres = self._centres(inputs, (pixels.shape[1], pixels.shape[0]), icon_wh)
        if len(centres):
            icon = _icon_bgra(inputs.image("icon").pixels_bgr, icon_wh)
            pixels = _stamp(pixels, icon, centres)
        return annotated(image, pixels)


class ReferencePathManifest(CanvasManifest):
    reference_path: list[Any] | ListOfValuesSelector
    color: str | StringSelector = "#5bb573"
    thickness: int | IntegerSelector = 2


def _path_points(inputs: StepInputs) -> npt.NDArray[np.int32]:
    """``reference_path`` as ``(N, 2)`` int32 points (of ``[x, y, ...]`` items; extra values
    are ignored, as in the reference)."""
    value = inputs["reference_path"]
    if isinstance(value, list | tuple) and not value:
        return np.empty((0, 2), dtype=np.int32)
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        points = np.empty(0)
    if points.ndim != 2 or points.shape[1] < 2 or not np.isfinite(points).all():
        raise inputs.fail("reference_path", "expected a list of points [[x, y], ...]")
    if np.abs(points[:, :2]).max() > MAX_COORDINATE_PX:
        raise inputs.fail(
            "reference_path",
            f"points must lie within [-{MAX_COORDINATE_PX}, {MAX_COORDINATE_PX}] px",
        )
    return points[:, :2].astype(np.int32)


class ReferencePathVisualizationV1(Block):
    """Draws ``reference_path`` as an open polyline (an empty path draws nothing)."""

    type = "roboflow_core/reference_path_visualization@v1"
    manifest = ReferencePathManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        points = _path_points(inputs)
        color_bgr = color_of(inputs, "color").as_bgr()
        thickness = drawing_px(inputs, "thickness")
        pixels = image.pixels_bgr.copy()
        if len(points):
            cv2.polylines(pixels, [points], False, color_bgr, thickness)
        return annotated(image, pixels)


class ModelComparisonManifest(CanvasManifest):
    predictions_a: ComparedSelector
    color_a: str | StringSelector = "GREEN"
    predictions_b: ComparedSelector
    color_b: str | StringSelector = "RED"
    background_color: str | StringSelector = "BLACK"
    opacity: Opacity | FloatZeroToOneSelector = 0.7


def _covered(detections: sv.Detections, shape_hw: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Where ``detections`` lie: their masks, or their boxes (integer pixels) without masks;
    ``ValueError`` for masks of another image's size."""
    covered = np.zeros(shape_hw, dtype=bool)
    if detections.mask is not None:
        if detections.mask.shape[1:] != shape_hw:
            raise ValueError(
                f"masks of {detections.mask.shape[2]} x {detections.mask.shape[1]} px on an "
                f"image of {shape_hw[1]} x {shape_hw[0]} px (predictions of another image?)"
            )
        for mask in detections.mask:
            covered |= mask.astype(bool)
        return covered
    for x1, y1, x2, y2 in np.clip(detections.xyxy, 0, None).astype(int):
        covered[y1:y2, x1:x2] = True
    return covered


def _tint(scene: Pixels, where: npt.NDArray[np.bool_], color_bgr: Any, opacity: float) -> None:
    overlay = np.full_like(scene, color_bgr, dtype=np.uint8)
    blended = cv2.addWeighted(scene, 1 - opacity, overlay, opacity, 0)
    scene[where] = blended[where]


class ModelComparisonVisualizationV1(Block):
    """Tints with ``color_a`` what only ``predictions_a`` cover, with ``color_b`` what only
    ``predictions_b`` cover and with ``background_color`` what neither covers; where both do,
    the image is left as it is (masks where the detections have them, else boxes)."""

    type = "roboflow_core/model_comparison_visualization@v1"
    manifest = ModelComparisonManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        opacity = inputs.as_float("opacity", low=0.0, high=1.0)
        colors = [color_of(inputs, f).as_bgr() for f in ("background_color", "color_a", "color_b")]
        pixels = image.pixels_bgr.copy()
        shape_hw = (pixels.shape[0], pixels.shape[1])
        covered = []
        for field in ("predictions_a", "predictions_b"):
            try:
                covered.append(_covered(inputs.detections(field), shape_hw))
            except ValueError as exc:
                raise inputs.fail(field, str(exc)) from None
        in_a, in_b = covered
        regions = (~(in_a | in_b), in_a & ~in_b, in_b & ~in_a)
        for region, color_bgr in zip(regions, colors, strict=True):
            _tint(pixels, region, color_bgr, opacity)
        return annotated(image, pixels)


OVERLAY_BLOCKS: tuple[type[Block], ...] = (
    IconVisualizationV1,
    ReferencePathVisualizationV1,
    ModelComparisonVisualizationV1,
)
