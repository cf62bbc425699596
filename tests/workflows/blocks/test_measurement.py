"""``mask_area_measurement``, ``size_measurement``, ``distance_measurement`` and
``detections_nearest_neighbor`` on hand-made boxes and masks, empty sets included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from visionflow.workflows.errors import WorkflowError

IMAGES = {"image": canvas(200, 100)}


def _masked(xyxy: list[list[int]], names: tuple[str, ...] = ("a", "b", "c")) -> sv.Detections:
    detections = boxes(xyxy, class_ids=list(range(len(xyxy))), names=names)
    masks = np.zeros((len(xyxy), 100, 200), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(xyxy):
        masks[i, y1:y2, x1:x2] = True
    detections.mask = masks
    return detections


def _seg(name: str, model: str) -> dict[str, Any]:
    return step(
        "roboflow_instance_segmentation_model@v2", name, images="$inputs.image", model_id=model
    )


def _run(
    steps: list[dict[str, Any]], outputs: dict[str, str], answers: dict[str, Any]
) -> dict[str, Any]:
    def answer(detections: Any) -> Any:
        return lambda image: detections

    models = ScriptedModels({m: answer(a) for m, a in answers.items()})
    return run(steps, outputs, IMAGES, models=models, serialize=False)[0]


def test_mask_area_counts_mask_pixels_and_converts() -> None:
    detections = _masked([[10, 10, 20, 30], [50, 50, 60, 60]])
    detections.mask[0, 10:12, 10:12] = False  # a hole of 4 px
    result = _run(
        [
            _seg("seg", "m/1"),
            step(
                "mask_area_measurement@v1",
                "area",
                predictions="$steps.seg.predictions",
                pixels_per_unit=2.0,
            ),
        ],
        {"p": "$steps.area.predictions"},
        {"m/1": detections},
    )
    assert result["p"].data["area_px"].tolist() == [196.0, 100.0]
    assert result["p"].data["area_converted"].tolist() == [49.0, 25.0]
    empty = _run(
        [
            _seg("seg", "m/1"),
            step("mask_area_measurement@v1", "area", predictions="$steps.seg.predictions"),
        ],
        {"p": "$steps.area.predictions"},
        {"m/1": _masked([])},
    )
    assert len(empty["p"]) == 0


def test_size_measurement_scales_by_the_most_confident_reference() -> None:
    reference = boxes([[0, 0, 10, 20], [0, 0, 50, 50]], [0.9, 0.5])
    objects = boxes([[0, 0, 30, 40], [5, 5, 5, 9]])
    steps = [
        step("roboflow_object_detection_model@v2", "ref", images="$inputs.image", model_id="r/1"),
        step("roboflow_object_detection_model@v2", "obj", images="$inputs.image", model_id="o/1"),
        step(
            "size_measurement@v1",
            "size",
            object_predictions="$steps.obj.predictions",
            reference_predictions="$steps.ref.predictions",
            reference_dimensions="5,10",
        ),
    ]
    result = _run(steps, {"d": "$steps.size.dimensions"}, {"r/1": reference, "o/1": objects})
    assert result["d"] == [{"width": 15.0, "height": 20.0, "longer": 20.0, "shorter": 15.0}, None]
    steps[2]["reference_dimensions"] = [5, 10, 3]
    with pytest.raises(WorkflowError, match="reference_dimensions"):
        _run(steps, {"d": "$steps.size.dimensions"}, {"r/1": reference, "o/1": objects})


def test_size_measurement_with_a_reference_polygon_and_rotated_masks() -> None:
    objects = _masked([[10, 10, 50, 30]])
    steps = [
        _seg("obj", "o/1"),
        step(
            "size_measurement@v1",
            "size",
            object_predictions="$steps.obj.predictions",
            reference_predictions=[[0, 0], [20, 0], [20, 10], [0, 10]],
            reference_dimensions=[2, 1],
        ),
    ]
    result = _run(steps, {"d": "$steps.size.dimensions"}, {"o/1": objects})
    [size] = result["d"]
    assert size["width"] == pytest.approx(39 / 10, abs=0.01)
    assert size["height"] == pytest.approx(19 / 10, abs=0.01)


@pytest.mark.parametrize(
    ("method", "axis", "expected"),
    [
        ("pixel to centimeter", "horizontal", (0.5, 50)),
        ("reference object", "horizontal", (50 / 8, 50)),
        ("pixel to centimeter", "vertical", (0, 0)),  # they overlap vertically
    ],
)
def test_distance_between_two_classes(method: str, axis: str, expected: tuple[float, int]) -> None:
    detections = boxes(
        [[10, 10, 30, 30], [80, 20, 100, 40], [150, 50, 170, 70]],
        class_ids=[0, 1, 2],
        names=("left", "right", "reference-object"),
    )
    steps = [
        step("roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="m/1"),
        step(
            "distance_measurement@v1",
            "dist",
            predictions="$steps.det.predictions",
            object_1_class_name="left",
            object_2_class_name="right",
            reference_axis=axis,
            calibration_method=method,
            reference_width=2.5,
            reference_height=2.5,
        ),
    ]
    result = _run(
        steps,
        {"cm": "$steps.dist.distance_cm", "px": "$steps.dist.distance_pixel"},
        {"m/1": detections},
    )
    assert (result["cm"], result["px"]) == (pytest.approx(expected[0]), expected[1])


def test_distance_without_the_classes_is_a_clear_error() -> None:
    steps = [
        step("roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="m/1"),
        step(
            "distance_measurement@v1",
            "dist",
            predictions="$steps.det.predictions",
            object_1_class_name="left",
            object_2_class_name="right",
            reference_axis="horizontal",
            calibration_method="pixel to centimeter",
        ),
    ]
    with pytest.raises(WorkflowError, match="'left' or 'right'"):
        _run(steps, {"px": "$steps.dist.distance_pixel"}, {"m/1": boxes([])})


def test_nearest_neighbor_matches_each_query_excluding_itself() -> None:
    people = boxes([[0, 0, 10, 10], [100, 0, 110, 10], [190, 90, 200, 100]])
    helmets = boxes([[2, 0, 12, 8], [140, 0, 150, 10]])
    steps = [
        step("roboflow_object_detection_model@v2", "q", images="$inputs.image", model_id="q/1"),
        step("roboflow_object_detection_model@v2", "t", images="$inputs.image", model_id="t/1"),
        step(
            "detections_nearest_neighbor@v1",
            "nn",
            query_predictions="$steps.q.predictions",
            target_predictions="$steps.t.predictions",
            max_distance=50,
        ),
    ]
    outputs = {
        "q": "$steps.nn.query_predictions",
        "mq": "$steps.nn.matched_query_detections",
        "mt": "$steps.nn.matched_target_detections",
    }
    result = _run(steps, outputs, {"q/1": people, "t/1": helmets})
    distances = result["q"].data["nearest_target_distance"].tolist()
    assert distances[0] == pytest.approx(np.hypot(2, 1))
    assert distances[1] == pytest.approx(40.0)
    assert distances[2] is None  # nothing within 50 px
    assert result["mq"].xyxy[:, 0].tolist() == [0, 100]
    assert result["mt"].xyxy[:, 0].tolist() == [2, 140]
    # The same set on both sides: a detection never matches itself.
    steps[2]["target_predictions"] = "$steps.q.predictions"
    steps[2]["max_distance"] = None
    same = _run(steps, outputs, {"q/1": people, "t/1": helmets})
    assert same["mt"].xyxy[:, 0].tolist() == [100, 0, 100]
    none = _run(steps, outputs, {"q/1": boxes([]), "t/1": helmets})
    assert len(none["mq"]) == 0
