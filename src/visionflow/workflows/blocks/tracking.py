"""``byte_tracker@v1..v3``: ByteTrack over the frames of each video (``blocks.video`` says where
the video identity comes from and how long state lasts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.bytetrack import ByteTrack
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata, frame_metadata
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["TRACKING_BLOCKS", "ByteTrackerV1", "ByteTrackerV2", "ByteTrackerV3"]

VideoMetadataSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.VIDEO_METADATA,))
]
BoxesSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]
AnyDetectionsSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference(
        (
            k.OBJECT_DETECTION_PREDICTION,
            k.KEYPOINT_DETECTION_PREDICTION,
            k.INSTANCE_SEGMENTATION_PREDICTION,
        )
    ),
]


class ByteTrackerManifestV1(StepManifest):
    metadata: VideoMetadataSelector
    detections: BoxesSelector
    track_activation_threshold: float | FloatZeroToOneSelector | None = 0.25
    lost_track_buffer: int | IntegerSelector | None = 30
    minimum_matching_threshold: float | FloatZeroToOneSelector | None = 0.8
    minimum_consecutive_frames: int | IntegerSelector | None = 1


class ByteTrackerManifestV2(StepManifest):
    image: ImageSelector
    detections: BoxesSelector
    track_activation_threshold: float | FloatZeroToOneSelector | None = 0.25
    lost_track_buffer: int | IntegerSelector | None = 30
    minimum_matching_threshold: float | FloatZeroToOneSelector | None = 0.8
    minimum_consecutive_frames: int | IntegerSelector | None = 1


class ByteTrackerManifestV3(StepManifest):
    image: ImageSelector
    detections: AnyDetectionsSelector
    track_activation_threshold: float | FloatZeroToOneSelector | None = 0.25
    lost_track_buffer: int | IntegerSelector | None = 30
    minimum_matching_threshold: float | FloatZeroToOneSelector | None = 0.8
    minimum_consecutive_frames: int | IntegerSelector | None = 1
    instances_cache_size: int = 16384


def _setting(inputs: StepInputs, name: str, default: float) -> Any:
    value = inputs.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise inputs.fail(name, f"expected a number, got {value!r}")
    return value


@dataclass
class _Tracks:
    tracker: ByteTrack
    seen: set[int] = field(default_factory=set)


def _new_tracks(inputs: StepInputs, metadata: VideoMetadata) -> _Tracks:
    return _Tracks(
        ByteTrack(
            track_activation_threshold=_setting(inputs, "track_activation_threshold", 0.25),
            lost_track_buffer=int(_setting(inputs, "lost_track_buffer", 30)),
            minimum_matching_threshold=_setting(inputs, "minimum_matching_threshold", 0.8),
            frame_rate=metadata.fps or 30.0,
            minimum_consecutive_frames=int(_setting(inputs, "minimum_consecutive_frames", 1)),
        )
    )


_SETTINGS = (
    "track_activation_threshold",
    "lost_track_buffer",
    "minimum_matching_threshold",
    "minimum_consecutive_frames",
)


class _ByteTracker(VideoBlock):
    """``tracked_detections``: ``detections`` that belong to a confirmed track, with
    ``tracker_id`` (ids from 1 per video). Frames of one video are the elements with the same
    video identifier, in batch order, and — when they come with video metadata — those of later
    requests too (``blocks.video``)."""

    with_instances: ClassVar[bool] = False
    state_fields = _SETTINGS

    def start(self, inputs: StepInputs) -> _Tracks:
        # Once per video: its first frame's rate sets the tracker's.
        metadata, _explicit = frame_metadata(inputs, self.metadata_field)
        return _new_tracks(inputs, metadata)

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        tracks: _Tracks = state
        detections = inputs.detections("detections")
        tracked = tracks.tracker.update(detections)
        lineage = lineage_of(detections)
        if lineage is not None:
            attach_lineage(tracked, lineage)
        outputs: dict[str, Any] = {"tracked_detections": tracked}
        if self.with_instances:
            ids = [] if tracked.tracker_id is None else [int(t) for t in tracked.tracker_id]
            new = [t not in tracks.seen for t in ids]
            tracks.seen.update(ids)
            outputs["new_instances"] = _pick(tracked, new)
            outputs["already_seen_instances"] = _pick(tracked, [not n for n in new])
        return outputs


def _pick(detections: sv.Detections, keep: list[bool]) -> sv.Detections:
    picked = detections[np.array(keep, dtype=bool).reshape(len(detections))]
    assert isinstance(picked, sv.Detections)
    return picked


class ByteTrackerV1(_ByteTracker):
    """v1: the video identity and frame rate come from ``metadata`` (``video_metadata``)."""

    type = "roboflow_core/byte_tracker@v1"
    manifest = ByteTrackerManifestV1
    outputs = (OutputDefinition("tracked_detections", (k.OBJECT_DETECTION_PREDICTION,)),)
    metadata_field = "metadata"


class ByteTrackerV2(_ByteTracker):
    """v2: the video is the image's (its video metadata, else the image is its own video)."""

    type = "roboflow_core/byte_tracker@v2"
    manifest = ByteTrackerManifestV2
    outputs = (OutputDefinition("tracked_detections", (k.OBJECT_DETECTION_PREDICTION,)),)


class ByteTrackerV3(_ByteTracker):
    """v3: also splits the tracked detections into ``new_instances`` (track ids seen for the
    first time) and ``already_seen_instances``."""

    type = "roboflow_core/byte_tracker@v3"
    manifest = ByteTrackerManifestV3
    outputs = (
        OutputDefinition("tracked_detections", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("new_instances", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("already_seen_instances", (k.OBJECT_DETECTION_PREDICTION,)),
    )
    with_instances = True


TRACKING_BLOCKS: tuple[type[Block], ...] = (ByteTrackerV1, ByteTrackerV2, ByteTrackerV3)
