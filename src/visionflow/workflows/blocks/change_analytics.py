"""Video analytics over tracked detections: ``detection_event_log`` (when each track was first
and last seen), ``path_deviation_analytics`` v1/v2 (discrete Fréchet distance of each track's
path from a reference path) and ``overlap`` (detections overlapping those of one class).

State is per video (``blocks.video``): across requests for frames sent with video metadata,
within one batch otherwise.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.blocks.visualizations import Position
from visionflow.workflows.manifest import (
    FloatSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "CHANGE_ANALYTICS_BLOCKS",
    "DetectionEventLogV1",
    "OverlapV1",
    "PathDeviationV1",
    "PathDeviationV2",
    "frechet_distance",
]

_BOXES = (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
_BoxesSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_BOXES)]
_VideoSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.VIDEO_METADATA,))
]
AtLeastOne = Annotated[int, Field(ge=1)]


@dataclass
class DetectionEvent:
    tracker_id: int
    class_name: str
    first_seen_frame: int
    first_seen_timestamp: float
    last_seen_frame: int
    last_seen_timestamp: float
    first_seen_relative: float = 0.0
    last_seen_relative: float = 0.0
    frame_count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _EventLog:
    events: dict[int, DetectionEvent] = field(default_factory=dict)
    frames: int = 0
    last_flush: int | None = None
    first_timestamp: float | None = None


class DetectionEventLogManifestV1(StepManifest):
    image: ImageSelector
    detections: _BoxesSelector
    frame_threshold: AtLeastOne | IntegerSelector = 30
    flush_interval: AtLeastOne | IntegerSelector = 30
    stale_frames: AtLeastOne | IntegerSelector = 300
    reference_timestamp: float | FloatSelector | None = None
    fallback_fps: Annotated[float, Field(gt=0)] | FloatSelector = 1.0


class DetectionEventLogV1(VideoBlock):
    """For each track of the video: class, first / last frame (counted from 1 by this block),
    Unix time and seconds since the video's first frame, and frames seen. ``event_log`` splits
    them into ``logged`` (seen at least ``frame_threshold`` frames) and ``pending``; every
    ``flush_interval`` frames tracks unseen for more than ``stale_frames`` are dropped, and the
    logged ones among them are this frame's ``complete_events``. ``detections`` pass through."""

    type = "roboflow_core/detection_event_log@v1"
    manifest = DetectionEventLogManifestV1
    outputs = (
        OutputDefinition("event_log", (k.DICTIONARY,)),
        OutputDefinition("detections", _BOXES),
        OutputDefinition("total_logged", (k.INTEGER,)),
        OutputDefinition("total_pending", (k.INTEGER,)),
        OutputDefinition("complete_events", (k.DICTIONARY,)),
    )
    block_type = "analytics"

    def start(self, inputs: StepInputs) -> _EventLog:
        return _EventLog()

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        log: _EventLog = state
        detections = inputs.detections("detections")
        threshold = inputs.as_int("frame_threshold", low=1)
        interval = inputs.as_int("flush_interval", low=1)
        stale = inputs.as_int("stale_frames", low=1)
        log.frames += 1
        frame = log.frames
        stamp = metadata.frame_timestamp.timestamp() if metadata.frame_timestamp else time.time()
        if log.first_timestamp is None:
            log.first_timestamp = stamp
        relative = stamp - log.first_timestamp
        if log.last_flush is None:
            log.last_flush = frame
        complete: dict[str, Any] = {}
        if frame - log.last_flush >= interval:
            for track, gone in list(log.events.items()):
                if frame - gone.last_seen_frame > stale:
                    del log.events[track]
                    if gone.frame_count >= threshold:
                        complete[str(track)] = gone.as_dict()
            log.last_flush = frame
        if detections.tracker_id is not None and len(detections.tracker_id) > 0:
            names = detections.data.get(CLASS_NAME)
            if names is None or len(names) == 0:
                names = [f"class_{c}" for c in detections.class_id]  # type: ignore[union-attr]
            for i, track in enumerate(int(t) for t in detections.tracker_id):
                event = log.events.get(track)
                if event is None:
                    log.events[track] = DetectionEvent(
                        track, str(names[i]), frame, stamp, frame, stamp, relative, relative
                    )
                else:
                    event.last_seen_frame, event.last_seen_timestamp = frame, stamp
                    event.last_seen_relative = relative
                    event.frame_count += 1
        logged = {str(t): e.as_dict() for t, e in log.events.items() if e.frame_count >= threshold}
        pending = {str(t): e.as_dict() for t, e in log.events.items() if e.frame_count < threshold}
        return {
            "event_log": {"logged": logged, "pending": pending},
            "detections": detections,
            "total_logged": len(logged),
            "total_pending": len(pending),
            "complete_events": complete,
        }


def frechet_distance(path: npt.NDArray[Any], reference: npt.NDArray[Any]) -> float:
    """The discrete Fréchet distance between two polylines (dynamic programming)."""
    if len(path) == 0 or len(reference) == 0:
        return float("inf")
    cost = np.sqrt(((path[:, None, :] - reference[None, :, :]) ** 2).sum(axis=-1))
    n, m = cost.shape
    table = np.empty((n, m))
    table[0, 0] = cost[0, 0]
    for j in range(1, m):
        table[0, j] = max(table[0, j - 1], cost[0, j])
    for i in range(1, n):
        table[i, 0] = max(table[i - 1, 0], cost[i, 0])
        for j in range(1, m):
            table[i, j] = max(
                min(table[i - 1, j], table[i - 1, j - 1], table[i, j - 1]), cost[i, j]
            )
    return float(table[n - 1, m - 1])


# Points kept per track: the distance is recomputed over the whole path on every frame.
MAX_PATH_POINTS = 4096


class PathDeviationManifestV1(StepManifest):
    metadata: _VideoSelector
    detections: _BoxesSelector
    triggering_anchor: str | Position | StringSelector = "CENTER"
    reference_path: list[Any] | ListOfValuesSelector


class PathDeviationManifestV2(StepManifest):
    image: ImageSelector
    detections: _BoxesSelector
    triggering_anchor: str | Position | StringSelector = "CENTER"
    reference_path: list[Any] | ListOfValuesSelector


class _PathDeviation(VideoBlock):
    """``path_deviation_detections``: the tracked detections, each with ``path_deviation``,
    the Fréchet distance between its track's path so far (its ``triggering_anchor`` on every
    frame; the last 4096 points) and ``reference_path``."""

    outputs = (OutputDefinition("path_deviation_detections", _BOXES),)
    block_type = "analytics"
    state_fields: ClassVar[tuple[str, ...]] = ("triggering_anchor",)

    def start(self, inputs: StepInputs) -> dict[int, list[Any]]:
        return {}

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        paths: dict[int, list[Any]] = state
        detections = inputs.detections("detections")
        if detections.tracker_id is None:
            raise inputs.fail("detections", "expected tracked detections (with tracker_id)")
        anchor = inputs.as_str("triggering_anchor")
        try:
            position = sv.Position(anchor)
        except ValueError:
            raise inputs.fail("triggering_anchor", f"unknown anchor {anchor!r}") from None
        try:
            reference = np.asarray(inputs["reference_path"], dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise inputs.fail("reference_path", "expected a list of [x, y] points") from None
        points = detections.get_anchors_coordinates(anchor=position)
        deviations = np.zeros(len(detections), dtype=np.float64)
        for i, track in enumerate(int(t) for t in detections.tracker_id):
            path = paths.setdefault(track, [])
            path.append(points[i])
            del path[:-MAX_PATH_POINTS]
            deviations[i] = frechet_distance(np.asarray(path, dtype=np.float64), reference)
        result = detections[np.arange(len(detections))]
        assert isinstance(result, sv.Detections)
        result.data["path_deviation"] = deviations
        return {"path_deviation_detections": result}


class PathDeviationV1(_PathDeviation):
    type = "roboflow_core/path_deviation_analytics@v1"
    manifest = PathDeviationManifestV1
    metadata_field = "metadata"


class PathDeviationV2(_PathDeviation):
    type = "roboflow_core/path_deviation_analytics@v2"
    manifest = PathDeviationManifestV2


class OverlapManifestV1(StepManifest):
    predictions: _BoxesSelector
    overlap_type: Literal["Center Overlap", "Any Overlap"] = "Center Overlap"
    overlap_class_name: str


def _overlaps(area: Any, other: Any, kind: str) -> bool:
    if kind == "Center Overlap":
        x, y = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
        return bool(area[0] < x < area[2] and area[1] < y < area[3])
    return not (
        other[2] < area[0] or other[0] > area[2] or other[3] < area[1] or other[1] > area[3]
    )


class OverlapV1(Block):
    """``overlaps``: the detections of other classes that overlap a detection of
    ``overlap_class_name`` (their centre inside it, or any overlap), in input order."""

    type = "roboflow_core/overlap@v1"
    manifest = OverlapManifestV1
    outputs = (OutputDefinition("overlaps", (k.OBJECT_DETECTION_PREDICTION,)),)
    block_type = "analytics"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("predictions")
        name = inputs.as_str("overlap_class_name")
        kind = inputs.as_str("overlap_type")
        names = detections.data.get(CLASS_NAME, [None] * len(detections))
        areas = [detections.xyxy[i] for i in range(len(detections)) if names[i] == name]
        others = [i for i in range(len(detections)) if names[i] != name]
        hit = sorted(
            i for i in others if any(_overlaps(a, detections.xyxy[i], kind) for a in areas)
        )
        picked = detections[np.array(hit, dtype=int)]
        assert isinstance(picked, sv.Detections)
        return {"overlaps": picked}


CHANGE_ANALYTICS_BLOCKS: tuple[type[Block], ...] = (
    DetectionEventLogV1,
    PathDeviationV1,
    PathDeviationV2,
    OverlapV1,
)
