"""``dynamic_crop``, ``per_class_confidence_filter`` and ``semantic_detections`` on hand-made
values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from tests.workflows.fakes import context
from visionflow.core.detections import make_detections
from visionflow.core.results import SemanticSegmentationResult
from visionflow.workflows import StepInputs, WorkflowImage
from visionflow.workflows.blocks.models import semantic_detections
from visionflow.workflows.blocks.transformations import DynamicCropV1
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.lineage import attach_lineage, lineage_of


def _crop_inputs(detections: sv.Detections, opacity: float = 0.0) -> StepInputs:
    image = WorkflowImage.from_input(np.full((40, 60, 3), 200, dtype=np.uint8), "image")
    return StepInputs(
        "crop",
        DynamicCropV1.type,
        {
            "images": image,
            "predictions": attach_lineage(detections, image.lineage),
            "mask_opacity": opacity,
            "background_color": "#000000",
        },
    )


def test_crops_are_clipped_and_empty_boxes_give_none() -> None:
    detections = make_detections(
        np.array([[-5, -5, 10, 10], [50, 30, 70, 50], [20, 20, 20, 30]]),
        np.array([0.9, 0.8, 0.7]),
        np.array([0, 0, 0]),
        ["thing"],
    )
    result = DynamicCropV1().run(_crop_inputs(detections), context())
    assert isinstance(result, list)
    first, second, empty = result
    assert first["crops"].pixels_bgr.shape == (10, 10, 3)
    assert second["crops"].lineage.root_offset_xy == (50, 30)
    assert second["crops"].pixels_bgr.shape == (10, 10, 3)
    assert empty == {"crops": None, "predictions": None}
    local = second["predictions"]
    assert local.xyxy.tolist() == [[0, 0, 20, 20]]
    # As the reference (inference 1.8.3): the crop-local box keeps the provenance of the
    # detection it was moved from, so outputs show it as it is, not mapped back to the image.
    assert lineage_of(local) == lineage_of(detections)
    assert list(local.data["parent_id"]) == ["image"]


def test_mask_opacity_blends_outside_the_mask_towards_the_background() -> None:
    detections = make_detections(np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]), ["a"])
    mask = np.zeros((1, 40, 60), dtype=bool)
    mask[0, :5, :] = True
    detections.mask = mask
    [crop] = DynamicCropV1().run(_crop_inputs(detections, opacity=1.0), context())  # type: ignore[misc]
    pixels = crop["crops"].pixels_bgr
    assert (pixels[:5] == 200).all()
    assert (pixels[5:] == 0).all()


def test_semantic_detections_one_per_present_class() -> None:
    class_ids = np.zeros((4, 6), dtype=np.int32)
    class_ids[1:3, 2:5] = 2
    confidence = np.full((4, 6), 0.5, dtype=np.float32)
    confidence[1:3, 2:5] = 0.8
    result = SemanticSegmentationResult(("background", "road", "car"), class_ids, confidence)
    detections = semantic_detections(result)
    assert list(detections.data["class_name"]) == ["car"]
    assert detections.xyxy.tolist() == [[2, 1, 4, 2]]
    assert detections.confidence is not None
    assert detections.confidence.tolist() == [np.float32(0.8)]
    assert detections.data["rle_mask"][0]["size"] == [4, 6]
    empty = semantic_detections(
        SemanticSegmentationResult(("background",), np.zeros((2, 2), np.int32), confidence[:2, :2])
    )
    assert len(empty) == 0


def _confident(
    thresholds: Any, default: Any = None, confidence: list[float] | None = None
) -> sv.Detections:
    detections = make_detections(
        np.array([[0, 0, 5, 5], [5, 5, 9, 9], [1, 1, 4, 4], [2, 2, 8, 8]], dtype=np.float32),
        np.array(confidence or [0.9, 0.5, 0.3, 0.2], dtype=np.float32),
        np.array([0, 1, 1, 2]),
        ["person", "car", "dog"],
    )
    fields: dict[str, Any] = {"class_thresholds": "$inputs.thresholds"}
    if default is not None:
        fields["default_threshold"] = default
    [result] = run(
        [
            step("roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="m"),
            step(
                "per_class_confidence_filter@v1",
                "filter",
                predictions="$steps.det.predictions",
                **fields,
            ),
        ],
        {"out": "$steps.filter.predictions"},
        {"image": canvas()},
        {"image": "image", "thresholds": thresholds},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "thresholds"},
        ],
        models=ScriptedModels({"m": lambda image: detections}),
    )
    kept = result["out"]
    assert isinstance(kept, sv.Detections)
    return kept


@pytest.mark.parametrize(
    ("thresholds", "default", "kept"),
    [
        pytest.param({}, None, [0.9, 0.5, 0.3], id="default-0.3"),
        pytest.param({"person": 0.95, "car": 0.4}, None, [0.5], id="per-class"),
        pytest.param({"car": 0.5}, 0.1, [0.9, 0.5, 0.2], id="threshold-is-inclusive"),
        pytest.param({"truck": 0.0}, 1.0, [], id="none-kept"),
    ],
)
def test_per_class_confidence_filter(
    thresholds: dict[str, float], default: float | None, kept: list[float]
) -> None:
    result = _confident(thresholds, default)
    assert result.confidence is not None
    assert result.confidence.tolist() == pytest.approx(kept)


def test_per_class_threshold_equal_to_a_float32_score_keeps_it() -> None:
    result = _confident({"person": 0.9}, 0.95, confidence=[0.9, 0.5, 0.3, 0.2])
    assert result.data["class_name"].tolist() == ["person"]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        pytest.param(["person"], "expected a dictionary", id="not-a-dict"),
        pytest.param({"person": "high"}, "expected a number", id="not-a-number"),
        pytest.param({"person": 1.5}, "not within", id="out-of-range"),
    ],
)
def test_per_class_bad_thresholds_are_400s(thresholds: Any, message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _confident(thresholds)
