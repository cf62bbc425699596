"""ByteTrack on its own (frames of moving boxes) and the ``byte_tracker`` blocks through the
executor: a batch of frames of one video (v1, with video metadata from a batch input), and the
still-image defaults of v2 / v3."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.blocks.bytetrack import ByteTrack, linear_assignment


def test_linear_assignment_is_optimal_and_respects_the_threshold() -> None:
    cost = np.array([[0.1, 0.2, 0.9], [0.15, 0.9, 0.9]])
    matches, rows, cols = linear_assignment(cost, 0.5)
    assert matches == [(0, 1), (1, 0)]  # 0.35 in all beats the greedy 0.1 + 0.9
    assert (rows, cols) == ([], [2])
    tall = linear_assignment(cost.T, 0.5)
    assert tall[0] == [(0, 1), (1, 0)]
    assert linear_assignment(np.zeros((0, 3)), 0.5) == ([], [], [0, 1, 2])


def _frame(xs: list[float], scores: list[float] | None = None) -> Any:
    return boxes([[x, 10, x + 20, 50] for x in xs], scores or [0.9] * len(xs))


def test_bytetrack_follows_moving_boxes_and_keeps_lost_ids() -> None:
    tracker = ByteTrack(lost_track_buffer=5)
    first = tracker.update(_frame([0, 100]))
    assert first.tracker_id is not None
    assert first.tracker_id.tolist() == [1, 2]
    for step_x in range(1, 6):
        moved = tracker.update(_frame([100 + 3 * step_x, 3 * step_x]))  # order swapped
        assert moved.tracker_id is not None
        assert moved.tracker_id.tolist() == [2, 1]
    # A low-confidence detection still continues its track (ByteTrack's second association).
    low = tracker.update(_frame([18, 118], [0.9, 0.2]))
    assert low.tracker_id is not None
    assert low.tracker_id.tolist() == [1, 2]
    tracker.update(_frame([21]))  # track 2 is not seen for a frame: lost, not forgotten
    back = tracker.update(_frame([24, 124]))
    assert back.tracker_id is not None
    assert back.tracker_id.tolist() == [1, 2]
    newcomer = tracker.update(_frame([27, 127, 300]))
    assert newcomer.tracker_id is not None
    assert newcomer.tracker_id.tolist() == [1, 2]  # a new track is confirmed on its 2nd frame
    confirmed = tracker.update(_frame([30, 130, 302]))
    assert confirmed.tracker_id is not None
    assert confirmed.tracker_id.tolist() == [1, 2, 3]


FRAMES = {f"f{i}": canvas() for i in range(4)}


def _moving(image: np.ndarray) -> Any:
    return _frame([0, 100])


def test_v1_tracks_the_frames_of_one_video_across_a_batch() -> None:
    positions = iter([[0, 100], [104, 4], [8, 108], [112, 12]])
    models = ScriptedModels({"m/1": lambda image: _frame(next(positions))})
    metadata = [
        {"video_identifier": "cam-1", "frame_number": i, "frame_timestamp": 1.0 + i / 30, "fps": 30}
        for i in range(4)
    ]
    results = run(
        [
            model_step("det", "m/1"),
            step(
                "byte_tracker@v1",
                "track",
                metadata="$inputs.metadata",
                detections="$steps.det.predictions",
            ),
        ],
        {"tracked": "$steps.track.tracked_detections"},
        FRAMES,
        {"image": list(FRAMES), "metadata": metadata},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowBatchInput", "name": "metadata", "kind": ["video_metadata"]},
        ],
        models=models,
    )
    ids = [r["tracked"].tracker_id.tolist() for r in results]
    xs = [r["tracked"].xyxy[:, 0].tolist() for r in results]
    assert ids == [[1, 2], [2, 1], [1, 2], [2, 1]]
    assert xs[1] == [104, 4]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_still_images_are_each_their_own_video(version: str) -> None:
    results = run(
        [
            model_step("det", "m/1"),
            step(
                f"byte_tracker@{version}",
                "track",
                image="$inputs.image",
                detections="$steps.det.predictions",
            ),
        ],
        {
            "tracked": "$steps.track.tracked_detections",
            **(
                {"new": "$steps.track.new_instances", "seen": "$steps.track.already_seen_instances"}
                if version == "v3"
                else {}
            ),
        },
        FRAMES,
        {"image": ["f0", "f1"]},
        models=ScriptedModels({"m/1": _moving}),
    )
    for result in results:
        assert result["tracked"].tracker_id.tolist() == [1, 2]
        if version == "v3":
            assert result["new"].tracker_id.tolist() == [1, 2]
            assert len(result["seen"]) == 0


def test_hungarian_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        rows = int(rng.integers(1, 5))
        cost = rng.random((rows, int(rng.integers(rows, 6))))
        matches, _rows, _cols = linear_assignment(cost, 1.0)
        best = min(
            sum(cost[r, p[r]] for r in range(rows))
            for p in itertools.permutations(range(cost.shape[1]), rows)
        )
        assert sum(cost[r, c] for r, c in matches) == pytest.approx(best)
