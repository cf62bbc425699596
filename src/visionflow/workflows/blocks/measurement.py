"""Measuring detections: ``mask_area_measurement`` (areas in px and units), ``size_measurement``
(sizes scaled by a reference object), ``distance_measurement`` (the gap between two objects
along an axis) and ``detections_nearest_neighbor`` (each query detection's nearest target)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID, KEYPOINTS_CLASS_NAME, KEYPOINTS_XY
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    FloatSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "MEASUREMENT_BLOCKS",
    "DetectionsNearestNeighborV1",
    "DistanceMeasurementV1",
    "MaskAreaMeasurementV1",
    "SizeMeasurementV1",
    "detection_areas",
]

_BOXES_MASKS = (k.INSTANCE_SEGMENTATION_PREDICTION, k.OBJECT_DETECTION_PREDICTION)
_AnyDetections = (*_BOXES_MASKS[::-1], k.KEYPOINT_DETECTION_PREDICTION)
_BoxesMasksSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_BOXES_MASKS)]
_MasksBoxesSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_BOXES_MASKS[::-1])
]
_ReferenceSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((*_BOXES_MASKS, k.LIST_OF_VALUES))
]
_DimensionsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.LIST_OF_VALUES))
]
_AllSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_AnyDetections)]
Positive = Annotated[float, Field(gt=0)]


def _copy(detections: sv.Detections) -> sv.Detections:
    copied = detections[np.arange(len(detections))]
    assert isinstance(copied, sv.Detections)
    return copied


def detection_areas(detections: sv.Detections) -> npt.NDArray[np.float64]:
    """Each detection's area in px²: its mask's pixels, else (or for an empty mask) its box."""
    areas = []
    for i in range(len(detections)):
        if detections.mask is not None:
            count = int(np.count_nonzero(detections.mask[i]))
            if count > 0:
                areas.append(float(count))
                continue
        x1, y1, x2, y2 = detections.xyxy[i]
        areas.append(float((x2 - x1) * (y2 - y1)))
    return np.array(areas, dtype=np.float64)


class MaskAreaMeasurementManifestV1(StepManifest):
    predictions: _MasksBoxesSelector
    pixels_per_unit: float | FloatSelector = 1.0


class MaskAreaMeasurementV1(Block):
    """Adds ``area_px`` (mask pixels, else box area) and ``area_converted`` (``area_px`` /
    ``pixels_per_unit``², unscaled when that is not positive) to each detection."""

    type = "roboflow_core/mask_area_measurement@v1"
    manifest = MaskAreaMeasurementManifestV1
    outputs = (OutputDefinition("predictions", _BOXES_MASKS[::-1]),)
    block_type = "transformation"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = _copy(inputs.detections("predictions"))
        per_unit = inputs.as_float("pixels_per_unit")
        areas = detection_areas(detections)
        detections.data["area_px"] = areas
        detections.data["area_converted"] = areas / (per_unit**2 if per_unit > 0 else 1.0)
        return {"predictions": detections}


def _aligned_size(contour: npt.NDArray[Any]) -> tuple[float, float]:
    """Width (the more horizontal edge) and height of the contour's minimum-area rectangle."""
    box = np.array(cv2.boxPoints(cv2.minAreaRect(contour)), dtype=np.float32)
    edges = (box[1] - box[0], box[2] - box[1])
    lengths = [float(np.linalg.norm(e)) for e in edges]

    def off_horizontal(edge: npt.NDArray[Any]) -> float:
        angle = abs(float(np.degrees(np.arctan2(edge[1], edge[0]))) % 180)
        return min(angle, 180 - angle)

    if off_horizontal(edges[0]) < off_horizontal(edges[1]):
        return lengths[0], lengths[1]
    return lengths[1], lengths[0]


def _detection_size(detections: sv.Detections, index: int) -> tuple[float, float] | None:
    if detections.mask is None:
        x1, y1, x2, y2 = detections.xyxy[index]
        return float(x2 - x1), float(y2 - y1)
    contours, _ = cv2.findContours(
        detections.mask[index].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if contours:
        largest = max(contours, key=cv2.contourArea)
        if cv2.contourArea(largest) > 0:
            return _aligned_size(largest)
    return None


def _reference_dimensions(inputs: StepInputs) -> tuple[float, float]:
    value = inputs.get("reference_dimensions")
    if isinstance(value, str):
        parts = value.split(",")
        if len(parts) != 2:
            raise inputs.fail("reference_dimensions", "expected 'width,height'")
        try:
            value = [float(p.strip()) for p in parts]
        except ValueError:
            raise inputs.fail("reference_dimensions", "expected two numbers") from None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise inputs.fail("reference_dimensions", "expected two values (width, height)")
    try:
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise inputs.fail("reference_dimensions", "expected two numbers") from None


class SizeMeasurementManifestV1(StepManifest):
    object_predictions: _MasksBoxesSelector
    reference_predictions: list[Any] | _ReferenceSelector
    reference_dimensions: str | tuple[float, float] | list[float] | _DimensionsSelector


class SizeMeasurementV1(Block):
    """``dimensions``: for each object, ``width`` / ``height`` / ``longer`` / ``shorter`` in the
    units of ``reference_dimensions``, scaled by the most confident reference detection (or a
    reference polygon). Sizes come from the mask's minimum-area rectangle (width the more
    horizontal edge), else from the box; ``null`` for an object without size, and ``null``
    instead of the list when there is no usable reference."""

    type = "roboflow_core/size_measurement@v1"
    manifest = SizeMeasurementManifestV1
    outputs = (OutputDefinition("dimensions", (k.LIST_OF_VALUES,)),)
    block_type = "transformation"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        width_units, height_units = _reference_dimensions(inputs)
        reference = inputs.get("reference_predictions")
        size: tuple[float, float] | None = None
        if isinstance(reference, sv.Detections):
            if reference.confidence is None or len(reference) == 0:
                return {"dimensions": None}
            size = _detection_size(reference, int(np.argmax(reference.confidence)))
        elif isinstance(reference, list):
            if len(reference) < 2:
                return {"dimensions": None}
            polygon = np.array(reference, dtype=np.float32)
            if len(polygon) >= 3 and cv2.contourArea(polygon) > 0:
                size = _aligned_size(polygon)
        if size is None or not size[0] or not size[1]:
            return {"dimensions": None}
        sx, sy = width_units / size[0], height_units / size[1]
        objects = inputs.detections("object_predictions")
        dimensions: list[dict[str, float] | None] = []
        for i in range(len(objects)):
            found = _detection_size(objects, i)
            if found is None or found[0] <= 0 or found[1] <= 0:
                dimensions.append(None)
                continue
            w, h = found[0] * sx, found[1] * sy
            dimensions.append({"width": w, "height": h, "longer": max(w, h), "shorter": min(w, h)})
        return {"dimensions": dimensions}


class DistanceMeasurementManifestV1(StepManifest):
    predictions: _BoxesMasksSelector
    object_1_class_name: str
    object_2_class_name: str
    reference_axis: Literal["horizontal", "vertical"]
    calibration_method: Literal["reference object", "pixel to centimeter"]
    reference_object_class_name: str | StringSelector = "reference-object"
    reference_width: Positive | FloatSelector = 2.5
    reference_height: Positive | FloatSelector = 2.5
    pixel_ratio: Positive | FloatSelector = 100


Box = tuple[int, int, int, int]


def _class_box(detections: sv.Detections, name: str) -> Box | None:
    """The (rounded) box of the first detection of class ``name``."""
    names = detections.data.get(CLASS_NAME, [])
    for xyxy, class_name in zip(detections.xyxy.round().astype(int).tolist(), names, strict=False):
        if class_name == name:
            return (xyxy[0], xyxy[1], xyxy[2], xyxy[3])
    return None


def _gap_px(first: Box, second: Box, axis: str) -> int:
    """The gap between the boxes along ``axis``; 0 when they overlap or do not clear the axis."""
    overlap_x = not (first[2] < second[0] or second[2] < first[0])
    overlap_y = not (first[3] < second[1] or second[3] < first[1])
    low, high = (0, 2) if axis == "horizontal" else (1, 3)
    interleaved = first[low] < second[high] and first[high] > second[low]
    if (overlap_x and overlap_y) or interleaved:
        return 0
    if second[low] > first[high]:
        return abs(second[low] - first[high])
    return abs(first[low] - second[high])


class DistanceMeasurementV1(Block):
    """``distance_pixel``: the gap along ``reference_axis`` between the first detections of
    ``object_1_class_name`` and ``object_2_class_name`` (0 when they overlap); ``distance_cm``:
    that gap in cm, from ``pixel_ratio`` (px per cm) or from the box of the reference object
    (its px per cm, averaged over width and height)."""

    type = "roboflow_core/distance_measurement@v1"
    manifest = DistanceMeasurementManifestV1
    outputs = (
        OutputDefinition("distance_cm", (k.INTEGER,)),
        OutputDefinition("distance_pixel", (k.INTEGER,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        first_name, second_name = (
            inputs.as_str("object_1_class_name"),
            inputs.as_str("object_2_class_name"),
        )
        first, second = _class_box(detections, first_name), _class_box(detections, second_name)
        if first is None or second is None:
            raise inputs.fail(
                "predictions",
                f"class {first_name!r} or {second_name!r} is not among the predictions",
            )
        axis = inputs.as_str("reference_axis")
        gap = _gap_px(first, second, axis)
        if gap == 0:
            return {"distance_cm": 0, "distance_pixel": 0}
        if inputs["calibration_method"] == "reference object":
            name = inputs.as_str("reference_object_class_name")
            box = _class_box(detections, name)
            if box is None:
                raise inputs.fail(
                    "reference_object_class_name", f"class {name!r} is not among the predictions"
                )
            width = inputs.as_float("reference_width")
            height = inputs.as_float("reference_height")
            if width <= 0 or height <= 0:
                raise inputs.fail("reference_width", "reference dimensions must be > 0")
            ratio = (abs(box[2] - box[0]) / width + abs(box[3] - box[1]) / height) / 2
        else:
            ratio = inputs.as_float("pixel_ratio")
            if ratio <= 0:
                raise inputs.fail("pixel_ratio", "must be greater than zero")
        return {"distance_cm": gap / ratio, "distance_pixel": gap}


_Anchor = Literal[
    "CENTER",
    "CENTER_LEFT",
    "CENTER_RIGHT",
    "TOP_CENTER",
    "TOP_LEFT",
    "TOP_RIGHT",
    "BOTTOM_LEFT",
    "BOTTOM_CENTER",
    "BOTTOM_RIGHT",
    "KEYPOINT",
]
ANCHORS: tuple[str, ...] = get_args(_Anchor)
MAX_PER_SET = 1000
MAX_PAIRS, MAX_PAIRS_WITH_MASKS = 10_000, 100
TIE_PX = 1.0


class DetectionsNearestNeighborManifestV1(StepManifest):
    query_predictions: _AllSelector
    target_predictions: _AllSelector
    query_point: _Anchor | StringSelector = "CENTER"
    target_point: _Anchor | StringSelector = "CENTER"
    query_keypoint_name: str | StringSelector | None = None
    target_keypoint_name: str | StringSelector | None = None
    max_distance: Annotated[int, Field(ge=0)] | IntegerSelector | None = None


def _anchors(inputs: StepInputs, which: str) -> tuple[sv.Detections, npt.NDArray[np.float64]]:
    detections = inputs.detections(f"{which}_predictions")
    if len(detections) > MAX_PER_SET:
        raise inputs.fail(
            f"{which}_predictions",
            f"{len(detections)} detections, more than the {MAX_PER_SET} this block compares "
            "pairwise; filter them upstream",
        )
    point = inputs.as_str(f"{which}_point")
    if point not in ANCHORS:
        raise inputs.fail(f"{which}_point", f"expected one of {list(ANCHORS)}")
    if point != "KEYPOINT":
        anchor = getattr(sv.Position, point)
        return detections, np.asarray(detections.get_anchors_coordinates(anchor), np.float64)
    name = inputs.get(f"{which}_keypoint_name")
    if not name:
        raise inputs.fail(f"{which}_keypoint_name", f"needed when {which}_point is KEYPOINT")
    xy, names = detections.data.get(KEYPOINTS_XY), detections.data.get(KEYPOINTS_CLASS_NAME)
    if xy is None or names is None:
        raise inputs.fail(f"{which}_predictions", "KEYPOINT needs keypoint detections")
    points = np.full((len(detections), 2), np.nan)
    for i, class_names in enumerate(names):
        found = np.where(np.asarray(class_names) == name)[0]
        if len(found) > 0:
            points[i] = np.asarray(xy[i])[found[0]]
    return detections, points


class DetectionsNearestNeighborV1(Block):
    """Each query detection's nearest target (between the chosen anchor points or keypoints;
    a target with the same ``detection_id`` is the query itself and never matches; farther
    than ``max_distance`` never matches). ``query_predictions`` gain
    ``nearest_target_distance`` (``null`` without a match); ``matched_query_detections`` and
    ``matched_target_detections`` are the matched pairs, index by index (a tie within 1 px
    gives one pair per tied target)."""

    type = "roboflow_core/detections_nearest_neighbor@v1"
    manifest = DetectionsNearestNeighborManifestV1
    outputs = (
        OutputDefinition("query_predictions", _AnyDetections),
        OutputDefinition("matched_query_detections", _AnyDetections),
        OutputDefinition("matched_target_detections", _AnyDetections),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        query, query_points = _anchors(inputs, "query")
        targets, target_points = _anchors(inputs, "target")
        query = _copy(query)
        if len(targets) == 0 or len(query) == 0:
            query.data["nearest_target_distance"] = np.array([None] * len(query), dtype=object)
            return {
                "query_predictions": query,
                "matched_query_detections": query[np.zeros(len(query), dtype=bool)],
                "matched_target_detections": targets[np.zeros(len(targets), dtype=bool)],
            }
        diff = query_points[:, None, :] - target_points[None, :, :]
        distances = np.sqrt(np.sum(diff**2, axis=-1))
        query_ids, target_ids = query.data.get(DETECTION_ID), targets.data.get(DETECTION_ID)
        if query_ids is not None and target_ids is not None:
            distances[np.asarray(query_ids)[:, None] == np.asarray(target_ids)[None, :]] = np.nan
        limit = inputs.get("max_distance")
        if limit is not None:
            distances[distances > limit] = np.nan
        valid = ~np.all(np.isnan(distances), axis=1)
        nearest = np.full(len(query), np.nan)
        nearest[valid] = np.nanmin(distances[valid], axis=1)
        with np.errstate(invalid="ignore"):
            ties = distances <= nearest[:, None] + TIE_PX
        pairs = int(np.count_nonzero(ties))
        masked = query.mask is not None or targets.mask is not None
        most = MAX_PAIRS_WITH_MASKS if masked else MAX_PAIRS
        if pairs > most:
            raise inputs.fail(
                "query_predictions",
                f"{pairs} matched pairs, more than the {most} allowed (many detections share "
                "an anchor point)",
            )
        rows, cols = np.where(ties)
        query.data["nearest_target_distance"] = np.array(
            [None if np.isnan(d) else float(d) for d in nearest], dtype=object
        )
        return {
            "query_predictions": query,
            "matched_query_detections": query[rows],
            "matched_target_detections": targets[cols],
        }


MEASUREMENT_BLOCKS: tuple[type[Block], ...] = (
    MaskAreaMeasurementV1,
    SizeMeasurementV1,
    DistanceMeasurementV1,
    DetectionsNearestNeighborV1,
)
