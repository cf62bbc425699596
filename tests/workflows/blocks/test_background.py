"""``background_subtraction`` and ``motion_detection`` over frames of a video sent with video
metadata, request by request: a still background, then a moving square."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.memory import StepMemory


def _frame(x: int | None) -> np.ndarray:
    image = canvas(160, 120, 40)
    if x is not None:
        cv2.rectangle(image, (x, 40), (x + 30, 70), (0, 0, 255), -1)
    return image


def _payload(n: int, name: str) -> dict[str, Any]:
    metadata = {"video_identifier": "cam", "frame_number": n, "frame_timestamp": n / 10}
    return {"type": "numpy", "value": name, "video_metadata": metadata}


def _sequence(
    steps: list[dict[str, Any]], outputs: dict[str, str], xs: list[int | None]
) -> list[dict[str, Any]]:
    context = RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "d"))
    results = []
    for n, x in enumerate(xs):
        images = {f"f{n}": _frame(x)}
        results.append(
            run(
                steps,
                outputs,
                images,
                {"image": _payload(n, f"f{n}")},
                context=context,
                serialize=False,
            )[0]
        )
    return results


def test_background_subtraction_marks_the_moving_square() -> None:
    steps = [step("background_subtraction@v1", "bg", image="$inputs.image", history=5)]
    results = _sequence(steps, {"mask": "$steps.bg.image"}, [None] * 6 + [60])
    mask = results[-1]["mask"].pixels_bgr
    assert mask.shape == (120, 160, 3)
    assert mask[55, 75, 0] in (127, 255)  # inside the square: foreground (or its shadow)
    assert mask[10, 10, 0] == 0  # background


def test_motion_detection_reports_motion_alarm_and_zones() -> None:
    steps = [
        step(
            "motion_detection@v1",
            "motion",
            image="$inputs.image",
            history=5,
            minimum_contour_area=50,
        )
    ]
    outputs = {
        "motion": "$steps.motion.motion",
        "alarm": "$steps.motion.alarm",
        "det": "$steps.motion.detections",
        "zones": "$steps.motion.motion_zones",
    }
    results = _sequence(steps, outputs, [None] * 7 + [60, 90])
    assert [r["motion"] for r in results] == [False] * 7 + [True, True]
    assert [r["alarm"] for r in results] == [False] * 7 + [True, False]
    box = results[7]["det"].xyxy[0].tolist()
    assert abs(box[0] - 60) <= 2
    assert abs(box[2] - 91) <= 2
    assert results[7]["det"].data["class_name"].tolist() == ["motion"]
    assert len(results[7]["zones"][0]) >= 3
    assert len(results[0]["det"]) == 0  # the empty case: training frames


def test_motion_outside_the_detection_zone_is_ignored() -> None:
    steps = [
        step(
            "motion_detection@v1",
            "motion",
            image="$inputs.image",
            history=5,
            minimum_contour_area=50,
            detection_zone=[[0, 0], [40, 0], [40, 120], [0, 120]],
        )
    ]
    results = _sequence(steps, {"motion": "$steps.motion.motion"}, [None] * 7 + [100])
    assert results[-1]["motion"] is False
