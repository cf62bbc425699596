"""``track_class_lock``: the class of each tracked object locked by majority vote, so a model
that flickers between similar classes reports one class per object (state per video:
``blocks.video``).

As in the reference, per track: before the lock, each qualifying frame (confidence >=
``vote_confidence``) votes for its class; a class locks once it has ``min_votes`` votes and
leads the runner-up by ``lead_margin``. After the lock, every detection of the track gets the
locked class (name and id) and, as confidence, the mean of the votes counted for it; the lock
moves only after ``switch_after`` consecutive qualifying frames of one other class. A new
tracker id whose box overlaps (IoU >= ``reattach_iou``) a locked track lost within
``reattach_window`` frames takes that track's state over. Tracks unseen for ``state_ttl``
frames are forgotten. Each detection gets ``class_locked`` (bool) in its data.
"""

from __future__ import annotations

import copy
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from visionflow.core.detections import CLASS_NAME
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["CLASS_LOCKED", "CLASS_LOCK_BLOCKS", "TrackClassLockV1"]

CLASS_LOCKED = "class_locked"
# Bounds of one video's state, as the reference's.
MAX_TRACKS_PER_VIDEO = 4096
MAX_STATE_TTL = 1_000_000
MAX_REATTACH_CANDIDATES = 256
MAX_CLASSES_PER_TRACK = 256

TRACKED_KINDS = (
    k.OBJECT_DETECTION_PREDICTION,
    k.INSTANCE_SEGMENTATION_PREDICTION,
    k.KEYPOINT_DETECTION_PREDICTION,
    k.RLE_INSTANCE_SEGMENTATION_PREDICTION,
)
TrackedSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(TRACKED_KINDS)]
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]


class TrackClassLockManifest(StepManifest):
    image: ImageSelector
    detections: TrackedSelector
    min_votes: Annotated[int, Field(ge=1)] | IntegerSelector = 10
    vote_confidence: ZeroToOne | FloatZeroToOneSelector = 0.8
    lead_margin: Annotated[int, Field(ge=0)] | IntegerSelector = 3
    switch_after: Annotated[int, Field(ge=1)] | IntegerSelector = 15
    state_ttl: Annotated[int, Field(ge=1, le=MAX_STATE_TTL)] | IntegerSelector = 300
    reattach_window: Annotated[int, Field(ge=0)] | IntegerSelector = 30
    reattach_iou: ZeroToOne | FloatZeroToOneSelector = 0.3

    @model_validator(mode="after")
    def _window_within_ttl(self) -> TrackClassLockManifest:
        window, ttl = self.reattach_window, self.state_ttl
        if isinstance(window, int) and isinstance(ttl, int) and window > ttl:
            raise ValueError(
                "`reattach_window` must not exceed `state_ttl` - lost tracks are purged after "
                "`state_ttl` frames, so re-attachment beyond that point can never happen."
            )
        return self


@dataclass
class _Track:
    last_seen: int
    votes: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    confidence_sum: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    class_ids: dict[str, int] = field(default_factory=dict)
    locked: str | None = None
    challenger: str | None = None
    streak: int = 0
    streak_confidence: float = 0.0
    last_xyxy: npt.NDArray[Any] | None = None

    def record_class_id(self, name: str, class_id: int) -> None:
        if name not in self.class_ids and len(self.class_ids) >= MAX_CLASSES_PER_TRACK:
            referenced = set(self.votes) | {self.locked, self.challenger, name}
            for stale in [c for c in self.class_ids if c not in referenced]:
                del self.class_ids[stale]
        self.class_ids[name] = class_id

    def reset_streak(self) -> None:
        self.challenger, self.streak, self.streak_confidence = None, 0, 0.0


@dataclass
class _Video:
    frame: int = 0
    tracks: dict[int, _Track] = field(default_factory=dict)


@dataclass(frozen=True)
class _Settings:
    min_votes: int
    vote_confidence: float
    lead_margin: int
    switch_after: int
    state_ttl: int
    reattach_window: int
    reattach_iou: float

    @classmethod
    def of(cls, inputs: StepInputs) -> _Settings:
        settings = cls(
            min_votes=inputs.as_int("min_votes", low=1),
            vote_confidence=inputs.as_float("vote_confidence", low=0.0, high=1.0),
            lead_margin=inputs.as_int("lead_margin", low=0),
            switch_after=inputs.as_int("switch_after", low=1),
            state_ttl=inputs.as_int("state_ttl", low=1, high=MAX_STATE_TTL),
            reattach_window=inputs.as_int("reattach_window", low=0),
            reattach_iou=inputs.as_float("reattach_iou", low=0.0, high=1.0),
        )
        if settings.reattach_window > settings.state_ttl:
            raise inputs.fail(
                "reattach_window",
                f"{settings.reattach_window} exceeds state_ttl ({settings.state_ttl}): lost "
                "tracks are purged after state_ttl frames",
            )
        return settings


def box_iou(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = float(width * height)
    union = float((a[2] - a[0]) * (a[3] - a[1])) + float((b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def _candidates(video: _Video, window: int, present: set[int]) -> list[tuple[int, _Track]]:
    """Locked tracks absent from this frame, last seen 1..``window`` frames ago."""
    if window <= 0:
        return []
    found = [
        (track_id, track)
        for track_id, track in video.tracks.items()
        if track_id not in present
        and track.locked is not None
        and track.last_xyxy is not None
        and 1 <= video.frame - track.last_seen <= window
    ]
    if len(found) > MAX_REATTACH_CANDIDATES:
        found.sort(key=lambda c: c[1].last_seen, reverse=True)
        del found[MAX_REATTACH_CANDIDATES:]
    return found


def _best_match(candidates: list[tuple[int, _Track]], xyxy: Any, threshold: float) -> int | None:
    best, best_iou = None, 0.0
    for position, (_id, track) in enumerate(candidates):
        assert track.last_xyxy is not None
        iou = box_iou(xyxy, track.last_xyxy)
        if iou >= threshold and iou > best_iou:
            best, best_iou = position, iou
    return best


def _vote(track: _Track, name: str, confidence: float, class_id: int | None, s: _Settings) -> None:
    qualifying = confidence >= s.vote_confidence
    if track.locked is None:
        if qualifying and (name in track.votes or len(track.votes) < MAX_CLASSES_PER_TRACK):
            track.votes[name] += 1
            track.confidence_sum[name] += confidence
            if class_id is not None:
                track.record_class_id(name, class_id)
        if track.votes:
            ranked = heapq.nlargest(2, track.votes.items(), key=lambda item: item[1])
            top_name, top_votes = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0
            if top_votes >= s.min_votes and top_votes - runner_up >= s.lead_margin:
                track.locked = top_name
        return
    if not qualifying or name == track.locked:
        track.reset_streak()
        return
    if name == track.challenger:
        track.streak += 1
        track.streak_confidence += confidence
    else:
        track.challenger, track.streak, track.streak_confidence = name, 1, confidence
        if class_id is not None:
            track.record_class_id(name, class_id)
    if track.streak >= s.switch_after:
        track.locked = name
        track.votes = defaultdict(int, {name: track.streak})
        track.confidence_sum = defaultdict(float, {name: track.streak_confidence})
        track.reset_streak()


class TrackClassLockV1(VideoBlock):
    """``tracked_detections``: ``detections`` (with ``tracker_id``) relabelled by their track's
    locked class, as the module docstring says."""

    type = "roboflow_core/track_class_lock@v1"
    manifest = TrackClassLockManifest
    outputs = (OutputDefinition("tracked_detections", TRACKED_KINDS),)
    # As the reference: one state per video, whatever the settings.
    state_fields = ()

    def start(self, inputs: StepInputs) -> _Video:
        return _Video()

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        video: _Video = state
        settings = _Settings.of(inputs)
        source = inputs.detections("detections")
        if len(source) and source.tracker_id is None:
            raise inputs.fail(
                "detections", "detections have no tracker_id: put a tracker block before this one"
            )
        video.frame += 1
        detections = copy.deepcopy(source)
        count = len(detections)
        locked = np.zeros(count, dtype=bool)
        if detections.confidence is None and count:
            detections.confidence = np.ones(count, dtype=np.float32)
        names = detections.data.get(CLASS_NAME)
        if names is not None:
            names = np.asarray(names).astype(object)
            detections.data[CLASS_NAME] = names
        track_ids = [] if detections.tracker_id is None else list(detections.tracker_id)
        present = {int(t) for t in track_ids if t is not None and int(t) >= 0}
        candidates = _candidates(video, settings.reattach_window, present)
        for i, raw_id in enumerate(track_ids):
            if raw_id is None or int(raw_id) < 0:
                continue
            track_id = int(raw_id)
            if track_id not in video.tracks and candidates:
                found = _best_match(candidates, detections.xyxy[i], settings.reattach_iou)
                if found is not None:
                    inherited = candidates.pop(found)[0]
                    video.tracks[track_id] = video.tracks.pop(inherited)
            track = video.tracks.setdefault(track_id, _Track(last_seen=video.frame))
            track.last_seen = video.frame
            track.last_xyxy = np.array(detections.xyxy[i], copy=True)
            if names is not None:
                name = str(names[i])
            elif detections.class_id is not None:
                name = str(detections.class_id[i])
            else:
                continue
            class_id = None if detections.class_id is None else int(detections.class_id[i])
            assert detections.confidence is not None
            _vote(track, name, float(detections.confidence[i]), class_id, settings)
            if track.locked is not None:
                if names is not None:
                    names[i] = track.locked
                if detections.class_id is not None and track.locked in track.class_ids:
                    detections.class_id[i] = track.class_ids[track.locked]
                votes = max(track.votes[track.locked], 1)
                detections.confidence[i] = min(1.0, track.confidence_sum[track.locked] / votes)
                locked[i] = True
        detections.data[CLASS_LOCKED] = locked
        for stale in [
            t for t, tr in video.tracks.items() if video.frame - tr.last_seen > settings.state_ttl
        ]:
            del video.tracks[stale]
        excess = len(video.tracks) - MAX_TRACKS_PER_VIDEO
        if excess > 0:
            for oldest in sorted(video.tracks, key=lambda t: video.tracks[t].last_seen)[:excess]:
                del video.tracks[oldest]
        return {"tracked_detections": detections}


CLASS_LOCK_BLOCKS: tuple[type[Block], ...] = (TrackClassLockV1,)
