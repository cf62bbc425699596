"""``stabilize_detections`` over the frames of a video: boxes blended with the previous frame's,
a missing track carried on by its Kalman velocity until its history runs out, state per video
(other videos and still images start afresh), the empty frame, untracked detections refused, and
the model -> tracker -> stabilizer workflow sent frame by frame with video metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.stabilization import StabilizeDetectionsV1, VelocityKalmanFilter
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.memory import StepMemory
from visionflow.workflows.video_metadata import VideoMetadata

PIXELS = canvas(200, 100)
# One box moving 10 px right per frame, missing on frame 3 and from frame 5 on.
XS: list[list[float]] = [[0], [10], [20], [], [40], [], [], []]
# Worked out from the reference's algorithm (alpha 0.5, window 3): frame 1 blends 0 and 10;
# frame 3 moves frame 2's raw box by the velocity 10; frame 4 measures 60 - 45 = 15, so the
# filter's velocity becomes 10 + 2.5 * P / (P + 0.01), P = 0.011901 after two predictions.
GAIN = 0.011901 / 0.021901
EXPECTED_X1 = [0, 5, 15, 25, 32.5, (40 + 40 + 10 + 2.5 * GAIN) / 2, None, None]


def _frame(xs: list[float], track_ids: list[int] | None = None) -> sv.Detections:
    detections = boxes([[x, 10, x + 20, 50] for x in xs])
    detections.tracker_id = np.array(track_ids or [1] * len(xs), dtype=int)
    return detections


def _image(video: str | None, number: int) -> WorkflowImage:
    metadata = None if video is None else VideoMetadata(video, number, datetime.now(tz=UTC), 30.0)
    return WorkflowImage.from_input(PIXELS, "image", metadata)


def _stabilize(context: RunContext, image: WorkflowImage, detections: sv.Detections) -> Any:
    values = {
        "image": image,
        "detections": detections,
        "smoothing_window_size": 3,
        "bbox_smoothing_coefficient": 0.5,
    }
    [result] = StabilizeDetectionsV1().run_batch([StepInputs("stab", "t", values)], context)
    assert isinstance(result, dict)
    return result["tracked_detections"]


def _context() -> RunContext:
    return RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "d"))


def test_boxes_are_smoothed_and_gaps_filled_along_a_video() -> None:
    context = _context()
    x1s = []
    for number, xs in enumerate(XS):
        out = _stabilize(context, _image("cam", number), _frame(xs))
        x1s.append(float(out.xyxy[0, 0]) if len(out) else None)
        assert out.tracker_id.tolist() == ([1] if len(out) else [])
        if len(out):
            assert out.xyxy[0, 1:].tolist()[::2] == [10, 50]  # y unchanged: no vertical motion
    assert x1s[:6] == pytest.approx(EXPECTED_X1[:6], abs=1e-4)
    # Frame 6 carries on once more (the history's last entry), then the track is gone.
    assert x1s[6] == pytest.approx(x1s[5] + (10 + 2.5 * GAIN) / 2, abs=1e-4)
    assert x1s[7] is None


def test_each_video_has_its_own_state() -> None:
    context = _context()
    _stabilize(context, _image("cam", 0), _frame([0]))
    other = _stabilize(context, _image("door", 0), _frame([10]))
    assert other.xyxy[0, 0] == 10  # nothing to blend with in this video
    assert _stabilize(context, _image("cam", 1), _frame([10])).xyxy[0, 0] == 5
    # Still images are each their own video, from one run to the next.
    _stabilize(context, _image(None, 0), _frame([0]))
    assert _stabilize(context, _image(None, 0), _frame([10])).xyxy[0, 0] == 10


def test_new_tracks_pass_through_and_old_ones_carry_on() -> None:
    context = _context()
    _stabilize(context, _image("cam", 0), _frame([0]))
    _stabilize(context, _image("cam", 1), _frame([10]))
    out = _stabilize(context, _image("cam", 2), _frame([100], [7]))
    # The new track 7 as it is, then track 1 moved on by its velocity and blended.
    assert out.tracker_id.tolist() == [7, 1]
    assert out.xyxy[:, 0].tolist() == [100, 15]


def test_an_empty_frame_gives_empty_tracked_detections() -> None:
    out = _stabilize(_context(), _image("cam", 0), sv.Detections.empty())
    assert len(out) == 0
    assert out.tracker_id is not None


def test_untracked_detections_are_refused() -> None:
    with pytest.raises(InvalidInputTypeError, match="tracker_id"):
        _stabilize(_context(), _image("cam", 0), boxes([[0, 0, 5, 5]]))


def test_velocity_filter_forgets_a_track_when_its_history_runs_out() -> None:
    kalman = VelocityKalmanFilter(window=2)
    kalman.update({1: (4.0, 0.0)})
    kalman.update({1: (4.0, 0.0)})
    assert kalman.update({})[1].ravel().tolist() == pytest.approx([4, 0])
    assert 1 in kalman.tracks
    kalman.update({})
    assert 1 not in kalman.tracks


def test_tracker_then_stabilizer_frame_by_frame() -> None:
    frames = iter(XS[:5])
    models = ScriptedModels(
        {"m/1": lambda image: boxes([[x, 10, x + 20, 50] for x in next(frames)])}
    )
    context = RunContext(models=models, memory=StepMemory().scope("ws", "d"))
    steps = [
        model_step("det", "m/1"),
        step(
            "byte_tracker@v2", "track", image="$inputs.image", detections="$steps.det.predictions"
        ),
        step(
            "stabilize_detections@v1",
            "stab",
            image="$inputs.image",
            detections="$steps.track.tracked_detections",
            bbox_smoothing_coefficient=0.5,
        ),
    ]
    centres = []
    for number in range(5):
        metadata = {
            "video_identifier": "cam",
            "frame_number": number,
            "frame_timestamp": number / 30,
            "fps": 30,
        }
        image = {"type": "numpy", "value": "frame", "video_metadata": metadata}
        [result] = run(
            steps,
            {"stable": "$steps.stab.tracked_detections"},
            {"frame": PIXELS},
            {"image": image},
            models=models,
            context=context,
            serialize=True,
        )
        centres.append([p["x"] for p in result["stable"]["predictions"]])
    # Box centres are x1 + 10; frame 3 has no detection but the stabilizer keeps the object.
    assert centres == [[10], [15], [25], [35], [42.5]]
