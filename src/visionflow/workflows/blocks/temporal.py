"""Values over time: ``buffer`` keeps the last ``length`` values, ``frame_delay`` gives the value
of an earlier frame of the same video, ``image_stack`` the last frames of a video as JPEG bytes.

``frame_delay`` and ``image_stack`` keep state per video (``blocks.video``: across requests for
frames sent with video metadata, within one batch otherwise). ``buffer`` has no image to tell
videos apart: like ``data_aggregator`` it keeps its values in the executor's memory, so the
elements of a batch and successive requests running the same definition for the same workspace
fill one buffer, newest first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Annotated, Any

import cv2
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.video import VideoBlock, VideoMetadata
from visionflow.workflows.manifest import (
    BooleanSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["TEMPORAL_BLOCKS", "BufferV1", "FrameDelayV1", "ImageStackV1"]

_AnyListImageSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.WILDCARD, k.LIST_OF_VALUES, k.IMAGE))
]
_DelayedSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.WILDCARD, k.LIST_OF_VALUES, k.IMAGE, *k.DETECTION_KINDS)),
]


class BufferManifestV1(StepManifest):
    data: _AnyListImageSelector
    length: int
    pad: bool = False


class BufferV1(Block):
    """``output``: the last ``length`` values of ``data``, newest first (padded with ``null``
    to ``length`` when ``pad``)."""

    type = "roboflow_core/buffer@v1"
    aliases = ("Buffer",)
    manifest = BufferManifestV1
    outputs = (OutputDefinition("output", (k.LIST_OF_VALUES,)),)
    block_type = "fusion"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        if not batch:
            return []
        if context.memory is None:
            return self._fill([], batch)
        values: list[Any]
        with context.memory.hold(("buffer", batch[0].step), list) as values:
            return self._fill(values, batch)

    @staticmethod
    def _fill(values: list[Any], batch: Sequence[StepInputs]) -> list[StepResult]:
        results: list[StepResult] = []
        for inputs in batch:
            length = inputs.as_int("length", low=1)
            values.insert(0, inputs.get("data"))
            del values[length:]
            snapshot = list(values)
            if inputs.as_bool("pad"):
                snapshot.extend([None] * (length - len(snapshot)))
            results.append({"output": snapshot})
        return results


MAX_OFFSET = 256


class FrameDelayManifestV1(StepManifest):
    image: ImageSelector
    data: _DelayedSelector
    offset: int | IntegerSelector
    default_value: bool | int | float | str | None = None


class FrameDelayV1(VideoBlock):
    """``output``: ``data`` of the frame ``offset`` frames back (``offset <= 0``, at least
    -256) of the same video, ``default_value`` until that frame was seen (``is_available``
    says which); ``reference_frame_number`` is this frame's number. A frame number lower than
    the last one seen starts the video over."""

    type = "roboflow_core/frame_delay@v1"
    aliases = ("FrameDelay", "roboflow_core/time_travel@v1", "TimeTravel")
    manifest = FrameDelayManifestV1
    outputs = (
        OutputDefinition("output", (k.WILDCARD,)),
        OutputDefinition("is_available", (k.BOOLEAN,)),
        OutputDefinition("reference_frame_number", (k.INTEGER,)),
    )
    block_type = "fusion"

    def start(self, inputs: StepInputs) -> dict[str, Any]:
        return {"frames": OrderedDict(), "reach": 0}

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        offset = inputs.as_int("offset", low=-MAX_OFFSET, high=0)
        frames: OrderedDict[int, Any] = state["frames"]
        number = metadata.frame_number
        if frames and number < next(reversed(frames)):
            frames.clear()
            state["reach"] = 0
        state["reach"] = max(state["reach"], -offset)
        frames[number] = inputs.get("data")
        frames.move_to_end(number)
        target = number + offset
        available = target in frames
        value = frames[target] if available else inputs.get("default_value")
        while frames and next(iter(frames)) < number - state["reach"]:
            frames.popitem(last=False)
        return {"output": value, "is_available": available, "reference_frame_number": number}


MAX_STACK_SIZE = 64
MAX_WIDTH, MAX_HEIGHT = 1920, 1080
JPEG_QUALITY = 75


class ImageStackManifestV1(StepManifest):
    image: ImageSelector
    stack_size: int | IntegerSelector = 10
    resolution_width: int | IntegerSelector = 1920
    resolution_height: int | IntegerSelector = 1080
    clear: bool | BooleanSelector = False


class ImageStackV1(VideoBlock):
    """``frames``: the last ``stack_size`` (1..64) frames of the video, newest first, each as
    JPEG bytes (quality 75) scaled down to fit ``resolution_width`` x ``resolution_height``
    (64..1920 x 64..1080); ``clear`` empties the stack before this frame is added."""

    type = "roboflow_core/image_stack@v1"
    manifest = ImageStackManifestV1
    outputs = (
        OutputDefinition("frames", (k.LIST_OF_VALUES,)),
        OutputDefinition("frames_count", (k.INTEGER,)),
    )
    block_type = "fusion"

    def start(self, inputs: StepInputs) -> dict[str, deque[bytes]]:
        return {"frames": deque()}

    def step(self, state: Any, inputs: StepInputs, metadata: VideoMetadata) -> StepResult:
        size = max(1, min(inputs.as_int("stack_size"), MAX_STACK_SIZE))
        width = max(64, min(inputs.as_int("resolution_width"), MAX_WIDTH))
        height = max(64, min(inputs.as_int("resolution_height"), MAX_HEIGHT))
        frames: deque[bytes] = state["frames"]
        if frames.maxlen != size:
            frames = state["frames"] = deque(frames, maxlen=size)
        if inputs.as_bool("clear"):
            frames.clear()
        frames.appendleft(_jpeg(inputs.image("image").pixels_bgr, width, height))
        return {"frames": list(frames), "frames_count": len(frames)}


def _jpeg(pixels: Any, max_width: int, max_height: int) -> bytes:
    h, w = pixels.shape[:2]
    if w > max_width or h > max_height:
        scale = min(max_width / w, max_height / h)
        pixels = cv2.resize(pixels, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", pixels, [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return bytes(encoded.tobytes())


TEMPORAL_BLOCKS: tuple[type[Block], ...] = (BufferV1, FrameDelayV1, ImageStackV1)
