"""Video analytics on tracked detections: ``line_counter@v1..v2`` (crossings of a line),
``time_in_zone@v1..v3`` (how long each track has been inside a polygon) and ``velocity@v1``
(each track's velocity and speed). State (the line's counts, when each track entered, where each
track was last) is kept per video — see ``blocks.video`` for how long."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.tracking import (
    AnyDetectionsSelector,
    BoxesSelector,
    VideoMetadataSelector,
)
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.blocks.visualizations import Position, position_of
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    ImageSelector,
    ListOfValuesSelector,
    StepManifest,
    StringSelector,
)

__all__ = ["ANALYTICS_BLOCKS", "MAX_ZONE_MASK_PIXELS", "TIME_IN_ZONE"]

# A time_in_zone zone is a mask from the origin to its largest x and y (one byte per pixel).
MAX_ZONE_MASK_PIXELS = 64_000_000

_ANY_DETECTIONS = (
    k.KEYPOINT_DETECTION_PREDICTION,
    k.OBJECT_DETECTION_PREDICTION,
    k.INSTANCE_SEGMENTATION_PREDICTION,
)
# Where ``time_in_zone`` puts each detection's seconds in the zone.
TIME_IN_ZONE = "time_in_zone"
_CORNERS = (
    sv.Position.TOP_LEFT,
    sv.Position.TOP_RIGHT,
    sv.Position.BOTTOM_LEFT,
    sv.Position.BOTTOM_RIGHT,
)


def _tracked(inputs: StepInputs) -> sv.Detections:
    detections = inputs.detections("detections")
    if detections.tracker_id is None:
        raise inputs.fail("detections", "needs tracked detections (e.g. from byte_tracker)")
    return detections


def _point(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        x, y = value
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
            return float(x), float(y)
    return None


# -- line counter ---------------------------------------------------------------------------------


class LineCounterManifestV1(StepManifest):
    metadata: VideoMetadataSelector
    detections: BoxesSelector
    line_segment: list[Any] | ListOfValuesSelector
    triggering_anchor: str | StringSelector | Position = "CENTER"


class LineCounterManifestV2(StepManifest):
    image: ImageSelector
    detections: BoxesSelector
    line_segment: list[Any] | ListOfValuesSelector
    triggering_anchor: str | StringSelector | Position | None = None


class _LineCounter(VideoBlock):
    """``count_in`` / ``count_out``: tracks whose anchor crossed ``line_segment`` (two points)
    in each direction so far in the video."""

    state_fields = ("line_segment", "triggering_anchor")

    def start(self, inputs: StepInputs) -> sv.LineZone:
        segment = inputs["line_segment"]
        points = [_point(p) for p in segment] if isinstance(segment, list) else []
        if len(points) != 2 or None in points:
            raise inputs.fail("line_segment", "expected two points: [[x1, y1], [x2, y2]]")
        (x1, y1), (x2, y2) = points  # type: ignore[misc]
        anchor = inputs.get("triggering_anchor")
        anchors = (position_of(inputs, "triggering_anchor"),) if anchor else _CORNERS
        return sv.LineZone(start=sv.Point(x1, y1), end=sv.Point(x2, y2), triggering_anchors=anchors)

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        detections = _tracked(inputs)
        crossed_in, crossed_out = state.trigger(detections)
        return {
            "count_in": int(state.in_count),
            "count_out": int(state.out_count),
            "detections_in": detections[crossed_in],
            "detections_out": detections[crossed_out],
        }


class LineCounterV1(_LineCounter):
    type = "roboflow_core/line_counter@v1"
    manifest = LineCounterManifestV1
    outputs = (
        OutputDefinition("count_in", (k.INTEGER,)),
        OutputDefinition("count_out", (k.INTEGER,)),
    )
    metadata_field = "metadata"


class LineCounterV2(_LineCounter):
    """v2: the video is the image's; also outputs the detections that crossed each way."""

    type = "roboflow_core/line_counter@v2"
    manifest = LineCounterManifestV2
    outputs = (
        OutputDefinition("count_in", (k.INTEGER,)),
        OutputDefinition("count_out", (k.INTEGER,)),
        OutputDefinition(
            "detections_in", (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
        ),
        OutputDefinition(
            "detections_out", (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
        ),
    )


# -- time in zone ---------------------------------------------------------------------------------


class TimeInZoneManifestV1(StepManifest):
    image: ImageSelector
    metadata: VideoMetadataSelector
    detections: BoxesSelector
    zone: list[Any] | ListOfValuesSelector
    triggering_anchor: str | StringSelector | Position = "CENTER"
    remove_out_of_zone_detections: bool | BooleanSelector = True
    reset_out_of_zone_detections: bool | BooleanSelector = True


class TimeInZoneManifestV2(StepManifest):
    image: ImageSelector
    detections: BoxesSelector
    zone: list[Any] | ListOfValuesSelector
    triggering_anchor: str | StringSelector | Position = "CENTER"
    remove_out_of_zone_detections: bool | BooleanSelector = True
    reset_out_of_zone_detections: bool | BooleanSelector = True


def _polygon(value: Any) -> npt.NDArray[np.int64] | None:
    if not isinstance(value, list | tuple) or len(value) < 3:
        return None
    points = [_point(p) for p in value]
    if None in points:
        return None
    return np.round(np.array(points, dtype=np.float64)).astype(np.int64)


class _TimeInZone(VideoBlock):
    """``timed_detections``: ``detections`` with ``time_in_zone`` (seconds since the track's
    anchor entered ``zone``; 0 outside). Outside detections are dropped when
    ``remove_out_of_zone_detections``; a track that leaves starts over when it comes back if
    ``reset_out_of_zone_detections``."""

    outputs = (
        OutputDefinition(
            "timed_detections", (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
        ),
    )
    several_zones: ClassVar[bool] = False
    state_fields = ("zone", "triggering_anchor", "reset_out_of_zone_detections")

    def start(self, inputs: StepInputs) -> tuple[list[sv.PolygonZone], dict[int, float]]:
        zone = inputs["zone"]
        polygons = [_polygon(zone)]
        if polygons[0] is None and self.several_zones and isinstance(zone, list):
            polygons = [_polygon(item) for item in zone] or [None]
        valid = [p for p in polygons if p is not None]
        if len(valid) != len(polygons):
            raise inputs.fail("zone", "expected a polygon of at least 3 [x, y] points")
        # supervision keeps a mask from (0, 0) to each zone's largest x and y.
        pixels = sum(int(np.prod(np.maximum(p.max(axis=0), 0) + 2)) for p in valid)
        if pixels > MAX_ZONE_MASK_PIXELS:
            raise inputs.fail(
                "zone",
                f"the zones reach {pixels} pixels from the image's origin, more than the "
                f"{MAX_ZONE_MASK_PIXELS} their masks may have",
            )
        anchor = position_of(inputs, "triggering_anchor")
        zones = [sv.PolygonZone(polygon=p, triggering_anchors=(anchor,)) for p in valid]
        return zones, {}

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        zones, entered = state
        detections = _tracked(inputs)
        inside = np.zeros(len(detections), dtype=bool)
        for zone in zones:
            inside |= np.asarray(zone.trigger(detections), dtype=bool)
        now = metadata.seconds
        reset = inputs.as_bool("reset_out_of_zone_detections")
        times = np.zeros(len(detections), dtype=np.float64)
        assert detections.tracker_id is not None
        for index, (track, is_inside) in enumerate(zip(detections.tracker_id, inside, strict=True)):
            track_id = int(track)
            if is_inside:
                times[index] = now - entered.setdefault(track_id, now)
            elif reset:
                entered.pop(track_id, None)
        timed = detections[np.arange(len(detections))]
        assert isinstance(timed, sv.Detections)
        timed.data[TIME_IN_ZONE] = times
        if inputs.as_bool("remove_out_of_zone_detections"):
            timed = timed[inside]
        return {"timed_detections": timed}


class TimeInZoneV1(_TimeInZone):
    type = "roboflow_core/time_in_zone@v1"
    manifest = TimeInZoneManifestV1
    metadata_field = "metadata"


class TimeInZoneV2(_TimeInZone):
    type = "roboflow_core/time_in_zone@v2"
    manifest = TimeInZoneManifestV2


class TimeInZoneV3(_TimeInZone):
    """v3: ``zone`` may also be a list of polygons (inside any of them counts)."""

    type = "roboflow_core/time_in_zone@v3"
    manifest = TimeInZoneManifestV2
    several_zones = True


# -- velocity -------------------------------------------------------------------------------------


class VelocityManifest(StepManifest):
    image: ImageSelector
    detections: AnyDetectionsSelector
    smoothing_alpha: float | FloatSelector = 0.5
    pixels_per_meter: float | FloatSelector = 1.0


@dataclass
class _Motion:
    """Per track: last box centre (px) and time (s), and the smoothed velocity (px/s)."""

    last: dict[int, tuple[npt.NDArray[np.float64], float]] = field(default_factory=dict)
    smoothed: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)


class VelocityV1(VideoBlock):
    """``velocity_detections``: ``detections`` with, per track, ``velocity`` (``[vx, vy]``, box
    centre displacement since the track's previous frame over the time between the frames),
    ``speed`` (its norm), and their exponential moving averages ``smoothed_velocity`` /
    ``smoothed_speed`` (weight ``smoothing_alpha`` on the new value), all divided by
    ``pixels_per_meter``. A track's first frame has zero velocity. Frame times come from the
    image's video metadata (frame number / fps for video files)."""

    type = "roboflow_core/velocity@v1"
    manifest = VelocityManifest
    outputs = (OutputDefinition("velocity_detections", _ANY_DETECTIONS),)

    def start(self, inputs: StepInputs) -> _Motion:
        return _Motion()

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        detections = _tracked(inputs)
        alpha = inputs.as_float("smoothing_alpha")
        if not 0 < alpha <= 1:
            raise inputs.fail("smoothing_alpha", "must be in (0, 1]")
        scale = inputs.as_float("pixels_per_meter")
        if scale <= 0:
            raise inputs.fail("pixels_per_meter", "must be greater than 0")
        now = metadata.seconds
        centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]).astype(np.float64) / 2
        velocity = np.zeros((len(detections), 2), dtype=np.float64)
        smoothed = np.zeros((len(detections), 2), dtype=np.float64)
        assert detections.tracker_id is not None
        for index, track in enumerate(int(t) for t in detections.tracker_id):
            previous = state.last.get(track)
            if previous is not None and now > previous[1]:
                velocity[index] = (centres[index] - previous[0]) / (now - previous[1])
            before = state.smoothed.get(track)
            smoothed[index] = (
                velocity[index]
                if before is None
                else alpha * velocity[index] + (1 - alpha) * before
            )
            state.last[track] = (centres[index], now)
            state.smoothed[track] = smoothed[index]
        result = detections[np.arange(len(detections))]
        assert isinstance(result, sv.Detections)
        result.data["velocity"] = velocity / scale
        result.data["speed"] = np.linalg.norm(velocity, axis=1) / scale
        result.data["smoothed_velocity"] = smoothed / scale
        result.data["smoothed_speed"] = np.linalg.norm(smoothed, axis=1) / scale
        return {"velocity_detections": result}


ANALYTICS_BLOCKS: tuple[type[Block], ...] = (
    LineCounterV1,
    LineCounterV2,
    TimeInZoneV1,
    TimeInZoneV2,
    TimeInZoneV3,
    VelocityV1,
)
