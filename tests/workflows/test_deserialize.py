"""Batch inputs declared with kinds are read as the reference reads them: detections JSON
becomes ``sv.Detections`` (boxes, masks, keypoints, lineage), classifications are checked and
completed, scalars checked; a bad payload is a 400 naming the input."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import run, step
from visionflow.core.detections import (
    CLASS_NAME,
    DETECTION_ID,
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    PARENT_ID,
)
from visionflow.core.masks import mask_to_rle
from visionflow.workflows.deserialize import deserialize_input
from visionflow.workflows.deserialize_detections import detections_from_wire
from visionflow.workflows.errors import RuntimeInputError
from visionflow.workflows.lineage import lineage_of
from visionflow.workflows.serialize import serialize_value

BOX = {
    "x": 50.0,
    "y": 40.0,
    "width": 20.0,
    "height": 10.0,
    "confidence": 0.9,
    "class": "car",
    "class_id": 2,
    "detection_id": "d-1",
}


def _wire(*predictions: dict[str, Any], width: int = 100, height: int = 80) -> dict[str, Any]:
    return {"image": {"width": width, "height": height}, "predictions": list(predictions)}


def test_boxes() -> None:
    detections = detections_from_wire("dets", _wire(BOX, {**BOX, "detection_id": None}))
    assert detections.xyxy.tolist() == [[40.0, 35.0, 60.0, 45.0]] * 2
    assert detections.confidence is not None
    assert detections.confidence.tolist() == pytest.approx([0.9, 0.9])
    assert detections.class_id is not None
    assert detections.class_id.tolist() == [2, 2]
    assert list(detections.data[CLASS_NAME]) == ["car", "car"]
    assert detections.data[DETECTION_ID][0] == "d-1"
    assert len(detections.data[DETECTION_ID][1]) == 36  # a new uuid4 where none is given
    assert list(detections.data[PARENT_ID]) == ["dets", "dets"]
    lineage = lineage_of(detections)
    assert lineage is not None
    assert (lineage.image_id, lineage.size_wh, lineage.is_root) == ("dets", (100, 80), True)
    assert detections.mask is None


def test_empty() -> None:
    detections = detections_from_wire("dets", _wire())
    assert len(detections) == 0
    assert serialize_value(detections) == {"image": {"width": 100, "height": 80}, "predictions": []}
    nulls = detections_from_wire(
        "dets", {"image": {"width": None, "height": None}, "predictions": []}
    )
    assert len(nulls) == 0


def test_polygons_become_masks_and_short_ones_are_dropped() -> None:
    square = [{"x": 10, "y": 10}, {"x": 19, "y": 10}, {"x": 19, "y": 19}, {"x": 10, "y": 19}]
    detections = detections_from_wire(
        "dets", _wire({**BOX, "points": square}, {**BOX, "points": square[:2]})
    )
    assert len(detections) == 1
    assert detections.mask is not None
    assert detections.mask.shape == (1, 80, 100)
    assert int(detections.mask[0].sum()) == 100
    assert detections.mask[0, 10:20, 10:20].all()


def test_rle_masks() -> None:
    mask = np.zeros((80, 100), dtype=bool)
    mask[5:15, 30:50] = True
    detections = detections_from_wire("dets", _wire({**BOX, "rle": mask_to_rle(mask)}))
    assert detections.mask is not None
    assert np.array_equal(detections.mask[0], mask)


def test_semantic_segmentation_keeps_its_rle_masks() -> None:
    mask = np.zeros((80, 100), dtype=bool)
    mask[0:40, :] = True
    rle = mask_to_rle(mask)
    wire = _wire({**BOX, "rle_mask": rle})
    detections = deserialize_input("seg", "seg", ["semantic_segmentation_prediction"], wire)
    assert detections.mask is None
    assert detections.data["rle_mask"][0] == rle
    [written] = serialize_value(detections)["predictions"]
    assert written["rle_mask"] == rle


def test_keypoints_are_padded() -> None:
    one = {"x": 1, "y": 2, "confidence": 0.5, "class": "nose", "class_id": 0}
    two = {"x": 3, "y": 4, "confidence": 0.7, "class": "eye", "class_id": 1}
    detections = detections_from_wire(
        "dets", _wire({**BOX, "keypoints": [one, two]}, {**BOX, "keypoints": [two]})
    )
    assert detections.data[KEYPOINTS_XY].tolist() == [[[1, 2], [3, 4]], [[3, 4], [0, 0]]]
    assert np.allclose(detections.data[KEYPOINTS_CONFIDENCE], [[0.5, 0.7], [0.7, 0]])
    assert list(detections.data[KEYPOINTS_CLASS_NAME]) == [["nose", "eye"], ["eye", ""]]


def test_crop_provenance_and_block_values_round_trip() -> None:
    on_crop = {
        **BOX,
        "parent_id": "crop-1",
        "parent_origin": {"offset_x": 200, "offset_y": 100, "width": 640, "height": 480},
        "root_parent_id": "image",
        "root_parent_origin": {"offset_x": 200, "offset_y": 100, "width": 640, "height": 480},
        "tracker_id": 7,
        "time_in_zone": 1.5,
        "velocity": [1.0, 2.0],
    }
    wire = _wire(on_crop)
    detections = detections_from_wire("dets", wire)
    lineage = lineage_of(detections)
    assert lineage is not None
    assert (lineage.image_id, lineage.root_offset_xy, lineage.root_id) == (
        "crop-1",
        (200, 100),
        "image",
    )
    assert detections.tracker_id is not None
    assert detections.tracker_id.tolist() == [7]
    [written] = serialize_value(detections)["predictions"]
    assert {key: written[key] for key in on_crop} == on_crop


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param([BOX], "must be an object with 'image' and 'predictions'", id="list"),
        pytest.param({"predictions": []}, "with 'image' and 'predictions'", id="no-image"),
        pytest.param(
            {"image": {}, "predictions": {}}, "must be a list of objects", id="dict-preds"
        ),
        pytest.param(_wire({**BOX, "x": "5"}), "prediction 0: 'x' must be a number", id="bad-x"),
        pytest.param(_wire({**BOX, "class": None}), "'class' name", id="no-class"),
        pytest.param(
            {"image": {"width": 0, "height": 5}, "predictions": [BOX]},
            "positive integer",
            id="size",
        ),
        pytest.param(
            _wire({**BOX, "time_in_zone": 1}, BOX),
            "prediction 1: 'time_in_zone' is missing",
            id="ragged",
        ),
        pytest.param(
            _wire({**BOX, "rle": {"size": [8, 8], "counts": [64]}}),
            "is not the image's",
            id="rle-size",
        ),
    ],
)
def test_bad_detections(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detections_from_wire("dets", value)


@pytest.mark.parametrize(
    ("kinds", "value", "expected"),
    [
        pytest.param(["float"], 3, 3.0, id="float-from-int"),
        pytest.param(["float_zero_to_one"], 0.5, 0.5, id="zero-to-one"),
        pytest.param(["integer"], 4, 4, id="integer"),
        pytest.param(["boolean"], False, False, id="boolean"),
        pytest.param(["string"], "a", "a", id="string"),
        pytest.param(["list_of_values"], ("a", 1), ["a", 1], id="list"),
        pytest.param(["point"], [1, 2, 3], (1, 2), id="point"),
        pytest.param(["zone"], [[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 0], [1, 1]], id="zone"),
        pytest.param(["rgb_color"], [1, 2, 3, 4], (1, 2, 3), id="color"),
        pytest.param(["rgb_color"], "#FF0000", "#FF0000", id="color-text"),
        pytest.param(["bytes"], base64.b64encode(b"hi").decode(), b"hi", id="bytes"),
        pytest.param(
            ["timestamp"], "2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5), id="time"
        ),
        pytest.param(["embedding"], [0.1, 0.2], [0.1, 0.2], id="embedding-as-is"),
        pytest.param(["*"], {"any": 1}, {"any": 1}, id="wildcard-as-is"),
        pytest.param(["integer", "string"], "x", "x", id="second-kind-accepts"),
        pytest.param(
            ["labeled_points"], [[1, 2, 0]], [{"x": 1, "y": 2, "positive": False}], id="lp"
        ),
        pytest.param(["roboflow_api_key"], None, None, id="none"),
    ],
)
def test_scalar_kinds(kinds: list[str], value: Any, expected: Any) -> None:
    assert deserialize_input("v", "v", kinds, value) == expected


def test_numpy_array() -> None:
    array = deserialize_input("v", "v", ["numpy_array"], [[1, 2], [3, 4]])
    assert isinstance(array, np.ndarray)
    assert array.shape == (2, 2)


def test_classification_is_checked_and_completed() -> None:
    body = {"image": {"width": 1, "height": 1}, "predictions": [], "top": "cat", "confidence": 0.9}
    read = deserialize_input("cls", "cls.[0]", ["classification_prediction"], body)
    assert read["parent_id"] == read["root_parent_id"] == "cls.[0]"
    assert read["prediction_type"] == "classification"
    assert "inference_id" not in body  # the given dict is not changed
    with pytest.raises(RuntimeInputError, match="needs 'predicted_classes', or 'top'"):
        deserialize_input(
            "cls", "cls", ["classification_prediction"], {"image": {}, "predictions": []}
        )


def test_error_names_the_input_and_each_kind() -> None:
    with pytest.raises(RuntimeInputError) as caught:
        deserialize_input("v", "v.[1]", ["integer", "float_zero_to_one"], 1.5)
    error = caught.value
    assert error.status_code == 400
    assert str(error) == (
        "Workflow input 'v.[1]' could not be read as any of its declared kinds: kind 'integer': "
        "expected an integer, got float; kind 'float_zero_to_one': expected a number in "
        "[0.0, 1.0], got 1.5"
    )


DETS_INPUT = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
]


def test_a_detections_block_runs_on_a_detections_input() -> None:
    small = {**BOX, "width": 2.0, "height": 2.0, "detection_id": "small"}
    [result] = run(
        [
            step(
                "detections_filter@v1",
                "big",
                predictions="$inputs.dets",
                operations=[
                    {
                        "type": "DetectionsFilter",
                        "filter_operation": {
                            "type": "StatementGroup",
                            "statements": [
                                {
                                    "type": "BinaryStatement",
                                    "left_operand": {
                                        "type": "DynamicOperand",
                                        "operations": [
                                            {
                                                "type": "ExtractDetectionProperty",
                                                "property_name": "size",
                                            }
                                        ],
                                    },
                                    "comparator": {"type": "(Number) >="},
                                    "right_operand": {"type": "StaticOperand", "value": 100},
                                }
                            ],
                        },
                    }
                ],
            )
        ],
        {"kept": "$steps.big.predictions"},
        {"scene": np.zeros((80, 100, 3), dtype=np.uint8)},
        {"image": "scene", "dets": _wire(BOX, small)},
        declared=DETS_INPUT,
        serialize=True,
    )
    assert [p["detection_id"] for p in result["kept"]["predictions"]] == ["d-1"]
    assert result["kept"]["predictions"][0]["parent_id"] == "dets"


def test_a_batch_of_detections_is_read_element_by_element() -> None:
    results = run(
        [
            step(
                "property_definition@v1",
                "count",
                data="$inputs.dets",
                operations=[{"type": "SequenceLength"}],
            )
        ],
        {"n": "$steps.count.output"},
        {"scene": np.zeros((80, 100, 3), dtype=np.uint8)},
        {"image": ["scene", "scene"], "dets": [_wire(BOX), _wire()]},
        declared=DETS_INPUT,
    )
    assert [r["n"] for r in results] == [1, 0]


def test_a_bad_detections_input_is_a_400_naming_it() -> None:
    with pytest.raises(RuntimeInputError) as caught:
        run(
            [
                step(
                    "property_definition@v1",
                    "count",
                    data="$inputs.dets",
                    operations=[{"type": "SequenceLength"}],
                )
            ],
            {"n": "$steps.count.output"},
            {"scene": np.zeros((80, 100, 3), dtype=np.uint8)},
            {"image": ["scene", "scene"], "dets": [_wire(BOX), {"predictions": []}]},
            declared=DETS_INPUT,
        )
    assert caught.value.status_code == 400
    assert "Workflow input 'dets.[1]'" in str(caught.value)
    assert caught.value.blocks_errors[0].property_name == "inputs.dets"


def test_detections_pass_through_unchanged() -> None:
    given = sv.Detections.empty()
    assert deserialize_input("d", "d", ["object_detection_prediction"], given) is given


def test_embeddings_pass_as_they_are_to_cosine_similarity() -> None:
    declared = [
        {"type": "WorkflowBatchInput", "name": "a", "kind": ["embedding"]},
        {"type": "WorkflowBatchInput", "name": "b", "kind": ["embedding"]},
    ]
    results = run(
        [step("cosine_similarity@v1", "cos", embedding_1="$inputs.a", embedding_2="$inputs.b")],
        {"s": "$steps.cos.similarity"},
        {},
        {"a": [[1.0, 0.0], [1.0, 1.0]], "b": [[0.0, 1.0]]},
        declared=declared,
    )
    assert [r["s"] for r in results] == pytest.approx([0.0, 0.5**0.5])


def test_instance_masks_feed_mask_area() -> None:
    square = [{"x": 10, "y": 10}, {"x": 29, "y": 10}, {"x": 29, "y": 29}, {"x": 10, "y": 29}]
    [result] = run(
        [step("mask_area_measurement@v1", "area", predictions="$inputs.masks")],
        {"out": "$steps.area.predictions"},
        {},
        {"masks": _wire({**BOX, "points": square})},
        declared=[
            {
                "type": "WorkflowBatchInput",
                "name": "masks",
                "kind": ["instance_segmentation_prediction"],
            }
        ],
        serialize=True,
    )
    [prediction] = result["out"]["predictions"]
    assert prediction["area_px"] == 400.0
    # The mask's outline, as the reference writes a polygon input back.
    assert prediction["points"] == [
        {"x": 10.0, "y": 10.0},
        {"x": 10.0, "y": 29.0},
        {"x": 29.0, "y": 29.0},
        {"x": 29.0, "y": 10.0},
    ]
