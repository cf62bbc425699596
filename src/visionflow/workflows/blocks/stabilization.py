"""``stabilize_detections``: less jitter and flicker in tracked detections across the frames of
a video (state per video: ``blocks.video``).

Per track, as in the reference: a box seen on the previous frame too is blended with it
(``alpha * current + (1 - alpha) * previous``, ``alpha`` = ``bbox_smoothing_coefficient``);
a track missing from a frame is kept, moved by its predicted velocity and blended likewise, for
as long as its velocity history lasts (``smoothing_window_size`` frames). Velocities are
per-frame displacements of the box's ``(x1 + |x2 - x1|, y1 + |y2 - y1|)`` point (the reference's
"centre", which is the bottom-right corner), smoothed by a Kalman filter over the mean of the
last ``smoothing_window_size`` measurements.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["STABILIZATION_BLOCKS", "StabilizeDetectionsV1", "VelocityKalmanFilter"]

Vector = npt.NDArray[np.float64]
BoxesOrMasksSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]
_PROCESS_NOISE = np.eye(2) * 0.001
_MEASUREMENT_NOISE = np.eye(2) * 0.01


@dataclass
class _Velocity:
    velocity: Vector  # (2, 1)
    covariance: Vector  # (2, 2)
    history: deque[Vector]


class VelocityKalmanFilter:
    """Per-track velocity ``(2, 1)``: a constant-velocity Kalman filter whose measurement is the
    mean of the last ``window`` measured velocities; a track not measured loses one history
    entry per update and is forgotten when none is left."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.tracks: dict[int, _Velocity] = {}

    def update(self, measured: dict[int, tuple[float, float]]) -> dict[int, Vector]:
        """The predicted velocity of every track known before forgetting stale ones."""
        for track, (vx, vy) in measured.items():
            measurement = np.array([[vx], [vy]], dtype=np.float64)
            state = self.tracks.get(track)
            if state is None:
                self.tracks[track] = _Velocity(
                    measurement.copy(), np.eye(2), deque([measurement], maxlen=self.window)
                )
                continue
            state.history.appendleft(measurement)
            residual = np.mean(state.history, axis=0) - state.velocity
            gain = state.covariance @ np.linalg.inv(state.covariance + _MEASUREMENT_NOISE)
            state.velocity = state.velocity + gain @ residual
            state.covariance = state.covariance - gain @ state.covariance
        predicted: dict[int, Vector] = {}
        for track, state in self.tracks.items():
            # The transition is the identity: the velocity stays, its uncertainty grows.
            state.covariance = state.covariance + _PROCESS_NOISE
            predicted[track] = state.velocity
        for track in [t for t in self.tracks if t not in measured]:
            history = self.tracks[track].history
            if history:
                history.popleft()
            if not history:
                del self.tracks[track]
        return predicted


@dataclass
class _Stabilizer:
    kalman: VelocityKalmanFilter
    last: dict[int, sv.Detections] = field(default_factory=dict)


def _corner(xyxy: npt.NDArray[Any]) -> tuple[float, float]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return x1 + abs(x2 - x1), y1 + abs(y2 - y1)


def _blend(previous: npt.NDArray[Any], current: npt.NDArray[Any], alpha: float) -> Any:
    return alpha * current + (1 - alpha) * previous


class StabilizeDetectionsManifest(StepManifest):
    image: ImageSelector
    detections: BoxesOrMasksSelector
    smoothing_window_size: int | IntegerSelector | None = 3
    bbox_smoothing_coefficient: float | FloatZeroToOneSelector | None = 0.2


class StabilizeDetectionsV1(VideoBlock):
    """``tracked_detections``: the frame's tracked ``detections`` smoothed, then the tracks
    missing from it that are still predicted (see the module docstring). Detections must carry
    ``tracker_id`` (a tracker block before this one)."""

    type = "roboflow_core/stabilize_detections@v1"
    manifest = StabilizeDetectionsManifest
    outputs = (
        OutputDefinition(
            "tracked_detections",
            (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION),
        ),
    )
    # As the reference: a video's filter is made with the window of its first frame.
    state_fields = ()

    def start(self, inputs: StepInputs) -> _Stabilizer:
        value = inputs.get("smoothing_window_size")
        window = 3 if value is None else inputs.as_int("smoothing_window_size", low=1)
        return _Stabilizer(VelocityKalmanFilter(window))

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        stabilizer: _Stabilizer = state
        detections = inputs.detections("detections")
        alpha = 0.2
        if inputs.get("bbox_smoothing_coefficient") is not None:
            alpha = inputs.as_float("bbox_smoothing_coefficient", low=0.0, high=1.0)
        if len(detections) and detections.tracker_id is None:
            raise inputs.fail(
                "detections", "detections have no tracker_id: put a tracker block before this one"
            )
        ids = [] if detections.tracker_id is None else [int(t) for t in detections.tracker_id]
        last = stabilizer.last
        measured = {}
        for index, track in enumerate(ids):
            if track in last:
                now, before = _corner(detections.xyxy[index]), _corner(last[track].xyxy[0])
                measured[track] = (now[0] - before[0], now[1] - before[1])
        predicted = stabilizer.kalman.update(measured)
        out: dict[int, sv.Detections] = {}
        for index, track in enumerate(ids):
            row = detections[[index]]
            assert isinstance(row, sv.Detections)
            if track in last:
                row.xyxy[0] = _blend(last[track].xyxy[0], row.xyxy[0], alpha)
            out[track] = row
            fresh = detections[[index]]
            assert isinstance(fresh, sv.Detections)
            last[track] = fresh  # the raw box: the next frame blends with it
        for track, velocity in predicted.items():
            if track in out:
                continue
            kept = last[track]
            moved = kept.xyxy[0] + np.tile(velocity.reshape(-1), 2)
            # float64, as the reference's: a box carried over several frames keeps its precision.
            kept.xyxy = np.asarray(_blend(kept.xyxy[0], moved[None, :], alpha), dtype=np.float64)
            out[track] = kept
        for track in [t for t in last if t not in stabilizer.kalman.tracks and t not in out]:
            del last[track]
        # Rows of earlier frames carry those frames' lineage: the result gets this frame's.
        parts = [dataclasses.replace(row, metadata={}) for row in out.values()]
        merged = sv.Detections.merge(parts) if parts else sv.Detections.empty()
        if not len(merged):
            merged.tracker_id = np.array([], dtype=int)
        lineage = lineage_of(detections)
        if lineage is not None:
            attach_lineage(merged, lineage)
        return {"tracked_detections": merged}


STABILIZATION_BLOCKS: tuple[type[Block], ...] = (StabilizeDetectionsV1,)
