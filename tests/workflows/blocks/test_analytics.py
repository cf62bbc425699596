"""``line_counter`` and ``time_in_zone`` through the executor on a batch of frames of one video
(detector → byte_tracker@v1 → analytics, video metadata from a batch input)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.blocks.analytics import MAX_ZONE_MASK_PIXELS
from visionflow.workflows.errors import InvalidInputTypeError

FRAMES = {f"f{i}": canvas(300, 100) for i in range(5)}
DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowBatchInput", "name": "metadata", "kind": ["video_metadata"]},
]


def _video(xs: list[list[float]], analytics: dict[str, Any], outputs: dict[str, str]) -> list[Any]:
    """Per frame, the left edges of 60 x 20 boxes: the i-th object on rows 30 * i ... + 20."""
    frames = iter(xs)
    models = ScriptedModels(
        {
            "m/1": lambda image: boxes(
                [[x, 30 * i, x + 60, 30 * i + 20] for i, x in enumerate(next(frames))]
            )
        }
    )
    metadata = [
        {"video_identifier": "cam", "frame_number": i, "frame_timestamp": 100.0 + 2 * i}
        for i in range(len(xs))
    ]
    return run(
        [
            model_step("det", "m/1"),
            step(
                "byte_tracker@v1",
                "track",
                metadata="$inputs.metadata",
                detections="$steps.det.predictions",
            ),
            {"name": "a", "detections": "$steps.track.tracked_detections", **analytics},
        ],
        outputs,
        FRAMES,
        {"image": list(FRAMES)[: len(xs)], "metadata": metadata},
        declared=DECLARED,
        models=models,
    )


def test_line_counter_counts_crossings_each_way() -> None:
    # Object 1 (centre) moves right across x = 150, object 2 moves left across it.
    xs = [[60, 180], [80, 160], [100, 140], [120, 120], [140, 100]]
    results = _video(
        xs,
        {
            "type": "roboflow_core/line_counter@v1",
            "metadata": "$inputs.metadata",
            "line_segment": [[150, 0], [150, 100]],
        },
        {"in": "$steps.a.count_in", "out": "$steps.a.count_out"},
    )
    counts = [(r["in"], r["out"]) for r in results]
    assert counts[0] == (0, 0)
    assert counts[-1] == (1, 1)


def test_time_in_zone_accumulates_per_track() -> None:
    # The object's centre enters the zone (x 100..200) on frame 3; frames are 2 s apart.
    xs = [[20], [40], [60], [80], [100]]
    results = _video(
        xs,
        {
            "type": "roboflow_core/time_in_zone@v1",
            "image": "$inputs.image",
            "metadata": "$inputs.metadata",
            "zone": [[100, 0], [200, 0], [200, 100], [100, 100]],
        },
        {"timed": "$steps.a.timed_detections"},
    )
    times = [r["timed"].data["time_in_zone"].tolist() for r in results]
    assert times == [[], [], [], [0.0], [2.0]]


def test_time_in_zone_can_keep_detections_outside() -> None:
    results = _video(
        [[20], [30]],
        {
            "type": "roboflow_core/time_in_zone@v1",
            "image": "$inputs.image",
            "metadata": "$inputs.metadata",
            "zone": [[100, 0], [200, 0], [200, 100], [100, 100]],
            "remove_out_of_zone_detections": False,
        },
        {"timed": "$steps.a.timed_detections"},
    )
    assert [r["timed"].data["time_in_zone"].tolist() for r in results] == [[0.0], [0.0]]


def test_v2_blocks_on_still_images_and_untracked_input() -> None:
    zone = [[[0, 0], [50, 0], [50, 50]], [[100, 0], [200, 0], [200, 100], [100, 100]]]
    results = run(
        [
            model_step("det", "m/1"),
            step(
                "byte_tracker@v2",
                "track",
                image="$inputs.image",
                detections="$steps.det.predictions",
            ),
            step(
                "time_in_zone@v3",
                "tz",
                image="$inputs.image",
                detections="$steps.track.tracked_detections",
                zone=zone,
            ),
            step(
                "line_counter@v2",
                "lc",
                image="$inputs.image",
                detections="$steps.track.tracked_detections",
                line_segment=[[0, 0], [300, 100]],
            ),
        ],
        {"timed": "$steps.tz.timed_detections", "in": "$steps.lc.count_in"},
        FRAMES,
        {"image": "f0"},
        models=ScriptedModels(
            {"m/1": lambda image: boxes([[110, 40, 130, 60], [260, 40, 280, 60]])}
        ),
    )
    assert results[0]["timed"].xyxy.tolist() == [[110, 40, 130, 60]]
    assert results[0]["in"] == 0
    with pytest.raises(InvalidInputTypeError, match="tracked detections"):
        run(
            [
                model_step("det", "m/1"),
                step(
                    "line_counter@v2",
                    "lc",
                    image="$inputs.image",
                    detections="$steps.det.predictions",
                    line_segment=[[0, 0], [300, 100]],
                ),
            ],
            {"in": "$steps.lc.count_in"},
            FRAMES,
            {"image": "f0"},
            models=ScriptedModels({"m/1": lambda image: boxes([[0, 0, 1, 1]])}),
        )


@pytest.mark.parametrize(
    ("zone", "pixels"),
    [
        pytest.param([[0, 0], [100_000, 0], [0, 100_000]], 100_002**2, id="one-far-zone"),
        pytest.param([[[0, 0], [6000, 0], [0, 6000]]] * 2, 2 * 6002**2, id="two-large-zones"),
    ],
)
def test_zones_whose_masks_are_too_large_are_a_400(zone: list[Any], pixels: int) -> None:
    """supervision builds each zone's mask from the origin to its farthest point: 10 GB for a
    zone reaching 100000 px."""
    with pytest.raises(InvalidInputTypeError) as raised:
        _video(
            [[20]],
            {
                "type": "roboflow_core/time_in_zone@v3",
                "image": "$inputs.image",
                "metadata": "$inputs.metadata",
                "zone": zone,
            },
            {"timed": "$steps.a.timed_detections"},
        )
    assert raised.value.message.endswith(
        f"field 'zone': the zones reach {pixels} pixels from the image's origin, more than the "
        f"{MAX_ZONE_MASK_PIXELS} their masks may have"
    )
