"""``detection_offset``, ``detections_transformation`` (and the new query operations),
``bounding_rect``, ``detections_merge`` and ``detections_combine`` through the executor."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.detections import DETECTION_ID, POLYGON
from visionflow.workflows.errors import InvalidInputTypeError


def _three(image: np.ndarray) -> sv.Detections:
    return boxes(
        [[10, 10, 30, 30], [100, 20, 150, 60], [50, 50, 60, 90]],
        confidence=[0.5, 0.9, 0.7],
        class_ids=[0, 1, 0],
    )


MODELS = ScriptedModels({"m/1": _three})


def _transform(operations: list[dict[str, Any]], **params: Any) -> sv.Detections:
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "detections_transformation@v1",
                "t",
                predictions="$steps.det.predictions",
                operations=operations,
                operations_parameters={name: f"$inputs.{name}" for name in params},
            ),
        ],
        {"out": "$steps.t.predictions"},
        {"image": canvas()},
        {"image": "image", **params},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            *({"type": "WorkflowParameter", "name": name} for name in params),
        ],
        models=MODELS,
    )
    out = result["out"]
    assert isinstance(out, sv.Detections)
    return out


def test_detection_offset_grows_boxes_within_the_image_and_renames_them() -> None:
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "detection_offset@v1",
                "off",
                predictions="$steps.det.predictions",
                offset_width=30,
                offset_height=20,
            ),
        ],
        {"det": "$steps.det.predictions", "off": "$steps.off.predictions"},
        {"image": canvas(160, 100)},
        models=MODELS,
    )
    before, after = result["det"], result["off"]
    assert after.xyxy.tolist() == [[0, 0, 45, 40], [85, 10, 160, 70], [35, 40, 75, 100]]
    assert list(after.data["parent_id"]) == list(before.data[DETECTION_ID])
    assert set(after.data[DETECTION_ID]).isdisjoint(before.data[DETECTION_ID])


def test_detection_offset_in_percent_of_each_box() -> None:
    """As the reference: a percentage of the box's own size (not the image's), half per side,
    truncated to whole pixels (checked against inference 1.8.3, benchmarks/PEER.md)."""
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "detection_offset@v1",
                "off",
                predictions="$steps.det.predictions",
                offset_width=50,
                offset_height=50,
                units="Percent (%)",
            ),
        ],
        {"off": "$steps.off.predictions"},
        {"image": canvas(200, 100)},
        models=MODELS,
    )
    # 20x20 box: 5 px per side; 50x40: int(12.5) = 12 and 10; 10x40: int(2.5) = 2 and 10.
    assert result["off"].xyxy.tolist() == [[5, 5, 35, 35], [88, 10, 162, 70], [48, 40, 62, 100]]


def test_transformation_sorts_selects_and_renames() -> None:
    by_size = _transform([{"type": "SortDetections", "mode": "size", "ascending": False}])
    assert by_size.xyxy[:, 0].tolist() == [100, 50, 10]
    best = _transform([{"type": "DetectionsSelection", "mode": "top_confidence"}])
    assert best.xyxy.tolist() == [[100, 20, 150, 60]]
    left = _transform([{"type": "DetectionsSelection", "mode": "left_most"}])
    assert left.xyxy.tolist() == [[10, 10, 30, 30]]
    renamed = _transform(
        [{"type": "DetectionsRename", "class_map": "mapping", "strict": False}],
        mapping={"a": "person"},
    )
    assert list(renamed.data["class_name"]) == ["person", "b", "person"]
    assert renamed.class_id is not None
    assert renamed.class_id.tolist() == [1024, 1, 1024]
    strict = _transform([{"type": "DetectionsRename", "class_map": {"a": "x", "b": "w"}}])
    assert strict.class_id is not None
    assert (list(strict.data["class_name"]), strict.class_id.tolist()) == (
        ["x", "w", "x"],
        [1, 0, 1],
    )


def test_transformation_offsets_and_shifts() -> None:
    grown = _transform([{"type": "DetectionsOffset", "offset_x": 10, "offset_y": 4}])
    assert grown.xyxy[0].tolist() == [5, 8, 35, 32]
    shifted = _transform([{"type": "DetectionsShift", "shift_x": 5, "shift_y": -5}])
    assert shifted.xyxy[0].tolist() == [15, 5, 35, 25]


def test_transformation_must_yield_detections() -> None:
    with pytest.raises(InvalidInputTypeError, match="must yield detections"):
        _transform([{"type": "SequenceLength"}])


def test_strict_rename_of_an_unmapped_class_is_an_error() -> None:
    with pytest.raises(InvalidInputTypeError, match="not found in class_map"):
        _transform([{"type": "DetectionsRename", "class_map": {"a": "x"}}])


def test_bounding_rect_replaces_masks_by_their_minimum_rotated_rectangle() -> None:
    mask = np.zeros((1, 100, 100), dtype=bool)
    diamond = np.array([[50, 10], [90, 50], [50, 90], [10, 50]], dtype=np.int32)
    mask[0] = sv.polygon_to_mask(diamond, (100, 100)).astype(bool)

    def segment(image: np.ndarray) -> sv.Detections:
        detections = boxes([[10, 10, 90, 90]])
        detections.mask = mask.copy()
        polygon = np.empty(1, dtype=object)
        polygon[0] = diamond.astype(np.float32)
        detections.data[POLYGON] = polygon
        return detections

    [result] = run(
        [
            step(
                "roboflow_instance_segmentation_model@v2",
                "seg",
                images="$inputs.image",
                model_id="s/1",
            ),
            step("bounding_rect@v1", "rect", predictions="$steps.seg.predictions"),
        ],
        {"rect": "$steps.rect.detections_with_rect"},
        {"image": canvas(100, 100)},
        models=ScriptedModels({"s/1": segment}),
    )
    rect = result["rect"]
    assert np.allclose(rect.xyxy, [[10, 10, 90, 90]], atol=2)
    assert abs(float(rect.data["angle"][0]) % 90 - 45) < 1
    side = float(np.hypot(40, 40))
    assert rect.data["width"][0] == pytest.approx(side, rel=0.05)
    assert len(rect.data[POLYGON][0]) == 4
    assert rect.mask is not None
    assert rect.mask[0, 50, 50]
    assert not rect.mask[0, 12, 12]
    # On the wire: the rectangle's corners, size and angle, as the reference writes them.
    [wire] = run(
        [
            step(
                "roboflow_instance_segmentation_model@v2",
                "seg",
                images="$inputs.image",
                model_id="s/1",
            ),
            step("bounding_rect@v1", "rect", predictions="$steps.seg.predictions"),
        ],
        {"rect": "$steps.rect.detections_with_rect"},
        {"image": canvas(100, 100)},
        models=ScriptedModels({"s/1": segment}),
        serialize=True,
    )
    [item] = wire["rect"]["predictions"]
    assert item["rect"] == item["polygon"] == rect.data["rect"][0].astype(int).tolist()
    assert item["width"] == pytest.approx(side, rel=0.05)
    assert item["angle"] == pytest.approx(float(rect.data["angle"][0]))
    assert len(item["points"]) >= 4


def _merged(detect: Any, **fields: Any) -> sv.Detections:
    [result] = run(
        [
            model_step("det", "m/1"),
            step("detections_merge@v1", "merge", predictions="$steps.det.predictions", **fields),
        ],
        {"out": "$steps.merge.predictions"},
        {"image": canvas()},
        models=ScriptedModels({"m/1": detect}),
    )
    merged = result["out"]
    assert isinstance(merged, sv.Detections)
    return merged


def test_detections_merge_boxes_them_all_with_the_lowest_confidence() -> None:
    merged = _merged(_three, class_name="group")
    assert merged.xyxy.tolist() == [[10, 10, 150, 90]]
    assert merged.confidence is not None
    assert merged.confidence.tolist() == [0.5]
    assert merged.class_id is not None
    assert merged.class_id.tolist() == [0]
    assert merged.data["class_name"].tolist() == ["group"]
    [new_id] = merged.data[DETECTION_ID].tolist()
    assert new_id not in _three(canvas()).data[DETECTION_ID].tolist()


def _rich(image: np.ndarray) -> sv.Detections:
    """Two detections with everything a detection can carry: masks, tracker ids, keypoints."""
    detections = boxes([[10, 20, 40, 60], [30, 5, 90, 50]], confidence=[0.8, 0.6])
    detections.mask = np.ones((2, 100, 200), dtype=bool)
    detections.tracker_id = np.array([4, 7])
    detections.data["keypoints_xy"] = np.zeros((2, 1, 2), dtype=np.float32)
    return detections


def test_detections_merge_keeps_only_the_references_fields() -> None:
    """As the reference's ``sv.Detections(xyxy, confidence, class_id, data={class_name,
    detection_id})``: masks, tracker ids, keypoints, parent ids and lineage are all dropped."""
    merged = _merged(_rich)
    assert merged.xyxy.dtype == np.float32
    assert merged.xyxy.tolist() == [[10, 5, 90, 60]]
    assert merged.confidence is not None
    assert merged.confidence.dtype == np.float32
    assert merged.confidence.tolist() == pytest.approx([0.6])
    assert merged.mask is None
    assert merged.tracker_id is None
    assert sorted(merged.data) == ["class_name", "detection_id"]
    assert merged.metadata == {}


def test_detections_merge_without_confidences_has_none() -> None:
    def unscored(image: np.ndarray) -> sv.Detections:
        detections = boxes([[0, 0, 10, 10], [5, 5, 20, 30]])
        detections.confidence = None
        return detections

    merged = _merged(unscored)
    assert merged.confidence is None
    assert merged.xyxy.tolist() == [[0, 0, 20, 30]]


@pytest.mark.parametrize(
    "xyxy",
    [
        pytest.param([], id="empty"),
        pytest.param([[5, 5, 6, 6]], id="one"),
        pytest.param([[-4, 3, 10, 8], [2, -1, 250, 7]], id="past-the-image"),
    ],
)
def test_detections_merge_is_the_union_box(xyxy: list[list[float]]) -> None:
    merged = _merged(lambda image: boxes(xyxy))
    if not xyxy:
        assert len(merged) == 0
        return
    corners = np.array(xyxy, dtype=np.float32)
    expected = [*corners[:, :2].min(axis=0), *corners[:, 2:].max(axis=0)]
    assert merged.xyxy.tolist() == [expected]


def _serialized_merge(image: str = "image", **fields: Any) -> dict[str, Any]:
    [result] = run(
        [
            model_step("det", "m/1"),
            step("detections_merge@v1", "merge", predictions="$steps.det.predictions", **fields),
        ],
        {"out": "$steps.merge.predictions"},
        {"image": canvas(), "blank": canvas()},
        {"image": image},
        models=ScriptedModels({"m/1": _three if image == "image" else lambda i: boxes([])}),
        serialize=True,
    )
    out = result["out"]
    assert isinstance(out, dict)
    return out


def test_detections_merge_serializes_as_the_reference() -> None:
    """Field for field what the reference writes: no ``parent_id``, and an ``image`` of unknown
    size (its merged detection carries no image metadata)."""
    out = _serialized_merge()
    assert out["image"] == {"width": None, "height": None}
    [box] = out["predictions"]
    new_id = box.pop("detection_id")
    assert str(uuid.UUID(new_id)) == new_id
    assert box == {
        "x": 80.0,
        "y": 50.0,
        "width": 140.0,
        "height": 80.0,
        "confidence": 0.5,
        "class": "merged_detection",
        "class_id": 0,
    }


def test_detections_merge_of_nothing_serializes_as_the_reference() -> None:
    out = _serialized_merge("blank")
    assert out == {"image": {"width": None, "height": None}, "predictions": []}


def test_detections_merge_on_crops_stays_in_crop_coordinates() -> None:
    """In ``parent`` coordinates the reference leaves its merged detection where it is (nothing
    says which crop it is on), and so does visionflow."""

    [result] = run(
        [
            step(
                "absolute_static_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=75,
                y_center=50,
                width=50,
                height=40,
            ),
            model_step("det", "m/1", images="$steps.crop.crops"),
            step("detections_merge@v1", "merge", predictions="$steps.det.predictions"),
        ],
        {"out": "$steps.merge.predictions"},
        {"image": canvas()},
        models=ScriptedModels({"m/1": lambda image: boxes([[1, 2, 5, 6]])}),
        serialize=True,
    )
    [box] = result["out"]["predictions"]
    assert (box["x"], box["y"]) == (3.0, 4.0)
    assert "parent_id" not in box


def _combine(one: Any, two: Any) -> sv.Detections:
    [result] = run(
        [
            model_step("one", "m/1"),
            model_step("two", "m/2"),
            step(
                "detections_combine@v1",
                "both",
                prediction_one="$steps.one.predictions",
                prediction_two="$steps.two.predictions",
            ),
        ],
        {"out": "$steps.both.predictions"},
        {"image": canvas()},
        models=ScriptedModels({"m/1": one, "m/2": two}),
    )
    combined = result["out"]
    assert isinstance(combined, sv.Detections)
    return combined


@pytest.mark.parametrize(
    ("one", "two", "expected_x1"),
    [
        pytest.param(3, 1, [10, 100, 50, 5], id="both"),
        pytest.param(0, 1, [5], id="first-empty"),
        pytest.param(3, 0, [10, 100, 50], id="second-empty"),
        pytest.param(0, 0, [], id="empty"),
    ],
)
def test_detections_combine_appends_the_second_to_the_first(
    one: int, two: int, expected_x1: list[float]
) -> None:
    first = _three(canvas())[:one]
    second = boxes([[5, 5, 15, 15]])[:two]
    combined = _combine(lambda image: first, lambda image: second)
    assert combined.xyxy[:, 0].tolist() == expected_x1


def test_detections_combine_of_masks_and_boxes_is_a_400() -> None:
    def masked(image: np.ndarray) -> sv.Detections:
        detections = boxes([[5, 5, 15, 15]])
        detections.mask = np.ones((1, 100, 200), dtype=bool)
        return detections

    with pytest.raises(InvalidInputTypeError, match="cannot be combined with prediction_one"):
        _combine(_three, masked)
