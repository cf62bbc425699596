"""``perspective_correction`` through the executor: a tilted square mapped onto a rectangle."""

from __future__ import annotations

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import WorkflowImage
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
