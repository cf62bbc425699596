"""``trackers_bytetrack`` / ``trackers_sort`` / ``trackers_ocsort`` / ``trackers_botsort``: the
multi-object trackers of Roboflow's ``trackers`` package (2.4, the version the reference pins),
one tracker per video (``blocks.video``: across requests for frames sent with video metadata,
within one batch otherwise), created on the video's first frame with its frame rate (30 fps when
unknown). Outputs are the confirmed tracks (``tracker_id`` from 0 in each video), split as well into
``new_instances`` (ids seen for the first time; the last ``instances_cache_size`` ids are
remembered) and ``already_seen_instances``.

``trackers`` declares ``opencv-python`` (the GUI build) as a dependency, which would replace
this project's ``opencv-python-headless``; ``make install`` therefore installs it with
``--no-deps`` (its other dependencies are the project's own).

The package numbers tracks with one counter per tracker class for the whole process, so ids
would run on from one video (and workspace) to the next; here each video keeps its own counter
(swapped in around each update, under a lock), so a video's ids are those a fresh reference
server gives it.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.errors import VisionflowError
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata, frame_metadata
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "TRACKER_BLOCKS",
    "TrackersBotSortV1",
    "TrackersByteTrackV1",
    "TrackersOcSortV1",
    "TrackersSortV1",
]

TRACKED_KINDS = (
    k.OBJECT_DETECTION_PREDICTION,
    k.INSTANCE_SEGMENTATION_PREDICTION,
    k.KEYPOINT_DETECTION_PREDICTION,
    k.RLE_INSTANCE_SEGMENTATION_PREDICTION,
)
_TrackedSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(TRACKED_KINDS)]
_OUTPUTS = (
    OutputDefinition("tracked_detections", TRACKED_KINDS),
    OutputDefinition("new_instances", TRACKED_KINDS),
    OutputDefinition("already_seen_instances", TRACKED_KINDS),
)


class TrackersUnavailableError(VisionflowError):
    status_code = 501
    code = "trackers_unavailable"


def trackers_package() -> Any:
    try:
        with warnings.catch_warnings():
            # trackers 2.4 decorates with pyDeprecate's legacy ``target=None`` (a FutureWarning).
            warnings.simplefilter("ignore", FutureWarning)
            import trackers
    except ImportError:
        raise TrackersUnavailableError(
            "The tracker blocks need the `trackers` package (2.4): `make install` installs it, "
            "or `pip install --no-deps trackers==2.4.0`"
        ) from None
    return trackers


class InstanceCache:
    """The last ``size`` track ids seen (first in, first out)."""

    def __init__(self, size: int) -> None:
        self._order: deque[int] = deque(maxlen=max(1, size))
        self._ids: set[int] = set()

    def seen_before(self, tracker_id: int) -> bool:
        if tracker_id in self._ids:
            return True
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order.popleft())
        self._order.append(tracker_id)
        self._ids.add(tracker_id)
        return False


@dataclass
class _Video:
    tracker: Any
    seen: InstanceCache
    tracklet: Any
    with_frame: bool = False
    next_id: int = field(default=0)


_COUNTERS = threading.Lock()


class _TrackersBlock(VideoBlock):
    block_type = "transformation"
    outputs = _OUTPUTS
    # Manifest fields passed to the tracker's constructor under the same names.
    arguments: ClassVar[tuple[str, ...]] = ()
    tracker_class: ClassVar[str]
    # The module and class of the tracker's tracklets (they hold the id counter).
    tracklet_class: ClassVar[tuple[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A video's tracker is rebuilt when what configures it changes.
        cls.state_fields = (*cls.arguments, "instances_cache_size")

    def start(self, inputs: StepInputs) -> _Video:
        metadata, _explicit = frame_metadata(inputs, None)
        settings: dict[str, Any] = {}
        for name in self.arguments:
            value = inputs.get(name)
            settings[name] = self.manifest.model_fields[name].default if value is None else value
        tracker = getattr(trackers_package(), self.tracker_class)(
            frame_rate=metadata.fps or 30.0, **settings
        )
        size = inputs.as_int("instances_cache_size", low=1)
        module, name = self.tracklet_class
        tracklet = getattr(importlib.import_module(module), name)
        return _Video(tracker, InstanceCache(size), tracklet, bool(settings.get("enable_cmc")))

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        video: _Video = state
        detections = inputs.detections("detections")
        frame = inputs.image("image").pixels_bgr if video.with_frame else None
        with _COUNTERS:
            video.tracklet.count_id = video.next_id
            if frame is None:
                tracked = video.tracker.update(detections)
            else:
                tracked = video.tracker.update(detections, frame=frame)
            video.next_id = video.tracklet.count_id
        if tracked.tracker_id is not None and len(tracked) > 0:
            tracked = tracked[tracked.tracker_id != -1]
        lineage = lineage_of(detections)
        if lineage is not None:
            attach_lineage(tracked, lineage)
        ids = [] if tracked.tracker_id is None else [int(t) for t in tracked.tracker_id]
        seen = np.array([video.seen.seen_before(t) for t in ids], dtype=bool)
        return {
            "tracked_detections": tracked,
            "new_instances": _pick(tracked, ~seen),
            "already_seen_instances": _pick(tracked, seen),
        }


def _pick(detections: sv.Detections, keep: Any) -> sv.Detections:
    picked = detections[np.asarray(keep, dtype=bool).reshape(len(detections))]
    assert isinstance(picked, sv.Detections)
    return picked


_Unit = float | FloatZeroToOneSelector | None
_Count = int | IntegerSelector | None


class TrackersByteTrackManifestV1(StepManifest):
    image: ImageSelector
    detections: _TrackedSelector
    minimum_iou_threshold: _Unit = 0.1
    minimum_consecutive_frames: _Count = 2
    lost_track_buffer: _Count = 30
    track_activation_threshold: _Unit = 0.7
    high_conf_det_threshold: _Unit = 0.6
    instances_cache_size: int = 16384


class TrackersByteTrackV1(_TrackersBlock):
    """ByteTrack (``trackers.ByteTrackTracker``): high-confidence detections first, then the
    low-confidence ones to keep tracks alive."""

    type = "roboflow_core/trackers_bytetrack@v1"
    manifest = TrackersByteTrackManifestV1
    tracker_class = "ByteTrackTracker"
    tracklet_class = ("trackers.core.bytetrack.tracklet", "ByteTrackTracklet")
    arguments = (
        "lost_track_buffer",
        "track_activation_threshold",
        "minimum_consecutive_frames",
        "minimum_iou_threshold",
        "high_conf_det_threshold",
    )


class TrackersSortManifestV1(StepManifest):
    image: ImageSelector
    detections: _TrackedSelector
    minimum_iou_threshold: _Unit = 0.3
    minimum_consecutive_frames: _Count = 3
    lost_track_buffer: _Count = 30
    track_activation_threshold: _Unit = 0.25
    instances_cache_size: int = 16384


class TrackersSortV1(_TrackersBlock):
    """SORT (``trackers.SORTTracker``): Kalman-predicted boxes matched by IoU."""

    type = "roboflow_core/trackers_sort@v1"
    manifest = TrackersSortManifestV1
    tracker_class = "SORTTracker"
    tracklet_class = ("trackers.core.sort.tracklet", "SORTTracklet")
    arguments = (
        "lost_track_buffer",
        "track_activation_threshold",
        "minimum_consecutive_frames",
        "minimum_iou_threshold",
    )


class TrackersOcSortManifestV1(StepManifest):
    image: ImageSelector
    detections: _TrackedSelector
    minimum_iou_threshold: _Unit = 0.3
    minimum_consecutive_frames: _Count = 3
    lost_track_buffer: _Count = 30
    high_conf_det_threshold: _Unit = 0.6
    direction_consistency_weight: _Unit = 0.2
    delta_t: _Count = 3
    instances_cache_size: int = 16384


class TrackersOcSortV1(_TrackersBlock):
    """OC-SORT (``trackers.OCSORTTracker``): SORT with observation-centric re-updates and a
    direction-consistency term."""

    type = "roboflow_core/trackers_ocsort@v1"
    manifest = TrackersOcSortManifestV1
    tracker_class = "OCSORTTracker"
    tracklet_class = ("trackers.core.ocsort.tracklet", "OCSORTTracklet")
    arguments = (
        "lost_track_buffer",
        "minimum_consecutive_frames",
        "minimum_iou_threshold",
        "high_conf_det_threshold",
        "direction_consistency_weight",
        "delta_t",
    )


class TrackersBotSortManifestV1(StepManifest):
    image: ImageSelector
    detections: _TrackedSelector
    minimum_iou_threshold_first_assoc: _Unit = 0.2
    minimum_iou_threshold_second_assoc: _Unit = 0.5
    minimum_iou_threshold_unconfirmed_assoc: _Unit = 0.3
    minimum_consecutive_frames: _Count = 2
    lost_track_buffer: _Count = 30
    track_activation_threshold: _Unit = 0.7
    high_conf_det_threshold: _Unit = 0.6
    enable_cmc: bool | BooleanSelector = False
    cmc_method: Literal["orb", "sift", "sparseOptFlow", "ecc"] = "sparseOptFlow"
    cmc_downscale: _Count = 2
    instant_first_frame_activation: bool | BooleanSelector = False
    instances_cache_size: int = 16384


class TrackersBotSortV1(_TrackersBlock):
    """BoT-SORT (``trackers.BoTSORTTracker``), with camera-motion compensation from the frame
    when ``enable_cmc``."""

    type = "roboflow_core/trackers_botsort@v1"
    manifest = TrackersBotSortManifestV1
    tracker_class = "BoTSORTTracker"
    tracklet_class = ("trackers.core.botsort.tracklet", "BoTSORTTracklet")
    arguments = (
        "lost_track_buffer",
        "track_activation_threshold",
        "minimum_consecutive_frames",
        "minimum_iou_threshold_first_assoc",
        "minimum_iou_threshold_second_assoc",
        "minimum_iou_threshold_unconfirmed_assoc",
        "high_conf_det_threshold",
        "enable_cmc",
        "cmc_method",
        "cmc_downscale",
        "instant_first_frame_activation",
    )


TRACKER_BLOCKS: tuple[type[Block], ...] = (
    TrackersByteTrackV1,
    TrackersSortV1,
    TrackersOcSortV1,
    TrackersBotSortV1,
)
