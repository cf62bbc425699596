"""Changes between frames of a video with OpenCV's MOG2 background model:
``background_subtraction`` (the foreground mask as an image) and ``motion_detection`` (moving
regions as detections and polygons, ``motion`` and an ``alarm`` on the frame motion starts).

The background model is kept per video (``blocks.video``): across requests for frames sent
with video metadata, within one batch otherwise — the reference's HTTP server keeps one model
per request, for every video in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any

import cv2
import numpy as np
import supervision as sv
from pydantic import Field
from shapely.geometry import Polygon

from visionflow.core.detections import make_detections
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.classical_cv import replace_pixels
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.lineage import attach_lineage
from visionflow.workflows.manifest import (
    BooleanSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["BACKGROUND_BLOCKS", "BackgroundSubtractionV1", "MotionDetectionV1"]

_ZoneSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.ZONE,))]
PositiveInt = Annotated[int, Field(gt=0)]


def _mog2(inputs: StepInputs) -> Any:
    return cv2.createBackgroundSubtractorMOG2(
        history=inputs.as_int("history", low=1),
        varThreshold=inputs.as_int("threshold", low=0),
        detectShadows=True,
    )


class BackgroundSubtractionManifestV1(StepManifest):
    image: ImageSelector
    threshold: int | IntegerSelector = 16
    history: int | IntegerSelector = 30


class BackgroundSubtractionV1(VideoBlock):
    """``image``: the MOG2 foreground mask of the frame (255 foreground, 127 shadow, 0
    background) as a 3-channel image; the model learns from ``history`` frames, a pixel is
    foreground past ``threshold`` (squared Mahalanobis distance)."""

    type = "roboflow_core/background_subtraction@v1"
    manifest = BackgroundSubtractionManifestV1
    outputs = (OutputDefinition("image", (k.IMAGE,)),)
    block_type = "classical_computer_vision"
    state_fields = ("threshold", "history")

    def start(self, inputs: StepInputs) -> Any:
        return _mog2(inputs)

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        image = inputs.image("image")
        mask = state.apply(image.pixels_bgr)
        return {"image": replace_pixels(image, np.stack((mask,) * 3, axis=-1))}


class MotionDetectionManifestV1(StepManifest):
    image: ImageSelector
    minimum_contour_area: PositiveInt | IntegerSelector = 200
    morphological_kernel_size: PositiveInt | IntegerSelector = 3
    threshold: PositiveInt | IntegerSelector = 16
    history: PositiveInt | IntegerSelector = 30
    detection_zone: list[Any] | str | _ZoneSelector | ListOfValuesSelector | None = None
    suppress_first_detections: bool | BooleanSelector = True


@dataclass
class _Motion:
    model: Any
    frames: int = 0
    last_motion: bool = False
    kernels: dict[int, Any] = field(default_factory=dict)


def _zone(inputs: StepInputs) -> list[Any] | None:
    zone = inputs.get("detection_zone")
    if isinstance(zone, str):
        try:
            zone = json.loads(zone)
        except ValueError:
            raise inputs.fail("detection_zone", "could not parse it as JSON") from None
    if zone is None or len(zone) == 0:
        return None
    if not isinstance(zone, list) or len(zone) < 3:
        raise inputs.fail("detection_zone", "expected a polygon of at least 3 [x, y] points")
    return zone


def _clip(contours: list[Any], zone: list[Any]) -> list[Any]:
    """``contours`` intersected with the ``zone`` polygon (each part of a split contour)."""
    clip = Polygon(zone)
    clipped: list[Any] = []
    for contour in contours:
        points = contour.reshape(-1, 2)
        if len(points) < 3:
            continue
        try:
            part = Polygon(points).intersection(clip)
        except Exception:
            continue
        if part.is_empty:
            continue
        parts = list(part.geoms) if part.geom_type == "MultiPolygon" else [part]
        for polygon in parts:
            if polygon.geom_type != "Polygon":
                continue
            coords = list(polygon.exterior.coords[:-1])
            if len(coords) >= 3:
                xy = np.array([[int(x), int(y)] for x, y in coords], dtype=np.int32)
                clipped.append(xy.reshape(-1, 1, 2))
    return clipped


class MotionDetectionV1(VideoBlock):
    """Moving regions of the frame: MOG2 foreground, opened with an elliptic kernel of
    ``morphological_kernel_size``, outer contours larger than ``minimum_contour_area`` (clipped
    to ``detection_zone`` when given), simplified to 1% of their perimeter. ``detections``: their
    boxes (class ``motion``, confidence 1); ``motion_zones``: their polygons; ``motion``: any
    region; ``alarm``: motion now and none on the previous frame. With
    ``suppress_first_detections`` the first ``history`` frames only train the model."""

    type = "roboflow_core/motion_detection@v1"
    manifest = MotionDetectionManifestV1
    outputs = (
        OutputDefinition("motion", (k.BOOLEAN,)),
        OutputDefinition("alarm", (k.BOOLEAN,)),
        OutputDefinition("detections", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("motion_zones", (k.LIST_OF_VALUES,)),
    )
    block_type = "classical_computer_vision"
    state_fields = ("threshold", "history")

    def start(self, inputs: StepInputs) -> _Motion:
        return _Motion(_mog2(inputs))

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        motion: _Motion = state
        image = inputs.image("image")
        zone = _zone(inputs)
        mask = motion.model.apply(image.pixels_bgr)
        if inputs.as_bool("suppress_first_detections") and motion.frames < inputs.as_int(
            "history", low=1
        ):
            motion.frames += 1
            return {
                "motion": False,
                "detections": self._detections(image, []),
                "alarm": False,
                "motion_zones": [],
            }
        size = inputs.as_int("morphological_kernel_size", low=1)
        if size not in motion.kernels:
            motion.kernels[size] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, motion.kernels[size])
        contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        least = inputs.as_int("minimum_contour_area", low=1)
        kept = [c for c in contours if len(c) > 2 and cv2.contourArea(c) > least]
        if zone is not None:
            kept = _clip(kept, zone)
        simplified = [cv2.approxPolyDP(c, 0.01 * cv2.arcLength(c, True), True) for c in kept]
        simplified = [c for c in simplified if len(c) >= 3]
        polygons = [np.squeeze(c).tolist() for c in simplified]
        moving = len(kept) > 0
        alarm = moving and not motion.last_motion
        motion.last_motion = moving
        return {
            "motion": moving,
            "detections": self._detections(image, simplified),
            "alarm": alarm,
            "motion_zones": polygons,
        }

    @staticmethod
    def _detections(image: Any, contours: list[Any]) -> sv.Detections:
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, x + w, y + h])
        count = len(boxes)
        detections = make_detections(
            np.array(boxes, dtype=np.float32).reshape(-1, 4),
            np.ones(count),
            np.zeros(count, dtype=int),
            ["motion"],
        )
        return attach_lineage(detections, image.lineage)


BACKGROUND_BLOCKS: tuple[type[Block], ...] = (BackgroundSubtractionV1, MotionDetectionV1)
