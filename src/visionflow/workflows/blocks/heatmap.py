"""``heatmap_visualization``: heat accumulated over the frames of a video where detections stood,
drawn over the image with supervision's ``HeatMapAnnotator`` (blurred hue from ``low_hue``, cold,
to ``top_hue``, hot).

The heat is state of the video (``blocks.video``): the video is the one ``metadata`` names, else
the one the image came with; a still image without either is its own video. With
``ignore_stationary`` (the default) and tracked detections, only tracks that moved at least
``motion_threshold`` px since they last added heat add heat again; a track's first frame adds
none (it only sets where the track stands), as in the reference.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.visualization import MAX_COORDINATE_PX
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.annotators import with_masks
from visionflow.workflows.blocks.video import (
    VideoMetadata,
    frame_metadata,
    settings_key,
    video_state,
)
from visionflow.workflows.blocks.visualizations import (
    CanvasManifest,
    VisualizedPredictionsSelector,
    annotated,
    drawing_px,
    position_of,
)
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    IntegerSelector,
    Reference,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["HEATMAP_BLOCKS", "HeatmapVisualizationV1"]

VideoMetadataSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.VIDEO_METADATA,))
]
HeatmapPosition = Literal[
    "CENTER",
    "CENTER_LEFT",
    "CENTER_RIGHT",
    "TOP_CENTER",
    "TOP_LEFT",
    "TOP_RIGHT",
    "BOTTOM_CENTER",
    "BOTTOM_LEFT",
    "BOTTOM_RIGHT",
]

# A track not seen for this long is forgotten (the reference: 60 s, ~1800 frames at 30 fps).
_STALE_TRACK_S = 60.0
_MAX_HUE = 255  # hues are cast to uint8 (OpenCV's HSV hue runs 0-179)


class HeatmapManifest(CanvasManifest):
    predictions: VisualizedPredictionsSelector
    metadata: VideoMetadataSelector | None = None
    position: HeatmapPosition | StringSelector = "BOTTOM_CENTER"
    opacity: float | FloatSelector = 0.2
    radius: int | IntegerSelector = 40
    kernel_size: int | IntegerSelector = 25
    top_hue: int | IntegerSelector = 0
    low_hue: int | IntegerSelector = 125
    ignore_stationary: bool | BooleanSelector = True
    motion_threshold: int | IntegerSelector = 25


@dataclass
class _Heat:
    """One video's heat (in the annotator) and where each track last added heat:
    ``tracker_id -> (x, y, monotonic seconds)``."""

    annotator: sv.HeatMapAnnotator
    tracks: dict[int, tuple[float, float, float]] = field(default_factory=dict)

    def moving(self, detections: sv.Detections, anchor: sv.Position, threshold: int) -> Any:
        """The indices of tracks that moved ``threshold`` px or more since they last added heat
        (each such track's position is updated; a new track is only remembered)."""
        now = time.monotonic()
        stale = [tid for tid, (_, _, seen) in self.tracks.items() if now - seen > _STALE_TRACK_S]
        for tid in stale:
            del self.tracks[tid]
        assert detections.tracker_id is not None
        moved: list[int] = []
        anchors = detections.get_anchors_coordinates(anchor=anchor)
        for index, (tracker_id, (x, y)) in enumerate(
            zip(detections.tracker_id, anchors, strict=True)
        ):
            tid = int(tracker_id)
            last = self.tracks.get(tid)
            if last is None:
                self.tracks[tid] = (float(x), float(y), now)
            elif np.hypot(x - last[0], y - last[1]) >= threshold:
                moved.append(index)
                self.tracks[tid] = (float(x), float(y), now)
        return np.array(moved, dtype=int)


class HeatmapVisualizationV1(Block):
    """Draws the heat the video's detections accumulated, frame after frame."""

    type = "roboflow_core/heatmap_visualization@v1"
    aliases = ("HeatmapVisualization",)
    manifest = HeatmapManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)
    # The heat drawn under other settings is not reused.
    state_fields = ("position", "opacity", "radius", "kernel_size", "top_hue", "low_hue")

    def start(self, inputs: StepInputs) -> _Heat:
        return _Heat(
            sv.HeatMapAnnotator(
                position=position_of(inputs, "position"),
                opacity=inputs.as_float("opacity", low=0.0, high=1.0),
                radius=drawing_px(inputs, "radius"),
                kernel_size=drawing_px(inputs, "kernel_size"),
                top_hue=inputs.as_int("top_hue", low=0, high=_MAX_HUE),
                low_hue=inputs.as_int("low_hue", low=0, high=_MAX_HUE),
            )
        )

    def step(self, heat: _Heat, inputs: StepInputs) -> StepResult:
        image = inputs.image("image")
        detections = inputs.detections("predictions")
        if len(detections) and position_of(inputs, "position") is sv.Position.CENTER_OF_MASS:
            detections = with_masks(detections, inputs)  # (a position given by a selector)
        if inputs.as_bool("ignore_stationary") and detections.tracker_id is not None:
            threshold = inputs.as_int("motion_threshold", low=0, high=MAX_COORDINATE_PX)
            moved = heat.moving(detections, position_of(inputs, "position"), threshold)
            picked = detections[moved] if len(moved) else sv.Detections.empty()
            assert isinstance(picked, sv.Detections)
            detections = picked
        return annotated(image, heat.annotator.annotate(image.pixels_bgr.copy(), detections))

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        local: dict[Hashable, Any] = {}
        results: list[StepResult] = []
        for position, inputs in enumerate(batch):
            context.budget.check(f"element {position} of step {inputs.step!r}")
            video, explicit = _video_of(inputs)
            key = settings_key(inputs, self.state_fields)
            factory = partial(self.start, inputs)
            with video_state(context, inputs, video, key, explicit, local, factory) as heat:
                results.append(self.step(heat, inputs))
        return results


def _video_of(inputs: StepInputs) -> tuple[VideoMetadata, bool]:
    """The video of the frame: ``metadata`` when given, else the image's."""
    return frame_metadata(inputs, "metadata" if inputs.get("metadata") is not None else None)


HEATMAP_BLOCKS: tuple[type[Block], ...] = (HeatmapVisualizationV1,)
