"""The ``trackers_*`` blocks over frames of one video sent request by request with video
metadata: the same ids as the ``trackers`` package given the same frames, steady ids for
moving boxes, the new / already-seen split, and an empty frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.trackers import trackers_package
from visionflow.workflows.memory import StepMemory

trackers = trackers_package()

POSITIONS = [[0, 100], [4, 104], [8, 108], [12, 112], [16, 116], [], [24, 124], [28, 128]]
FRAMES = {f"f{i}": canvas(300, 100, 20 + i) for i in range(len(POSITIONS))}
BLOCKS = {
    "trackers_bytetrack@v1": trackers.ByteTrackTracker,
    "trackers_sort@v1": trackers.SORTTracker,
    "trackers_ocsort@v1": trackers.OCSORTTracker,
    "trackers_botsort@v1": trackers.BoTSORTTracker,
}


def _detections(xs: list[int]) -> Any:
    return boxes([[x, 10, x + 40, 60] for x in xs], [0.9] * len(xs))


def _run_video(block: str) -> list[dict[str, Any]]:
    frames = iter(POSITIONS)
    models = ScriptedModels({"m/1": lambda image: _detections(next(frames))})
    context = RunContext(models=models, memory=StepMemory().scope("ws", "d"))
    steps = [
        model_step("det", "m/1"),
        step(block, "track", image="$inputs.image", detections="$steps.det.predictions"),
    ]
    outputs = {
        "tracked": "$steps.track.tracked_detections",
        "new": "$steps.track.new_instances",
        "seen": "$steps.track.already_seen_instances",
    }
    results = []
    for n in range(len(POSITIONS)):
        metadata = {
            "video_identifier": "cam",
            "frame_number": n,
            "frame_timestamp": n / 30,
            "fps": 30,
        }
        image = {"type": "numpy", "value": f"f{n}", "video_metadata": metadata}
        results.append(
            run(
                steps,
                outputs,
                FRAMES,
                {"image": image},
                models=models,
                context=context,
                serialize=False,
            )[0]
        )
    return results


@pytest.mark.parametrize("block", list(BLOCKS))
def test_block_gives_the_trackers_package_answers(block: str) -> None:
    results = _run_video(block)
    # The blocks' defaults: the package's, except BoT-SORT's (no motion compensation, no
    # activation on the first frame).
    extra = {"enable_cmc": False, "instant_first_frame_activation": False}
    direct = BLOCKS[block](frame_rate=30.0, **(extra if "botsort" in block else {}))
    direct.reset()  # ids from 0, as for the first video a fresh server sees
    expected = []
    for xs in POSITIONS:
        tracked = direct.update(_detections(xs))
        ids = (
            []
            if tracked.tracker_id is None
            else [t for t in tracked.tracker_id.tolist() if t != -1]
        )
        expected.append(ids)
    got = [r["tracked"].tracker_id.tolist() if len(r["tracked"]) else [] for r in results]
    assert got == expected
    assert any(got)  # tracks were confirmed
    assert got[5] == []  # the empty frame


def test_ids_stay_with_their_boxes_and_split_new_from_seen() -> None:
    results = _run_video("trackers_sort@v1")
    confirmed = [r for r in results if len(r["tracked"]) == 2]
    first = confirmed[0]["tracked"].tracker_id.tolist()
    assert len(set(first)) == 2
    for result in confirmed:
        tracked = result["tracked"]
        order = np.argsort(tracked.xyxy[:, 0])
        assert tracked.tracker_id[order].tolist() == sorted(first)
    assert confirmed[0]["new"].tracker_id.tolist() == first
    assert len(confirmed[0]["seen"]) == 0
    assert len(confirmed[1]["new"]) == 0
    assert sorted(confirmed[1]["seen"].tracker_id.tolist()) == sorted(first)
