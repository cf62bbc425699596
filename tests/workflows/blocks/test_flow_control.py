"""``switch_case`` picks one target per element; ``delta_filter`` passes only changed values,
per video, across requests when frames come with video metadata."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.errors import WorkflowError
from visionflow.workflows.memory import StepMemory

IMAGES = {"a": canvas(), "b": canvas()}


def _switch(**fields: Any) -> list[dict[str, Any]]:
    return [
        step(
            "switch_case@v1",
            "switch",
            value="$inputs.mode",
            cases={"red": "$steps.on_red", "blue": "$steps.on_blue"},
            **fields,
        ),
        step("image_blur@v1", "on_red", image="$inputs.image"),
        step("convert_grayscale@v1", "on_blue", image="$inputs.image"),
        step("contours_detection@v1", "fallback", image="$inputs.image"),
    ]


OUTPUTS = {
    "red": "$steps.on_red.image",
    "blue": "$steps.on_blue.image",
    "fallback": "$steps.fallback.number_contours",
}
DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "mode"},
]


def _ran(result: dict[str, Any]) -> set[str]:
    return {name for name, value in result.items() if value is not None}


@pytest.mark.parametrize(
    ("mode", "insensitive", "ran"),
    [
        ("red", False, {"red"}),
        ("blue", False, {"blue"}),
        ("RED", False, {"fallback"}),
        ("RED", True, {"red"}),
        ("green", False, {"fallback"}),
    ],
)
def test_switch_case_runs_the_matching_step_only(
    mode: str, insensitive: bool, ran: set[str]
) -> None:
    [result] = run(
        _switch(case_insensitive=insensitive, default_next_steps=["$steps.fallback"]),
        OUTPUTS,
        IMAGES,
        {"image": "a", "mode": mode},
        declared=DECLARED,
    )
    assert _ran(result) == ran


def test_switch_case_without_match_or_default_runs_nothing_and_compares_strings() -> None:
    [result] = run(_switch(), OUTPUTS, IMAGES, {"image": "a", "mode": "green"}, declared=DECLARED)
    assert _ran(result) == {"fallback"}  # not a target of the switch: it always runs
    steps = _switch()
    steps[0]["cases"] = {"True": "$steps.on_red", "1.5": "$steps.on_blue"}
    for value, expected in ((True, {"red"}), (1.5, {"blue"})):
        [result] = run(steps, OUTPUTS, IMAGES, {"image": "a", "mode": value}, declared=DECLARED)
        assert _ran(result) - {"fallback"} == expected


def test_switch_case_refuses_a_target_named_twice() -> None:
    steps = _switch(default_next_steps=["$steps.on_red"])
    with pytest.raises(WorkflowError, match="at most once"):
        run(steps, OUTPUTS, IMAGES, {"image": "a", "mode": "red"}, declared=DECLARED)


def _frame(number: int, video: str = "cam") -> dict[str, Any]:
    metadata = {"video_identifier": video, "frame_number": number, "frame_timestamp": 1.0 + number}
    return {"type": "numpy", "value": "a", "video_metadata": metadata}


def test_delta_filter_passes_changes_per_video_across_requests() -> None:
    steps = [
        step(
            "delta_filter@v1",
            "delta",
            image="$inputs.image",
            value="$inputs.count",
            next_steps=["$steps.gray"],
        ),
        step("convert_grayscale@v1", "gray", image="$inputs.image"),
    ]
    context = RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "def"))
    declared = [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "count"},
    ]
    passed = []
    for number, (video, count) in enumerate(
        [("cam", 1), ("cam", 1), ("cam", 2), ("other", 2), ("cam", 2)]
    ):
        [result] = run(
            steps,
            {"gray": "$steps.gray.image"},
            IMAGES,
            {"image": _frame(number, video), "count": count},
            declared=declared,
            context=context,
        )
        passed.append(result["gray"] is not None)
    assert passed == [True, False, True, True, False]
    # Still images (no metadata) are each their own video: always a change.
    [result] = run(
        steps, {"gray": "$steps.gray.image"}, IMAGES, {"image": "a", "count": 1}, declared=declared
    )
    assert result["gray"] is not None
