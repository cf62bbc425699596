"""``trace_visualization``: a track's path grows over the frames of its video (a batch, or
requests carrying video metadata), is bounded by ``trace_length``, and needs tracker ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import (
    REGISTRY,
    ScriptedModels,
    boxes,
    canvas,
    model_step,
    run,
    step,
)
from visionflow.workflows import Executor, RunContext, WorkflowImage, compile_workflow
from visionflow.workflows.errors import InvalidInputTypeError


class _Mover:
    """A detector whose one 30 x 10 box moves 6 px right per call (its centre: x = 25, 31, ...),
    slowly enough for the tracker to follow it."""

    def __init__(self) -> None:
        self.x = 4

    def __call__(self, image: np.ndarray) -> Any:
        self.x += 6
        return boxes([[self.x, 40, self.x + 30, 50]])


def _steps(tracked: bool = True, **fields: Any) -> list[dict[str, Any]]:
    tracker = step(
        "byte_tracker@v2", "track", image="$inputs.image", detections="$steps.det.predictions"
    )
    source = "$steps.track.tracked_detections" if tracked else "$steps.det.predictions"
    trace = step(
        "trace_visualization@v1",
        "viz",
        image="$inputs.image",
        predictions=source,
        thickness=2,
        **fields,
    )
    return [model_step("det", "m/1"), *([tracker] if tracked else []), trace]


def _frames(count: int) -> list[dict[str, Any]]:
    """Frames of one video (without video metadata each image would be its own video)."""
    return [
        {
            "type": "base64",
            "value": "frame",
            "video_metadata": {
                "video_identifier": "cam",
                "frame_number": number,
                "frame_timestamp": number / 30,
            },
        }
        for number in range(count)
    ]


def _drawn_columns(image: WorkflowImage) -> tuple[int, int]:
    """First and last column the trace (row 45, the boxes' centre line) covers."""
    cols = np.nonzero(image.pixels_bgr[45].any(axis=1))[0]
    return (int(cols.min()), int(cols.max())) if len(cols) else (-1, -1)


def test_trace_grows_over_the_frames_of_a_batch() -> None:
    results = run(
        _steps(),
        {"image": "$steps.viz.image"},
        {"frame": canvas()},
        {"image": _frames(4)},
        models=ScriptedModels({"m/1": _Mover()}),
    )
    spans = [_drawn_columns(r["image"]) for r in results]
    # One point draws nothing; then the path runs from the first centre to the latest.
    assert spans[0] == (-1, -1)
    assert [end for _start, end in spans[1:]] == pytest.approx([31, 37, 43], abs=1)
    assert all(start == pytest.approx(25, abs=1) for start, _end in spans[1:])


def test_trace_length_bounds_the_path() -> None:
    results = run(
        _steps(trace_length=2),
        {"image": "$steps.viz.image"},
        {"frame": canvas()},
        {"image": _frames(4)},
        models=ScriptedModels({"m/1": _Mover()}),
    )
    assert _drawn_columns(results[-1]["image"]) == pytest.approx((37, 43), abs=1)


def test_trace_continues_across_requests_of_one_video() -> None:
    executor = Executor()
    models = ScriptedModels({"m/1": _Mover()})
    workflow = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": _steps(),
        "outputs": [{"type": "JsonField", "name": "image", "selector": "$steps.viz.image"}],
    }
    plan = compile_workflow(workflow, REGISTRY)
    spans = []
    for frame in _frames(3):
        [result] = executor.run(
            plan,
            {"image": frame},
            context=RunContext(models=models),
            decode_image=lambda value: canvas(),
            serialize=False,
        )
        spans.append(_drawn_columns(result["image"]))
    assert spans[0] == (-1, -1)
    assert spans[2] == pytest.approx((25, 37), abs=1)


def test_untracked_detections_are_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="needs tracked detections"):
        run(
            _steps(tracked=False),
            {"image": "$steps.viz.image"},
            {"image": canvas()},
            models=ScriptedModels({"m/1": _Mover()}),
        )


def test_no_detections_leave_the_image_as_it_is() -> None:
    [result] = run(
        _steps(),
        {"image": "$steps.viz.image"},
        {"image": canvas(value=7)},
        models=ScriptedModels({"m/1": lambda image: boxes([])}),
    )
    assert (result["image"].pixels_bgr == 7).all()
