"""Video state across requests: frames sent one per run to one executor continue the tracks,
counts and zone times of their video when they carry video metadata, and start over when they
do not, when the video or the workspace changes, or when the block's settings change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.workflows.blocks.helpers import REGISTRY, ScriptedModels, boxes, canvas, model_step, step
from visionflow.workflows import Executor, RunContext, compile_workflow

ZONE = [[100, 0], [200, 0], [200, 100], [100, 100]]


def _frame(video: str, number: int) -> dict[str, Any]:
    return {
        "video_identifier": video,
        "frame_number": number,
        "frame_timestamp": 100.0 + 2 * number,
    }


class _Video:
    """One executor and a detector whose single 60 x 20 box has its left edge at ``x``."""

    def __init__(self) -> None:
        self.executor = Executor()
        self.x = 0.0
        self.models = ScriptedModels({"m/1": lambda image: boxes([[self.x, 30, self.x + 60, 50]])})

    def run(
        self,
        steps: list[dict[str, Any]],
        outputs: dict[str, str],
        inputs: dict[str, Any],
        declared: list[dict[str, Any]],
        tenant: str = "",
    ) -> dict[str, Any]:
        workflow = {
            "version": "1.0",
            "inputs": declared,
            "steps": [model_step("det", "m/1"), *steps],
            "outputs": [
                {"type": "JsonField", "name": n, "selector": s} for n, s in outputs.items()
            ],
        }
        [result] = self.executor.run(
            compile_workflow(workflow, REGISTRY),
            inputs,
            context=RunContext(models=self.models, tenant=tenant),
            decode_image=lambda value: canvas(300, 100),
            serialize=True,
        )
        return result


IMAGE_AND_VIDEO = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowVideoMetadata", "name": "video"},
]
TRACKER_V3 = step(
    "byte_tracker@v3", "track", image="$inputs.image", detections="$steps.det.predictions"
)
SEEN = {"new": "$steps.track.new_instances", "seen": "$steps.track.already_seen_instances"}


def _new_and_seen(result: dict[str, Any]) -> tuple[int, int]:
    return len(result["new"]["predictions"]), len(result["seen"]["predictions"])


def _image(video: str | None, number: int) -> Any:
    if video is None:
        return "frame"
    return {"type": "base64", "value": "frame", "video_metadata": _frame(video, number)}


def _track_frames(
    video: _Video, frames: Iterator[tuple[str | None, int]], tenant: str = ""
) -> list[tuple[int, int]]:
    found = []
    for name, number in frames:
        video.x += 5
        result = video.run(
            [TRACKER_V3],
            SEEN,
            {"image": _image(name, number)},
            [{"type": "WorkflowImage", "name": "image"}],
            tenant,
        )
        found.append(_new_and_seen(result))
    return found


def test_tracks_continue_across_requests_for_frames_of_one_video() -> None:
    video = _Video()
    frames = iter([("cam", 0), ("cam", 1), ("cam", 2), ("other-cam", 0), ("cam", 3)])
    assert _track_frames(video, frames) == [(1, 0), (0, 1), (0, 1), (1, 0), (0, 1)]


def test_images_without_metadata_are_each_their_own_video() -> None:
    video = _Video()
    assert _track_frames(video, iter([(None, 0), (None, 1)])) == [(1, 0), (1, 0)]


def test_workspaces_do_not_share_tracks() -> None:
    video = _Video()
    assert _track_frames(video, iter([("cam", 0)]), tenant="acme") == [(1, 0)]
    assert _track_frames(video, iter([("cam", 1)]), tenant="globex") == [(1, 0)]
    assert _track_frames(video, iter([("cam", 2)]), tenant="acme") == [(0, 1)]


def _time_in_zone(zone: list[list[int]]) -> dict[str, Any]:
    return step(
        "time_in_zone@v1",
        "zone",
        image="$inputs.image",
        metadata="$inputs.video",
        detections="$steps.track.tracked_detections",
        zone=zone,
    )


def test_time_in_zone_accumulates_over_requests_and_restarts_with_a_new_zone() -> None:
    video = _Video()
    tracker = step(
        "byte_tracker@v1", "track", metadata="$inputs.video", detections="$steps.det.predictions"
    )

    def seconds(number: int, zone: list[list[int]] = ZONE) -> list[float]:
        video.x = 100 + number  # the box centre (x + 30) is inside the zone
        result = video.run(
            [tracker, _time_in_zone(zone)],
            {"timed": "$steps.zone.timed_detections"},
            {"image": "frame", "video": _frame("cam", number)},
            IMAGE_AND_VIDEO,
        )
        return [p["time_in_zone"] for p in result["timed"]["predictions"]]

    assert [seconds(n) for n in range(3)] == [[0.0], [2.0], [4.0]]
    wider = [[90, 0], [210, 0], [210, 100], [90, 100]]
    assert seconds(3, wider) == [0.0]  # another zone: its own state
    assert seconds(4) == [8.0]  # the first zone's state is still there


def test_line_counter_counts_a_crossing_spread_over_requests() -> None:
    video = _Video()
    steps = [
        step(
            "byte_tracker@v1",
            "track",
            metadata="$inputs.video",
            detections="$steps.det.predictions",
        ),
        step(
            "line_counter@v1",
            "line",
            metadata="$inputs.video",
            detections="$steps.track.tracked_detections",
            line_segment=[[150, 0], [150, 100]],
        ),
    ]
    counts = []
    for number, x in enumerate([60, 80, 100, 120, 140]):
        video.x = x
        result = video.run(
            steps,
            {"in": "$steps.line.count_in", "out": "$steps.line.count_out"},
            {"image": "frame", "video": _frame("cam", number)},
            IMAGE_AND_VIDEO,
        )
        counts.append(result["in"] + result["out"])
    assert counts[0] == 0
    assert counts[-1] == 1


def test_velocity_of_a_track_over_requests_in_metres_per_second() -> None:
    video = _Video()
    steps = [
        step(
            "byte_tracker@v1",
            "track",
            metadata="$inputs.video",
            detections="$steps.det.predictions",
        ),
        step(
            "velocity@v1",
            "speed",
            image="$inputs.image",
            detections="$steps.track.tracked_detections",
            smoothing_alpha=0.5,
            pixels_per_meter=2.0,
        ),
    ]
    found = []
    for number, x in enumerate([0, 8, 12]):  # frames 2 s apart: 4 px/s, then 2 px/s
        video.x = x
        image = {"type": "base64", "value": "frame", "video_metadata": _frame("cam", number)}
        result = video.run(
            steps,
            {"moving": "$steps.speed.velocity_detections"},
            {"image": image, "video": _frame("cam", number)},
            IMAGE_AND_VIDEO,
        )
        [item] = result["moving"]["predictions"]
        found.append(
            (item["velocity"], item["speed"], item["smoothed_velocity"], item["smoothed_speed"])
        )
    assert found == [
        ([0.0, 0.0], 0.0, [0.0, 0.0], 0.0),
        ([2.0, 0.0], 2.0, [1.0, 0.0], 1.0),
        ([1.0, 0.0], 1.0, [1.0, 0.0], 1.0),
    ]
