"""Video state for stateful blocks (trackers, line counters, time in zone).

A block learns which video a frame belongs to from its ``video_metadata``: a ``metadata`` field
fed by a ``WorkflowVideoMetadata`` input (v1 blocks), or the metadata the image came with (v2+).
An image without metadata is, as in the reference, its own video (its id, frame 0, now, 30 fps).

State is kept per (step, settings, video). Frames with explicit metadata share it across runs:
it lives in the executor's memory (``workflows.memory``), so a client can send a video frame by
frame, request by request, with the same ``video_identifier``. Frames without metadata keep
state for one run only (the elements of one batch), like the reference's HTTP server, which
builds its blocks per request — otherwise unrelated still images would be taken for one video.

``VideoBlock`` is the base of such blocks: ``start`` makes a video's state, ``step`` uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, ClassVar, TypeVar

from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = ["VideoBlock", "VideoMetadata", "frame_metadata", "settings_key", "video_state"]

T = TypeVar("T")


def frame_metadata(inputs: StepInputs, field: str | None) -> tuple[VideoMetadata, bool]:
    """The frame's metadata (from ``field``, or from the ``image`` when ``None``) and whether it
    was given explicitly (rather than assumed for a still image)."""
    if field is None:
        image = inputs.image("image")
        return image.video(), image.video_metadata is not None
    try:
        return VideoMetadata.parse(inputs[field]), True
    except ValueError as exc:
        raise inputs.fail(field, str(exc)) from None


def settings_key(inputs: StepInputs, fields: Sequence[str]) -> str:
    """The values of ``fields`` that shape a block's state (a zone, tracker thresholds), as a
    key: state made under other settings is not reused."""
    return json.dumps([inputs.get(name) for name in fields], sort_keys=True, default=str)


@contextmanager
def video_state(
    context: RunContext,
    inputs: StepInputs,
    video: VideoMetadata,
    key: Hashable,
    explicit: bool,
    local: dict[Hashable, Any],
    factory: Callable[[], T],
) -> Iterator[T]:
    """The state of ``video`` for this step and settings ``key``: remembered across runs when the
    metadata is ``explicit`` (and the executor gives memory), else kept in ``local`` (one run)."""
    full_key = (inputs.step, key, video.video_identifier)
    if explicit and context.memory is not None:
        with context.memory.hold(("video", *full_key), factory) as state:
            yield state
        return
    if full_key not in local:
        local[full_key] = factory()
    yield local[full_key]


class VideoBlock(Block):
    """Runs ``step`` on each element with the state of its video (created by ``start``; see
    the module docstring for how long it lasts)."""

    metadata_field: ClassVar[str | None] = None
    # Fields whose values shape the state: a change starts new state.
    state_fields: ClassVar[tuple[str, ...]] = ()

    def start(self, inputs: StepInputs) -> Any:
        raise NotImplementedError

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        raise NotImplementedError

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        local: dict[Hashable, Any] = {}
        results: list[StepResult] = []
        for inputs in batch:
            metadata, explicit = frame_metadata(inputs, self.metadata_field)
            key = settings_key(inputs, self.state_fields)
            with video_state(
                context, inputs, metadata, key, explicit, local, partial(self.start, inputs)
            ) as state:
                results.append(self.step(state, inputs, metadata))
        return results
