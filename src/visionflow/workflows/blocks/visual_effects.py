"""Visualizations without a palette, and of keypoints and classifications: ``blur``, ``pixelate``,
``background_color``, ``keypoint`` and ``classification_label``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import KEYPOINTS_CONFIDENCE, KEYPOINTS_XY
from visionflow.core.visualization import drawable_text
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.visualizations import (
    CanvasManifest,
    LabelStyleManifest,
    Opacity,
    PaletteManifest,
    VisualizedPredictionsSelector,
    annotated,
    color_of,
    draw_detections,
    drawing_px,
    label_annotator,
    text_scale_of,
)
from visionflow.workflows.manifest import (
    FloatSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["VISUAL_EFFECT_BLOCKS"]

KeypointsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.KEYPOINT_DETECTION_PREDICTION,))
]
ClassificationSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.CLASSIFICATION_PREDICTION,))
]


class _PlainManifest(CanvasManifest):
    predictions: VisualizedPredictionsSelector


class BlurManifest(_PlainManifest):
    kernel_size: int | IntegerSelector = 15
    padding: int | IntegerSelector = 0


class BlurVisualizationV1(Block):
    """Blurs each detection's box (grown by ``padding`` pixels)."""

    type = "roboflow_core/blur_visualization@v1"
    aliases = ("BlurVisualization",)
    manifest = BlurManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        width, height = inputs.image("image").lineage.size_wh

        def draw(canvas: npt.NDArray[np.uint8], detections: sv.Detections) -> object:
            padding = drawing_px(inputs, "padding", low=0)
            grown = detections[np.arange(len(detections))]
            assert isinstance(grown, sv.Detections)
            pad = np.array([-padding, -padding, padding, padding], dtype=np.float32)
            grown.xyxy = np.clip(
                np.asarray(detections.xyxy, np.float32) + pad,
                0,
                [width, height, width, height],
            ).astype(np.float32)
            annotator = sv.BlurAnnotator(kernel_size=drawing_px(inputs, "kernel_size"))
            return annotator.annotate(canvas, grown)

        return draw_detections(inputs, draw)


class PixelateManifest(_PlainManifest):
    pixel_size: int | IntegerSelector = 20


class PixelateVisualizationV1(Block):
    type = "roboflow_core/pixelate_visualization@v1"
    aliases = ("PixelateVisualization",)
    manifest = PixelateManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        def draw(canvas: npt.NDArray[np.uint8], detections: sv.Detections) -> object:
            annotator = sv.PixelateAnnotator(pixel_size=drawing_px(inputs, "pixel_size"))
            return annotator.annotate(canvas, detections)

        return draw_detections(inputs, draw)


class BackgroundColorManifest(_PlainManifest):
    color: str | StringSelector = "BLACK"
    opacity: Opacity | FloatZeroToOneSelector = 0.5


class BackgroundColorVisualizationV1(Block):
    """Blends everything outside the detections (their masks, or boxes) towards ``color``."""

    type = "roboflow_core/background_color_visualization@v1"
    aliases = ("BackgroundColorVisualization",)
    manifest = BackgroundColorManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        detections = inputs.detections("predictions")
        annotator = sv.BackgroundOverlayAnnotator(
            color=color_of(inputs, "color"), opacity=inputs.as_float("opacity", low=0.0, high=1.0)
        )
        canvas = annotator.annotate(image.pixels_bgr.copy(), detections)
        return annotated(image, canvas)


class KeypointManifest(CanvasManifest):
    predictions: KeypointsSelector
    annotator_type: Literal["edge", "vertex", "vertex_label"] = "edge"
    color: str | StringSelector = "#A351FB"
    text_color: str | StringSelector = "black"
    text_scale: float | FloatSelector = 0.5
    text_thickness: int | IntegerSelector = 1
    text_padding: int | IntegerSelector = 10
    thickness: int | IntegerSelector = 2
    radius: int | IntegerSelector = 10
    edges: list[Any] | ListOfValuesSelector | None = None


def _key_points(detections: sv.Detections) -> sv.KeyPoints:
    xy = np.asarray(detections.data[KEYPOINTS_XY], dtype=np.float32)
    scores = detections.data.get(KEYPOINTS_CONFIDENCE)
    visible = None if scores is None else np.asarray(scores, dtype=np.float32) > 0
    class_id = None if detections.class_id is None else detections.class_id.astype(np.int64)
    return sv.KeyPoints(xy=xy, class_id=class_id, visible=visible)


class KeypointVisualizationV1(Block):
    """Draws each detection's keypoints: the skeleton's ``edge``s (``edges``: pairs of 1-based
    keypoint indices; by default supervision's skeleton for that many keypoints), the
    ``vertex``es, or the vertices with their index as a label (``vertex_label``). Keypoints of
    score 0 are not drawn."""

    type = "roboflow_core/keypoint_visualization@v1"
    aliases = ("KeypointVisualization",)
    manifest = KeypointManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        detections = inputs.detections("predictions")
        canvas = image.pixels_bgr.copy()
        if len(detections) == 0 or KEYPOINTS_XY not in detections.data:
            return annotated(image, canvas)
        points = _key_points(detections)
        color = color_of(inputs, "color")
        kind = inputs["annotator_type"]
        annotator: Any
        if kind == "vertex":
            annotator = sv.VertexAnnotator(color=color, radius=drawing_px(inputs, "radius"))
        elif kind == "vertex_label":
            annotator = sv.VertexLabelAnnotator(
                color=color,
                text_color=color_of(inputs, "text_color"),
                text_scale=text_scale_of(inputs),
                text_thickness=drawing_px(inputs, "text_thickness"),
                text_padding=drawing_px(inputs, "text_padding", low=0),
            )
        else:
            edges = inputs["edges"]
            try:
                pairs = [(int(a), int(b)) for a, b in edges] if edges else None
            except (TypeError, ValueError):
                raise inputs.fail(
                    "edges", "expected a list of [a, b] keypoint index pairs"
                ) from None
            annotator = sv.EdgeAnnotator(
                color=color, thickness=drawing_px(inputs, "thickness"), edges=pairs
            )
        try:
            return annotated(image, annotator.annotate(canvas, points))
        except ValueError as exc:  # supervision's check of the edges (1-based keypoint indices)
            raise inputs.fail("edges", str(exc)) from None


ClassificationText = Literal["Class", "Confidence", "Class and Confidence"]
ClassificationPosition = Literal[
    "CENTER",
    "CENTER_LEFT",
    "CENTER_RIGHT",
    "TOP_CENTER",
    "TOP_LEFT",
    "TOP_RIGHT",
    "BOTTOM_LEFT",
    "BOTTOM_CENTER",
    "BOTTOM_RIGHT",
]


class _ClassificationLabelText(PaletteManifest):
    predictions: ClassificationSelector
    text: ClassificationText | StringSelector = "Class"
    text_position: ClassificationPosition | StringSelector = "TOP_LEFT"
    text_color: str | StringSelector = "WHITE"


class ClassificationLabelManifest(LabelStyleManifest, _ClassificationLabelText):
    pass


def _ranked(predictions: dict[str, Any]) -> list[dict[str, Any]]:
    """Single-label: the top class; multi-label: every predicted class, most confident first."""
    found = predictions.get("predictions")
    if isinstance(found, list):
        return sorted(found, key=lambda p: p["confidence"], reverse=True)[:1]
    if not isinstance(found, dict):
        return []
    chosen = [
        {
            "class": name,
            "class_id": found[name]["class_id"],
            "confidence": found[name]["confidence"],
        }
        for name in predictions.get("predicted_classes", [])
        if name in found
    ]
    return sorted(chosen, key=lambda p: p["confidence"], reverse=True)


def _label(prediction: dict[str, Any], text: str) -> str:
    if text == "Confidence":
        return f"{prediction['confidence']:.2f}"
    if text == "Class and Confidence":
        return f"{prediction['class']} {prediction['confidence']:.2f}"
    return str(prediction["class"])


def _label_boxes(
    count: int, position: str, size_wh: tuple[int, int], spacing: float
) -> list[list[float]]:
    """One box per label, stacked so the annotator's ``position`` anchor of each box is where its
    label goes: from the top, from the bottom, or centred."""
    width, height = size_wh
    if position.startswith("BOTTOM"):
        return [[0, 0, width, height - spacing * (i + 1)] for i in range(count)]
    if position.startswith("CENTER"):
        top = max(0.0, (height - spacing * count) / 2)
        return [[0, top + i * spacing, width, top + (i + 1) * spacing] for i in range(count)]
    return [[0, spacing * (i + 1), width, height] for i in range(count)]


class ClassificationLabelVisualizationV1(Block):
    """Writes the classification result on the image: the top class (single-label) or every
    predicted class (multi-label), one label per line at ``text_position``."""

    type = "roboflow_core/classification_label_visualization@v1"
    manifest = ClassificationLabelManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        predictions = inputs["predictions"]
        if not isinstance(predictions, dict):
            raise inputs.fail("predictions", "expected a classification result")
        canvas = image.pixels_bgr.copy()
        ranked = _ranked(predictions)
        if not ranked:
            return annotated(image, canvas)
        position = inputs.as_str("text_position")
        scale = text_scale_of(inputs)
        padding = drawing_px(inputs, "text_padding", low=0)
        thickness = drawing_px(inputs, "text_thickness")
        spacing = 20 * scale + 2 * padding + 2 * thickness + 5
        rows = ranked[::-1] if position.startswith("BOTTOM") else ranked
        boxes = _label_boxes(len(rows), position, image.lineage.size_wh, spacing)
        pseudo = sv.Detections(
            xyxy=np.array(boxes, dtype=np.float32),
            class_id=np.array([int(p["class_id"]) for p in rows]),
            confidence=np.array([float(p["confidence"]) for p in rows], dtype=np.float32),
            tracker_id=np.zeros(len(rows), dtype=int),
        )
        annotator = label_annotator(inputs, scale)
        labels = [drawable_text(_label(p, inputs.as_str("text"))) for p in rows]
        return annotated(image, annotator.annotate(canvas, pseudo, labels=labels))


VISUAL_EFFECT_BLOCKS: tuple[type[Block], ...] = (
    BlurVisualizationV1,
    PixelateVisualizationV1,
    BackgroundColorVisualizationV1,
    KeypointVisualizationV1,
    ClassificationLabelVisualizationV1,
)
