"""Blocks that reshape detections: ``detection_offset`` (grow boxes), ``detections_transformation``
(query-language operations that yield detections), ``bounding_rect`` (each mask's minimum
rotated rectangle), ``detections_merge`` (one box around all) and ``detections_combine`` (two sets
of detections as one)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.detections import (
    CLASS_NAME,
    DETECTION_ID,
    PARENT_ID,
    POLYGON,
    empty_detections,
)
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.transformations import detections_through_operations
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    AnySelector,
    DetectionsSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.query import Operation
from visionflow.workflows.query.transforms import offset_boxes
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "DETECTIONS_OPS_BLOCKS",
    "BoundingRectV1",
    "DetectionOffsetV1",
    "DetectionsCombineV1",
    "DetectionsMergeV1",
    "DetectionsTransformationV1",
]

PositiveInt = Annotated[int, Field(gt=0)]
SegmentationSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INSTANCE_SEGMENTATION_PREDICTION,))
]
_BOXES_KINDS = (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
BoxesSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_BOXES_KINDS)]


class DetectionOffsetManifest(StepManifest):
    predictions: DetectionsSelector
    offset_width: PositiveInt | IntegerSelector
    offset_height: PositiveInt | IntegerSelector
    units: Literal["Percent (%)", "Pixels"] = "Pixels"


class DetectionOffsetV1(Block):
    """``predictions`` with every box grown by half of ``offset_width`` / ``offset_height`` on each
    side (pixels, or percent of the box's own width / height, truncated to whole pixels as the
    reference does), clipped to the image. Each result is a new detection: a fresh
    ``detection_id``, and ``parent_id`` naming the detection it grew from."""

    type = "roboflow_core/detection_offset@v1"
    aliases = ("DetectionOffset",)
    manifest = DetectionOffsetManifest
    outputs = (OutputDefinition("predictions", k.DETECTION_KINDS),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        offset_w = inputs.as_int("offset_width", low=1)
        offset_h = inputs.as_int("offset_height", low=1)
        if len(detections) == 0:
            return {"predictions": detections}
        lineage = lineage_of(detections)
        width, height = lineage.size_wh if lineage is not None else (np.inf, np.inf)
        if inputs["units"] == "Percent (%)":
            size_wh = (detections.xyxy[:, 2:4] - detections.xyxy[:, 0:2]).astype(np.float64)
            dx_dy = np.trunc(size_wh * np.array([offset_w, offset_h]) / 200)
            grown = offset_boxes(detections, (0, 0, 0, 0))
            grown.xyxy = grown.xyxy + np.hstack([-dx_dy, dx_dy]).astype(np.float32)
        else:
            dx, dy = offset_w // 2, offset_h // 2
            grown = offset_boxes(detections, (-dx, -dy, dx, dy))
        grown.xyxy = np.clip(grown.xyxy, 0, [width, height, width, height]).astype(np.float32)
        count = len(grown)
        ids = detections.data.get(DETECTION_ID)
        if ids is not None:
            grown.data[PARENT_ID] = np.array(ids, dtype=object, copy=True)
        grown.data[DETECTION_ID] = np.array([str(uuid.uuid4()) for _ in range(count)], object)
        return {"predictions": grown}


class DetectionsTransformationManifest(StepManifest):
    predictions: DetectionsSelector
    operations: list[Operation]
    operations_parameters: dict[str, AnySelector] = Field(default_factory=dict)


class DetectionsTransformationV1(Block):
    """``predictions`` put through ``operations`` (e.g. ``DetectionsOffset``, ``SortDetections``,
    ``DetectionsRename``, ``DetectionsFilter``), which must yield detections."""

    type = "roboflow_core/detections_transformation@v1"
    aliases = ("DetectionsTransformation",)
    manifest = DetectionsTransformationManifest
    outputs = (OutputDefinition("predictions", k.DETECTION_KINDS),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return detections_through_operations(inputs, context.budget)


class BoundingRectManifest(StepManifest):
    predictions: SegmentationSelector


def _min_area_rect(mask: np.ndarray) -> tuple[np.ndarray, float, float, float] | None:
    """The minimum rotated rectangle of the mask's largest contour: 4 integer corners, its
    width, height and angle (OpenCV's convention); ``None`` for an empty mask."""
    contours, _hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    if not contours:
        return None
    largest = max(contours, key=len)
    (cx, cy), (rect_w, rect_h), angle = cv2.minAreaRect(largest)
    corners = cv2.boxPoints(((cx, cy), (rect_w, rect_h), angle)).astype(int)
    return corners, float(rect_w), float(rect_h), float(angle)


class BoundingRectV1(Block):
    """``detections_with_rect``: each instance's mask replaced by the minimum rotated rectangle
    of its largest contour, the box by that rectangle's bounds; ``data`` gains ``rect`` (its 4
    corners), ``width``, ``height`` and ``angle``."""

    type = "roboflow_core/bounding_rect@v1"
    manifest = BoundingRectManifest
    outputs = (OutputDefinition("detections_with_rect", (k.INSTANCE_SEGMENTATION_PREDICTION,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        if detections.mask is None:
            raise inputs.fail("predictions", "needs instance masks (a segmentation model's)")
        masks = np.asarray(detections.mask, dtype=bool)
        height, width = masks.shape[1:]
        keep: list[int] = []
        new_masks, boxes, rects, sizes, angles = [], [], [], [], []
        polygons: list[np.ndarray] = []
        for index in range(len(detections)):
            found = _min_area_rect(masks[index])
            if found is None:
                continue
            corners, rect_w, rect_h, angle = found
            keep.append(index)
            new_masks.append(sv.polygon_to_mask(corners, (width, height)).astype(bool))
            boxes.append(sv.polygon_to_xyxy(corners))
            rects.append(corners.astype(np.float32))
            polygons.append(corners.astype(np.float32))
            sizes.append((rect_w, rect_h))
            angles.append(angle)
        result = detections[np.array(keep, dtype=int)]
        assert isinstance(result, sv.Detections)
        count = len(keep)
        result.mask = np.array(new_masks, dtype=bool).reshape(count, height, width)
        result.xyxy = np.array(boxes, dtype=np.float32).reshape(count, 4)
        for key, values in (("rect", rects), (POLYGON, polygons)):
            column = np.empty(count, dtype=object)
            for position, value in enumerate(values):
                column[position] = value
            result.data[key] = column
        result.data["width"] = np.array([w for w, _h in sizes], dtype=np.float32)
        result.data["height"] = np.array([h for _w, h in sizes], dtype=np.float32)
        result.data["angle"] = np.array(angles, dtype=np.float32)
        return {"detections_with_rect": result}


class DetectionsMergeManifest(StepManifest):
    predictions: DetectionsSelector
    class_name: str = "merged_detection"


class DetectionsMergeV1(Block):
    """``predictions`` as one detection, field for field the reference's: the box around them
    all, the lowest confidence (none when they have none), class ``class_name`` with id 0 and a
    new ``detection_id``; nothing else (no mask, tracker id, keypoints or other data). Like the
    reference's it belongs to no image: no ``parent_id``, and its serialized ``image`` is
    ``{"width": null, "height": null}``; an output in ``parent`` coordinates leaves it where it
    is. None when there are none."""

    type = "roboflow_core/detections_merge@v1"
    manifest = DetectionsMergeManifest
    outputs = (OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        class_name = inputs.as_str("class_name")
        if len(detections) == 0:
            return {"predictions": empty_detections()}
        xyxy = detections.xyxy
        union = np.concatenate([xyxy[:, :2].min(axis=0), xyxy[:, 2:].max(axis=0)])
        confidence = detections.confidence
        merged = sv.Detections(
            xyxy=union.reshape(1, 4).astype(np.float32),
            confidence=None if confidence is None else np.array([confidence.min()], np.float32),
            class_id=np.zeros(1, dtype=np.int64),
            data={
                CLASS_NAME: np.array([class_name], dtype=object),
                DETECTION_ID: np.array([str(uuid.uuid4())], dtype=object),
            },
        )
        return {"predictions": merged}


class DetectionsCombineManifest(StepManifest):
    prediction_one: BoxesSelector
    prediction_two: BoxesSelector


class DetectionsCombineV1(Block):
    """``predictions``: those of ``prediction_one`` followed by those of ``prediction_two``. Both
    must be on the same image and of the same shape (both with masks or neither, the same
    per-detection values); an empty side is left out."""

    type = "roboflow_core/detections_combine@v1"
    manifest = DetectionsCombineManifest
    outputs = (OutputDefinition("predictions", _BOXES_KINDS),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        one = inputs.detections("prediction_one")
        two = inputs.detections("prediction_two")
        try:
            combined = sv.Detections.merge([one, two])
        except ValueError as exc:
            raise inputs.fail(
                "prediction_two", f"cannot be combined with prediction_one: {exc}"
            ) from None
        lineage = lineage_of(one) or lineage_of(two)
        if lineage is not None and lineage_of(combined) is None:
            attach_lineage(combined, lineage)
        return {"predictions": combined}


DETECTIONS_OPS_BLOCKS: tuple[type[Block], ...] = (
    DetectionOffsetV1,
    DetectionsTransformationV1,
    BoundingRectV1,
    DetectionsMergeV1,
    DetectionsCombineV1,
)
