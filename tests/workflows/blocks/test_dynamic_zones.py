"""``dynamic_zone``: polygons with the required vertex count from instance masks (the reference's
answers for a rectangle, a hexagon and a clipped diamond), padding / cutting when the count
cannot be met, least-squares corners, scaling about the centroid, the regenerated masks, the
empty and mask-less cases, and a segmentation -> zone -> perspective correction workflow."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from visionflow.core.detections import POLYGON
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.dynamic_zones import DynamicZoneV1
from visionflow.workflows.errors import InvalidInputTypeError

CONTEXT = RunContext(models=ScriptedModels())
SHAPE_HW = (100, 120)


def _masked(*polygons: list[list[int]]) -> sv.Detections:
    detections = boxes([[0, 0, 1, 1]] * len(polygons))
    masks = np.zeros((len(polygons), *SHAPE_HW), dtype=np.uint8)
    for index, polygon in enumerate(polygons):
        cv2.fillPoly(masks[index], [np.array(polygon, dtype=np.int32)], 1)
    detections.mask = masks.astype(bool)
    return detections


RECTANGLE = [[30, 20], [89, 20], [89, 59], [30, 59]]
HEXAGON = [[60, 10], [95, 30], [95, 70], [60, 90], [25, 70], [25, 30]]
CLIPPED_DIAMOND = [[56, 14], [64, 14], [100, 50], [60, 90], [20, 50]]


def _zone(detections: sv.Detections, vertices: int, **settings: Any) -> dict[str, Any]:
    values = {
        "predictions": detections,
        "required_number_of_vertices": vertices,
        "scale_ratio": 1,
        "apply_least_squares": False,
        "midpoint_fraction": 1,
        **settings,
    }
    result = DynamicZoneV1().run(StepInputs("zone", "t", values), CONTEXT)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    ("polygon", "vertices", "settings", "zone", "converged"),
    [
        pytest.param(
            RECTANGLE, 4, {}, [[30, 20], [30, 59], [89, 59], [89, 20]], True, id="rectangle"
        ),
        pytest.param(
            RECTANGLE, 3, {}, [[30, 20], [30, 59], [89, 59]], False, id="rectangle-cut-to-3"
        ),
        pytest.param(
            RECTANGLE,
            6,
            {},
            [[30, 20], [30, 59], [89, 59], [89, 20], [89, 20], [89, 20]],
            False,
            id="rectangle-padded-to-6",
        ),
        pytest.param(
            RECTANGLE,
            4,
            {"scale_ratio": 2.0},  # about the centroid (59.5, 39.5), rounded half to even
            [[0, 0], [0, 78], [118, 78], [118, 0]],
            True,
            id="scaled",
        ),
        pytest.param(
            HEXAGON,
            4,
            {},
            [[60, 10], [25, 30], [60, 90], [95, 70]],
            True,
            id="hexagon-to-4",
        ),
        pytest.param(
            CLIPPED_DIAMOND,
            4,
            {},
            [[64, 14], [20, 50], [60, 90], [100, 50]],
            True,
            id="clipped-diamond",
        ),
        pytest.param(
            CLIPPED_DIAMOND,
            4,
            {"apply_least_squares": True, "midpoint_fraction": 0.6},
            # The two upper edges' fitted lines meet near the clipped-off corner (60, 10).
            [[62, 12], [20, 50], [60, 90], [100, 50]],
            True,
            id="least-squares-corner",
        ),
    ],
)
def test_zones_are_the_references(
    polygon: list[list[int]],
    vertices: int,
    settings: dict[str, Any],
    zone: list[list[int]],
    converged: bool,
) -> None:
    result = _zone(_masked(polygon), vertices, **settings)
    assert result["zones"] == [zone]
    assert result["simplification_converged"] is converged
    [outline] = result["predictions"].data[POLYGON]
    assert outline.tolist() == zone


def test_predictions_get_the_zone_as_mask() -> None:
    result = _zone(_masked(RECTANGLE, HEXAGON), 3)
    predictions = result["predictions"]
    assert len(predictions) == 2
    assert predictions.mask.shape == (2, *SHAPE_HW)
    assert int(predictions.mask[0].sum()) == 1230  # the filled triangle of 3 rectangle corners
    assert len(result["zones"]) == 2


def test_detections_without_masks_give_no_zones() -> None:
    assert _zone(boxes([[0, 0, 10, 10]]), 4) == {
        "zones": [],
        "predictions": None,
        "simplification_converged": False,
    }


def test_no_detections() -> None:
    empty = boxes([])
    empty.mask = np.zeros((0, *SHAPE_HW), dtype=bool)
    result = _zone(empty, 4)
    assert (result["zones"], len(result["predictions"])) == ([], 0)
    assert result["simplification_converged"] is True


def test_an_empty_mask_is_a_clear_error() -> None:
    detections = boxes([[0, 0, 10, 10]])
    detections.mask = np.zeros((1, *SHAPE_HW), dtype=bool)
    with pytest.raises(InvalidInputTypeError, match="empty mask"):
        _zone(detections, 4)


def test_zone_feeds_perspective_correction_in_a_workflow() -> None:
    court = _masked(RECTANGLE)
    court.data[POLYGON] = np.array([np.array(RECTANGLE, np.float32)], dtype=object)
    players = boxes([[40, 30, 50, 40], [100, 70, 110, 80]])

    def answer(image: np.ndarray) -> sv.Detections:
        return court

    models = ScriptedModels({"court/1": answer, "players/1": lambda image: players})
    [result] = run(
        [
            step(
                "roboflow_instance_segmentation_model@v2",
                "court",
                images="$inputs.image",
                model_id="court/1",
            ),
            step(
                "dynamic_zone@v1",
                "zone",
                predictions="$steps.court.predictions",
                required_number_of_vertices=4,
            ),
            step(
                "roboflow_object_detection_model@v2",
                "players",
                images="$inputs.image",
                model_id="players/1",
            ),
            step(
                "perspective_correction@v1",
                "flat",
                images="$inputs.image",
                predictions="$steps.players.predictions",
                perspective_polygons="$steps.zone.zones",
                transformed_rect_width=590,
                transformed_rect_height=390,
            ),
        ],
        {"zones": "$steps.zone.zones", "flat": "$steps.flat.corrected_coordinates"},
        {"image": canvas(*SHAPE_HW[::-1])},
        models=models,
        serialize=True,
    )
    assert result["zones"] == [[[30, 20], [30, 59], [89, 59], [89, 20]]]
    flat = [(p["x"], p["y"]) for p in result["flat"]["predictions"]]
    # The zone maps onto the 590 x 390 rectangle: ~10x the offsets from its corner (30, 20).
    assert flat == [(150.0, 149.5), (749.0, 548.5)]
