"""``stitch_images``: two overlapping crops of a textured scene give the scene back (either
order), the stitched image's id names both; images without usable matches, a single neighbour
per keypoint and a panorama past the pixel limit; and the block in a workflow."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from tests.support.panorama import LEFT, RIGHT, SCENE
from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.stitching import StitchImagesV1
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.limits import RunBudget, WorkflowLimits
from visionflow.workflows.lineage import WorkflowImage

DOT = cv2.circle(canvas(240, 200, 128), (120, 100), 20, (0, 0, 255), -1)


def _stitch(
    first: np.ndarray, second: np.ndarray, context: RunContext | None = None, **values: Any
) -> Any:
    fields = {
        "image1": WorkflowImage.from_input(first, "left"),
        "image2": WorkflowImage.from_input(second, "right"),
        "max_allowed_reprojection_error": 3,
        "count_of_best_matches_per_query_descriptor": 2,
        **values,
    }
    result = StitchImagesV1().run(
        StepInputs("stitch", "t", fields), context or RunContext(models=ScriptedModels())
    )
    assert isinstance(result, dict)
    return result["stitched_image"]


@pytest.mark.parametrize(
    ("first", "second"), [pytest.param(LEFT, RIGHT, id="left-right"), (RIGHT, LEFT)]
)
def test_overlapping_crops_give_the_scene_back(first: np.ndarray, second: np.ndarray) -> None:
    stitched = _stitch(first, second)
    assert stitched.pixels_bgr.shape == SCENE.shape
    difference = np.abs(stitched.pixels_bgr.astype(int) - SCENE.astype(int))
    assert np.median(difference) == 0  # the warped half is resampled, the other pasted as is
    assert np.mean(difference) < 1
    assert stitched.lineage.image_id == "left + right"


@pytest.mark.parametrize(
    ("first", "second", "values"),
    [
        pytest.param(canvas(), canvas(), {}, id="no-keypoints"),
        pytest.param(LEFT, RIGHT, {"count_of_best_matches_per_query_descriptor": 1}, id="k-1"),
        pytest.param(LEFT, DOT, {}, id="too-few-matches"),
    ],
)
def test_images_that_cannot_be_stitched_give_none(
    first: np.ndarray, second: np.ndarray, values: dict[str, Any]
) -> None:
    assert _stitch(first, second, **values) is None


def test_zero_neighbours_is_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="greater than 0"):
        _stitch(LEFT, RIGHT, count_of_best_matches_per_query_descriptor=0)


def test_a_panorama_past_the_pixel_limit_is_a_400() -> None:
    limits = WorkflowLimits(max_image_pixels=200 * 300)
    context = RunContext(models=ScriptedModels(), budget=RunBudget(limits=limits))
    with pytest.raises(InvalidInputTypeError, match="VISIONFLOW_MAX_IMAGE_PIXELS"):
        _stitch(LEFT, RIGHT, context)


def test_stitching_in_a_workflow() -> None:
    [result] = run(
        [step("stitch_images@v1", "stitch", image1="$inputs.left", image2="$inputs.right")],
        {"panorama": "$steps.stitch.stitched_image"},
        {"left": LEFT, "right": RIGHT},
        {"left": "left", "right": "right"},
        declared=[
            {"type": "WorkflowImage", "name": "left"},
            {"type": "WorkflowImage", "name": "right"},
        ],
    )
    assert result["panorama"].pixels_bgr.shape == SCENE.shape
