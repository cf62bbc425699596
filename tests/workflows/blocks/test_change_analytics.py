"""``detection_event_log``, ``path_deviation_analytics`` v1/v2 over frames of a video sent
request by request with video metadata, and ``overlap``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.change_analytics import frechet_distance
from visionflow.workflows.memory import StepMemory

FRAMES = {f"f{i}": canvas(300, 100) for i in range(8)}


def _tracked(xs: list[int], ids: list[int]) -> Any:
    detections = boxes([[x, 10, x + 20, 30] for x in xs])
    detections.tracker_id = np.array(ids, dtype=int)
    return detections


def _video(
    steps: list[dict[str, Any]], outputs: dict[str, str], frames: list[Any]
) -> list[dict[str, Any]]:
    answers = iter(frames)
    models = ScriptedModels({"m/1": lambda image: next(answers)})
    context = RunContext(models=models, memory=StepMemory().scope("ws", "d"))
    results = []
    for n in range(len(frames)):
        metadata = {"video_identifier": "cam", "frame_number": n, "frame_timestamp": 100.0 + n}
        payload = {"type": "numpy", "value": f"f{n}", "video_metadata": metadata}
        results.append(
            run(
                steps,
                outputs,
                FRAMES,
                {"image": payload, "metadata": metadata},
                context=context,
                serialize=False,
                declared=[
                    {"type": "WorkflowImage", "name": "image"},
                    {"type": "WorkflowVideoMetadata", "name": "metadata"},
                ],
            )[0]
        )
    return results


def test_event_log_logs_tracks_seen_long_enough_and_completes_stale_ones() -> None:
    steps = [
        model_step("det", "m/1"),
        step(
            "detection_event_log@v1",
            "log",
            image="$inputs.image",
            detections="$steps.det.predictions",
            frame_threshold=2,
            flush_interval=2,
            stale_frames=1,
        ),
    ]
    outputs = {
        "log": "$steps.log.event_log",
        "logged": "$steps.log.total_logged",
        "pending": "$steps.log.total_pending",
        "done": "$steps.log.complete_events",
    }
    frames = [
        _tracked([0, 50], [1, 2]),
        _tracked([2], [1]),
        _tracked([4], [1]),
        boxes([]),
        boxes([]),
        boxes([]),
    ]
    results = _video(steps, outputs, frames)
    assert [(r["logged"], r["pending"]) for r in results[:3]] == [(0, 2), (1, 1), (1, 0)]
    event = results[2]["log"]["logged"]["1"]
    assert (event["first_seen_frame"], event["last_seen_frame"], event["frame_count"]) == (1, 3, 3)
    assert event["first_seen_timestamp"] == 100.0
    assert event["last_seen_relative"] == 2.0
    # Frame 3 flushes: track 2 (pending, unseen for 2 frames) is dropped, not completed.
    assert results[2]["done"] == {}
    assert set(results[4]["done"]) == {"1"}  # flushed as complete once stale
    assert (results[5]["logged"], results[5]["pending"]) == (0, 0)


def test_frechet_distance() -> None:
    line = np.array([[0, 0], [10, 0], [20, 0]], dtype=float)
    assert frechet_distance(line, line) == 0
    assert frechet_distance(np.add(line, [0, 3]), line) == pytest.approx(3)
    assert frechet_distance(line[::-1], line) == pytest.approx(20)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_path_deviation_is_the_frechet_distance_of_each_track(version: str) -> None:
    where = {"metadata": "$inputs.metadata"} if version == "v1" else {"image": "$inputs.image"}
    steps = [
        model_step("det", "m/1"),
        step(
            f"path_deviation_analytics@{version}",
            "dev",
            detections="$steps.det.predictions",
            reference_path=[[10, 20], [110, 20]],
            **where,
        ),
    ]
    frames = [
        _tracked([0], [7]),
        _tracked([50], [7]),
        _tracked([100], [7]),
        _tracked([100, 0], [7, 8]),
    ]
    frames[2].xyxy[:, 1:4:2] += 30  # 30 px below the path: within the 50 already reached
    results = _video(steps, {"d": "$steps.dev.path_deviation_detections"}, frames)
    deviations = [r["d"].data["path_deviation"].tolist() for r in results]
    # One point against the 2-point path: as far as its far end; then the track follows it.
    assert deviations[:3] == [[100.0], [50.0], [50.0]]
    assert deviations[3] == [50.0, 100.0]  # a new track starts its own path


def test_overlap_picks_other_classes_over_the_overlap_class() -> None:
    detections = boxes(
        [[0, 0, 100, 100], [10, 10, 30, 30], [90, 90, 120, 120], [200, 0, 220, 20]],
        class_ids=[0, 1, 1, 1],
        names=("shelf", "item"),
    )
    models = ScriptedModels({"m/1": lambda image: detections})
    for kind, expected in (("Center Overlap", [10]), ("Any Overlap", [10, 90])):
        steps = [
            model_step("det", "m/1"),
            step(
                "overlap@v1",
                "ov",
                predictions="$steps.det.predictions",
                overlap_class_name="shelf",
                overlap_type=kind,
            ),
        ]
        [result] = run(
            steps,
            {"o": "$steps.ov.overlaps"},
            {"image": canvas(300, 200)},
            models=models,
            serialize=False,
        )
        assert result["o"].xyxy[:, 0].tolist() == expected
    steps[1]["overlap_class_name"] = "nothing"
    [none] = run(
        steps,
        {"o": "$steps.ov.overlaps"},
        {"image": canvas(300, 200)},
        models=models,
        serialize=False,
    )
    assert len(none["o"]) == 0
