"""``buffer`` over a batch and across runs; ``frame_delay`` and ``image_stack`` per video over
frames sent with video metadata."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.memory import StepMemory

IMAGES = {f"f{i}": canvas(value=10 * i) for i in range(6)}
IMAGES["big"] = canvas(4000, 1000)
DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowBatchInput", "name": "value"},
]


def _frames(numbers: list[int], video: str = "cam") -> list[dict[str, Any]]:
    return [
        {
            "type": "numpy",
            "value": f"f{n % 6}",
            "video_metadata": {"video_identifier": video, "frame_number": n, "frame_timestamp": n},
        }
        for n in numbers
    ]


def _memory() -> RunContext:
    return RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "d"))


def test_buffer_keeps_the_newest_values_first_and_pads() -> None:
    steps = [step("buffer@v1", "buf", data="$inputs.value", length=3, pad=True)]
    results = run(
        steps,
        {"out": "$steps.buf.output"},
        IMAGES,
        {"image": ["f0"] * 4, "value": [1, 2, 3, 4]},
        declared=DECLARED,
    )
    assert [r["out"] for r in results] == [
        [1, None, None],
        [2, 1, None],
        [3, 2, 1],
        [4, 3, 2],
    ]
    context = _memory()
    unpadded = [step("buffer@v1", "buf", data="$inputs.value", length=2)]
    seen = [
        run(
            unpadded,
            {"out": "$steps.buf.output"},
            IMAGES,
            {"image": "f0", "value": v},
            declared=DECLARED,
            context=context,
        )[0]["out"]
        for v in ("a", "b", "c")
    ]
    assert seen == [["a"], ["b", "a"], ["c", "b"]]


def test_frame_delay_gives_earlier_frames_of_the_same_video() -> None:
    steps = [
        step(
            "frame_delay@v1",
            "delay",
            image="$inputs.image",
            data="$inputs.value",
            offset=-2,
            default_value="none",
        )
    ]
    outputs = {
        "out": "$steps.delay.output",
        "ok": "$steps.delay.is_available",
        "n": "$steps.delay.reference_frame_number",
    }
    context = _memory()
    got = []
    for number, value in [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (1, "restart")]:
        [result] = run(
            steps,
            outputs,
            IMAGES,
            {"image": _frames([number]), "value": [value]},
            declared=DECLARED,
            context=context,
        )
        got.append((result["out"], result["ok"], result["n"]))
    assert got == [
        ("none", False, 0),
        ("none", False, 1),
        ("a", True, 2),
        ("b", True, 3),
        ("none", False, 1),  # an earlier frame number starts the video over
    ]


def test_frame_delay_refuses_future_offsets() -> None:
    steps = [step("frame_delay@v1", "delay", image="$inputs.image", data="$inputs.value", offset=1)]
    import pytest

    from visionflow.workflows.errors import WorkflowError

    with pytest.raises(WorkflowError, match="offset"):
        run(
            steps,
            {"out": "$steps.delay.output"},
            IMAGES,
            {"image": "f0", "value": [1]},
            declared=DECLARED,
        )


def test_image_stack_keeps_jpeg_frames_newest_first_and_scaled() -> None:
    steps = [step("image_stack@v1", "stack", image="$inputs.image", stack_size=2)]
    outputs = {"frames": "$steps.stack.frames", "count": "$steps.stack.frames_count"}
    results = run(steps, outputs, IMAGES, {"image": _frames([0, 1, 2])}, declared=DECLARED[:1])
    assert [r["count"] for r in results] == [1, 2, 2]
    decoded = [
        cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in results[2]["frames"]
    ]
    assert [round(float(d.mean())) for d in decoded] == [20, 10]
    [big] = run(steps, outputs, IMAGES, {"image": "big"}, declared=DECLARED[:1], serialize=False)
    image = cv2.imdecode(np.frombuffer(big["frames"][0], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (480, 1920)  # fits 1920 x 1080, aspect kept
    [serialized] = run(
        steps, outputs, IMAGES, {"image": "f0"}, declared=DECLARED[:1], serialize=True
    )
    assert isinstance(serialized["frames"][0], str)  # base64 on the wire
