"""``heatmap_visualization``: heat stays where detections stood over the frames of one video (a
batch, requests with video metadata, or a ``WorkflowVideoMetadata`` input), never leaks into
another video, and with tracker ids only moving tracks add heat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import supervision as sv

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

LEFT, RIGHT = 20, 120  # a box's left edge: its bottom centre is (x + 10, 60)


def _script(xs: Sequence[int | None], tracker_ids: Sequence[int] | None = None) -> Any:
    """A detector giving, call after call, one 20 x 20 box at ``x`` (``None``: no box), with
    tracker id ``tracker_ids[i]`` when given."""
    calls = iter(range(len(xs)))

    def answer(image: np.ndarray) -> sv.Detections:
        i = next(calls)
        x = xs[i]
        if x is None:
            return boxes([])
        detections = boxes([[x, 40, x + 20, 60]])
        if tracker_ids is not None:
            detections.tracker_id = np.array([tracker_ids[i]])
        return detections

    return answer


def _steps(**fields: Any) -> list[dict[str, Any]]:
    settings = {"radius": 5, "kernel_size": 1, "opacity": 1.0, **fields}
    heat = step(
        "heatmap_visualization@v1",
        "heat",
        image="$inputs.image",
        predictions="$steps.det.predictions",
        **settings,
    )
    return [model_step("det", "m/1"), heat]


def _frames(count: int, video: str = "cam") -> list[dict[str, Any]]:
    return [
        {
            "type": "base64",
            "value": "frame",
            "video_metadata": {
                "video_identifier": video,
                "frame_number": n,
                "frame_timestamp": n / 30,
            },
        }
        for n in range(count)
    ]


def _hot(image: WorkflowImage, x: int) -> bool:
    """Whether there is heat at the bottom centre of a box at ``x``."""
    return bool(image.pixels_bgr[60, x + 10].any())


def _run_frames(
    xs: Sequence[int | None],
    frames: list[Any],
    answer: Callable[..., Any] | None = None,
    **fields: Any,
) -> list[WorkflowImage]:
    results = run(
        _steps(**fields),
        {"image": "$steps.heat.image"},
        {"frame": canvas()},
        {"image": frames},
        models=ScriptedModels({"m/1": answer or _script(xs)}),
    )
    return [r["image"] for r in results]


def test_heat_stays_where_detections_stood_over_a_video() -> None:
    first, second = _run_frames([LEFT, RIGHT], _frames(2))
    assert _hot(first, LEFT)
    assert not _hot(first, RIGHT)
    assert _hot(second, LEFT)
    assert _hot(second, RIGHT)
    # Both spots hold the same heat (one detection each), so they are drawn alike.
    assert second.pixels_bgr[60, LEFT + 10].tolist() == second.pixels_bgr[60, RIGHT + 10].tolist()


def test_each_video_has_its_own_heat() -> None:
    frames = [*_frames(1, "cam"), *_frames(1, "door")]
    cam, door = _run_frames([LEFT, RIGHT], frames)
    assert _hot(cam, LEFT)
    assert _hot(door, RIGHT)
    assert not _hot(door, LEFT)


def test_still_images_are_each_their_own_video() -> None:
    first, second = _run_frames([LEFT, RIGHT], ["frame", "frame"])
    assert _hot(first, LEFT)
    assert _hot(second, RIGHT)
    assert not _hot(second, LEFT)


def test_heat_continues_across_requests_of_one_video() -> None:
    executor = Executor()
    models = ScriptedModels({"m/1": _script([LEFT, RIGHT, None])})
    workflow = {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowVideoMetadata", "name": "video"},
        ],
        "steps": _steps(metadata="$inputs.video"),
        "outputs": [{"type": "JsonField", "name": "image", "selector": "$steps.heat.image"}],
    }
    plan = compile_workflow(workflow, REGISTRY)
    images = []
    for number in range(3):
        [result] = executor.run(
            plan,
            # The metadata input names the video; the image itself carries none.
            {
                "image": "frame",
                "video": {"video_identifier": "cam", "frame_number": number, "frame_timestamp": 0},
            },
            context=RunContext(models=models),
            decode_image=lambda value: canvas(),
            serialize=False,
        )
        images.append(result["image"])
    assert _hot(images[1], LEFT)
    assert _hot(images[1], RIGHT)
    # A frame without detections still shows the heat accumulated so far.
    assert _hot(images[2], LEFT)
    assert _hot(images[2], RIGHT)


def test_with_tracker_ids_only_moving_tracks_add_heat() -> None:
    # Track 1 appears at LEFT (no heat yet), stays (none), then jumps to RIGHT (heat there).
    answer = _script([LEFT, LEFT, RIGHT], tracker_ids=[1, 1, 1])
    images = _run_frames([], _frames(3), answer=answer)
    assert not images[0].pixels_bgr.any()
    assert not images[1].pixels_bgr.any()
    assert _hot(images[2], RIGHT)
    assert not _hot(images[2], LEFT)


def test_small_moves_accumulate_until_the_threshold() -> None:
    # 15 px, then 30 px from where the track was last remembered: the second move adds heat.
    answer = _script([LEFT, LEFT + 15, LEFT + 30], tracker_ids=[4, 4, 4])
    images = _run_frames([], _frames(3), answer=answer, motion_threshold=25)
    assert not images[1].pixels_bgr.any()
    assert _hot(images[2], LEFT + 30)


def test_ignore_stationary_off_heats_every_detection() -> None:
    answer = _script([LEFT], tracker_ids=[1])
    [image] = _run_frames([], _frames(1), answer=answer, ignore_stationary=False)
    assert _hot(image, LEFT)


def test_no_detections_leave_the_image_as_it_is() -> None:
    [image] = _run_frames([None], _frames(1))
    assert not image.pixels_bgr.any()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"opacity": 1.5}, "opacity", id="opacity"),
        pytest.param({"radius": 0}, "radius", id="radius"),
        pytest.param({"low_hue": 300}, "low_hue", id="hue"),
    ],
)
def test_bad_settings_are_400s(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=field):
        _run_frames([LEFT], _frames(1), **fields)


def test_centre_of_mass_needs_masks() -> None:
    # Not among the manifest's positions, but a selector may name any.
    with pytest.raises(InvalidInputTypeError, match="masks"):
        run(
            [
                model_step("det", "m/1"),
                step(
                    "heatmap_visualization@v1",
                    "heat",
                    image="$inputs.image",
                    predictions="$steps.det.predictions",
                    position="$inputs.position",
                ),
            ],
            {"image": "$steps.heat.image"},
            {"image": canvas()},
            {"image": "image", "position": "CENTER_OF_MASS"},
            declared=[
                {"type": "WorkflowImage", "name": "image"},
                {"type": "WorkflowParameter", "name": "position"},
            ],
            models=ScriptedModels({"m/1": _script([LEFT])}),
        )
