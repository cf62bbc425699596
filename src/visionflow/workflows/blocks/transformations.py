"""Transformations: ``dynamic_crop`` (one crop per detection — a dimensionality increase),
``detections_filter``, ``per_class_confidence_filter`` and ``dimension_collapse`` (gathers nested
results — a decrease)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID, KEYPOINTS_XY, POLYGON
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.colors import parse_color
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.lineage import LINEAGE, lineage_of
from visionflow.workflows.manifest import (
    AnySelector,
    DetectionsSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    Reference,
    RgbColorSelector,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.query import Operation, QueryError, apply_operations
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "TRANSFORMATION_BLOCKS",
    "DetectionsFilterV1",
    "DimensionCollapseV1",
    "DynamicCropV1",
    "PerClassConfidenceFilterV1",
]


class DynamicCropManifest(StepManifest):
    images: ImageSelector
    predictions: DetectionsSelector
    mask_opacity: FloatZeroToOneSelector | float = 0.0
    background_color: StringSelector | RgbColorSelector | str | tuple[int, int, int] = (0, 0, 0)


def _in_crop(
    detections: sv.Detections, index: int, x1: int, y1: int, x2: int, y2: int
) -> sv.Detections:
    """Detection ``index`` in the coordinates of the crop ``(x1, y1, x2, y2)``."""
    single = detections[index : index + 1]
    assert isinstance(single, sv.Detections)
    shift = np.array([x1, y1], dtype=np.float32)
    data = dict(single.data)
    if POLYGON in data:
        moved = np.empty(1, dtype=object)
        moved[0] = np.asarray(data[POLYGON][0], dtype=np.float32).reshape(-1, 2) - shift
        data[POLYGON] = moved
    if KEYPOINTS_XY in data:
        data[KEYPOINTS_XY] = np.asarray(data[KEYPOINTS_XY], dtype=np.float32) - shift
    return sv.Detections(
        xyxy=np.asarray(single.xyxy, dtype=np.float32) - np.array([x1, y1, x1, y1], np.float32),
        mask=np.asarray(single.mask, dtype=bool)[:, y1:y2, x1:x2]
        if single.mask is not None
        else None,
        confidence=single.confidence,
        class_id=single.class_id,
        tracker_id=single.tracker_id,
        data=data,
    )


class DynamicCropV1(Block):
    """For each detection, ``crops`` is the image cut to its box (outside its mask blended
    towards ``background_color`` by ``mask_opacity``) and ``predictions`` the detection in the
    crop's coordinates. Results of steps on the crops nest one list deeper.

    As in the reference, the moved detection keeps the provenance of the detection it comes from
    (its ``parent_id``, the lineage of the image it was made on): the outputs show the crop-local
    box as it is, with no mapping back to the parent image."""

    type = "roboflow_core/dynamic_crop@v1"
    aliases = ("DynamicCrop", "Crop")
    manifest = DynamicCropManifest
    outputs = (
        OutputDefinition("crops", (k.IMAGE,)),
        OutputDefinition("predictions", k.DETECTION_KINDS),
    )
    output_dimensionality_offset = 1

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        detections = inputs.detections("predictions")
        opacity = inputs.as_float("mask_opacity", low=0.0, high=1.0)
        try:
            background = parse_color(inputs["background_color"]).as_bgr()
        except (ValueError, TypeError) as exc:
            raise inputs.fail("background_color", str(exc)) from None
        ids = detections.data.get(DETECTION_ID)
        width, height = image.lineage.size_wh
        crops: list[dict[str, Any]] = []
        for index, box in enumerate(np.round(detections.xyxy).astype(int)):
            x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
            x2, y2 = min(width, int(box[2])), min(height, int(box[3]))
            if x2 <= x1 or y2 <= y1:
                crops.append({"crops": None, "predictions": None})
                continue
            crop_id = str(ids[index]) if ids is not None else f"{image.lineage.image_id}.{index}"
            crop = image.crop(crop_id, (x1, y1, x2, y2))
            if opacity > 0 and detections.mask is not None:
                outside = ~np.asarray(detections.mask[index], dtype=bool)[y1:y2, x1:x2]
                pixels = crop.pixels_bgr.astype(np.float32)
                pixels[outside] = (1 - opacity) * pixels[outside] + opacity * np.array(background)
                crop = crop.with_pixels(np.clip(pixels, 0, 255).astype(np.uint8))
            local = _in_crop(detections, index, x1, y1, x2, y2)
            if (source := lineage_of(detections)) is not None:
                local.metadata[LINEAGE] = source
            crops.append({"crops": crop, "predictions": local})
        return crops


class DetectionsFilterManifest(StepManifest):
    predictions: DetectionsSelector
    operations: list[Operation]
    operations_parameters: dict[str, AnySelector] = Field(default_factory=dict)


def detections_through_operations(inputs: StepInputs, budget: RunBudget) -> StepResult:
    """``predictions`` put through the step's ``operations`` (within the run's ``budget``),
    which must yield detections."""
    detections = inputs.detections("predictions")
    try:
        result = apply_operations(
            detections, inputs["operations"], inputs["operations_parameters"], budget=budget
        )
    except QueryError as exc:
        raise inputs.fail("operations", str(exc)) from None
    if not isinstance(result, sv.Detections):
        raise inputs.fail("operations", f"must yield detections, not {type(result).__name__}")
    return {"predictions": result}


class DetectionsFilterV1(Block):
    """``predictions`` put through ``operations`` — typically one ``DetectionsFilter`` whose
    statements compare each detection's properties (``_``) with literals or parameters."""

    type = "roboflow_core/detections_filter@v1"
    aliases = ("DetectionsFilter",)
    manifest = DetectionsFilterManifest
    outputs = (OutputDefinition("predictions", k.DETECTION_KINDS),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return detections_through_operations(inputs, context.budget)


DictionarySelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.DICTIONARY,))
]


class PerClassConfidenceFilterManifest(StepManifest):
    predictions: DetectionsSelector
    class_thresholds: dict[str, float] | DictionarySelector
    default_threshold: float | FloatZeroToOneSelector = 0.3


def _thresholds(inputs: StepInputs) -> dict[str, float]:
    value = inputs["class_thresholds"]
    if not isinstance(value, dict):
        raise inputs.fail("class_thresholds", f"expected a dictionary, got {value!r}")
    thresholds: dict[str, float] = {}
    for name, threshold in value.items():
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise inputs.fail("class_thresholds", f"{name!r}: expected a number, got {threshold!r}")
        if not 0.0 <= threshold <= 1.0:
            raise inputs.fail("class_thresholds", f"{name!r}: {threshold} is not within [0, 1]")
        thresholds[str(name)] = float(threshold)
    return thresholds


class PerClassConfidenceFilterV1(Block):
    """``predictions`` whose confidence reaches their class's threshold (``class_thresholds`` by
    class name, ``default_threshold`` for classes not listed); without confidences, all."""

    type = "roboflow_core/per_class_confidence_filter@v1"
    manifest = PerClassConfidenceFilterManifest
    outputs = (OutputDefinition("predictions", k.DETECTION_KINDS),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        thresholds = _thresholds(inputs)
        default = inputs.as_float("default_threshold", low=0.0, high=1.0)
        if detections.confidence is None or len(detections) == 0:
            return {"predictions": detections}
        names = detections.data.get(CLASS_NAME)
        classes = [str(n) for n in names] if names is not None else [""] * len(detections)
        # Compared in float32, the confidences' precision, so a 0.9 score passes a 0.9 threshold.
        minimum = np.array([thresholds.get(name, default) for name in classes], dtype=np.float32)
        kept = detections[np.asarray(detections.confidence, dtype=np.float32) >= minimum]
        assert isinstance(kept, sv.Detections)
        return {"predictions": kept}


class DimensionCollapseManifest(StepManifest):
    data: AnySelector


class DimensionCollapseV1(Block):
    """``output`` = the list of ``data`` over the nested level (e.g. every crop's result)."""

    type = "roboflow_core/dimension_collapse@v1"
    aliases = ("DimensionCollapse",)
    manifest = DimensionCollapseManifest
    outputs = (OutputDefinition("output", (k.LIST_OF_VALUES,)),)
    output_dimensionality_offset = -1

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return {"output": list(inputs["data"])}


TRANSFORMATION_BLOCKS: tuple[type[Block], ...] = (
    DynamicCropV1,
    DetectionsFilterV1,
    PerClassConfidenceFilterV1,
    DimensionCollapseV1,
)
