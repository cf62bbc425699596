"""``perspective_correction`` through the executor: a tilted square mapped onto a rectangle."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import RunBudget, RunContext, WorkflowImage, WorkflowLimits
from visionflow.workflows.errors import InvalidInputTypeError

# A quadrilateral given in any vertex order; its bottom-left corner is (20, 180).
QUAD = [[180, 20], [20, 180], [20, 20], [180, 180]]


def _correct(polygons: object, **fields: object) -> dict[str, object]:
    image = canvas(200, 200)
    image[20:100, 20:100] = 255  # the quadrilateral's top-left quarter is white
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "perspective_correction@v1",
                "pc",
                images="$inputs.image",
                predictions="$steps.det.predictions",
                perspective_polygons=polygons,
                transformed_rect_width=81,
                transformed_rect_height=81,
                **fields,
            ),
        ],
        {
            "corrected": "$steps.pc.corrected_coordinates",
            "warped": "$steps.pc.warped_image",
            "width": "$steps.pc.extended_transformed_rect_width",
        },
        {"image": image},
        models=ScriptedModels({"m/1": lambda image: boxes([[100, 100, 180, 180]])}),
    )
    return result


def test_detections_and_image_are_mapped_onto_the_rectangle() -> None:
    result = _correct(QUAD, warp_image=True)
    corrected = result["corrected"]
    # (20..180) maps onto (0..80): the box (100..180) becomes (40..80).
    assert corrected.xyxy.tolist() == [[40, 40, 80, 80]]
    warped = result["warped"]
    assert isinstance(warped, WorkflowImage)
    assert warped.pixels_bgr.shape == (81, 81, 3)
    assert warped.pixels_bgr[10, 10].tolist() == [255, 255, 255]
    assert warped.pixels_bgr[70, 70].tolist() == [0, 0, 0]
    assert result["width"] == 81


def test_the_largest_quadrilateral_of_a_list_is_used() -> None:
    small = [[0, 0], [10, 0], [10, 10], [0, 10]]
    triangle = [[0, 0], [5, 5], [0, 5]]
    result = _correct([small, triangle, QUAD])
    assert np.allclose(result["corrected"].xyxy, [[40, 40, 80, 80]])
    assert result["warped"].pixels_bgr.shape == (200, 200, 3)


def test_polygon_extension_is_refused_with_a_clear_error() -> None:
    with pytest.raises(InvalidInputTypeError, match="not supported"):
        _correct(QUAD, extend_perspective_polygon_by_detections_anchor="CENTER")


def _warp(width: int, height: int, budget: RunBudget | None = None) -> list[dict[str, object]]:
    return run(
        [
            step(
                "perspective_correction@v1",
                "pc",
                images="$inputs.image",
                perspective_polygons=QUAD,
                transformed_rect_width=width,
                transformed_rect_height=height,
                warp_image=True,
            )
        ],
        {"warped": "$steps.pc.warped_image"},
        {"image": canvas(200, 200)},
        context=RunContext(models=ScriptedModels(), budget=budget or RunBudget()),
    )


def test_an_output_past_the_image_pixel_limit_is_a_400() -> None:
    with pytest.raises(InvalidInputTypeError) as raised:
        _warp(30_000, 30_000)
    assert raised.value.message.endswith(
        "field 'transformed_rect_width': 30000 x 30000 px is more than the 64000000 pixels an "
        "image may have (VISIONFLOW_MAX_IMAGE_PIXELS)"
    )


def test_the_image_pixel_limit_comes_from_the_run() -> None:
    limits = WorkflowLimits(max_image_pixels=81 * 81 - 1)
    budget = RunBudget(limits, deadline=time.monotonic() + 60)
    with pytest.raises(InvalidInputTypeError, match="more than the 6560 pixels"):
        _warp(81, 81, budget)
    [result] = _warp(80, 81, budget)
    warped = result["warped"]
    assert isinstance(warped, WorkflowImage)
    assert warped.pixels_bgr.shape == (81, 80, 3)


def test_corrected_masks_past_their_budget_are_a_400() -> None:
    """Every detection's mask is redrawn at the output size: 100 masks of 64 MP are 6.4 GB."""
    masked = boxes([[20, 20, 60, 60]] * 100)
    masked.mask = np.ones((100, 200, 200), dtype=bool)
    with pytest.raises(InvalidInputTypeError, match="100 masks of 8000 x 8000 px are more than"):
        run(
            [
                model_step("det", "m/1"),
                step(
                    "perspective_correction@v1",
                    "pc",
                    images="$inputs.image",
                    predictions="$steps.det.predictions",
                    perspective_polygons=QUAD,
                    transformed_rect_width=8000,
                    transformed_rect_height=8000,
                ),
            ],
            {"corrected": "$steps.pc.corrected_coordinates"},
            {"image": canvas(200, 200)},
            models=ScriptedModels({"m/1": lambda image: masked}),
        )
