"""``detections_list_rollup``: crop results moved by the parent boxes' integer corners and merged
per class — boxes into their enclosing box (any overlap, or IoU over a threshold), masks into
their union, keypoint detections into their mean — with max / mean / min confidence; the crop
zones; the empty and mismatched cases; and the crop → model → collapse → roll-up workflow."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.detections import (
    CLASS_NAME,
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    PARENT_ID,
    POLYGON,
)
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.rollup import DetectionsListRollupV1
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.limits import RunBudget, WorkflowLimits
from visionflow.workflows.lineage import Lineage, attach_lineage

CONTEXT = RunContext(models=ScriptedModels())
SIZE_WH = (120, 90)


def _parent(xyxy: list[list[float]]) -> sv.Detections:
    return attach_lineage(boxes(xyxy), Lineage.for_input("image", SIZE_WH))


# Crop 1 at (10, 20); crop 2 at (40, 20): its box starts at 40.5, 20.25, truncated.
PARENT = _parent([[10, 20, 50, 60], [40.5, 20.25, 90, 60]])
CHILDREN = [
    boxes([[25, 5, 35, 15]], [0.6], [0]),
    boxes([[0, 5, 10, 15], [20, 20, 30, 30]], [0.9, 0.5], [0, 1]),
]


def _rollup(
    parent: sv.Detections, children: list[Any], strategy: str = "max", threshold: float = 0.0
) -> dict[str, Any]:
    values = {
        "parent_detection": parent,
        "child_detections": children,
        "confidence_strategy": strategy,
        "overlap_threshold": threshold,
        "keypoint_merge_threshold": 10.0,
    }
    result = DetectionsListRollupV1().run(StepInputs("rollup", "t", values), CONTEXT)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(("strategy", "confidence"), [("max", 0.9), ("mean", 0.75), ("min", 0.6)])
def test_overlapping_boxes_of_a_class_merge(strategy: str, confidence: float) -> None:
    result = _rollup(PARENT, CHILDREN, strategy)
    merged = result["rolled_up_detections"]
    # [35, 25, 45, 35] (crop 1) and [40, 25, 50, 35] (crop 2) overlap; the class-1 box stays.
    assert merged.xyxy.tolist() == [[35, 25, 50, 35], [60, 40, 70, 50]]
    assert merged.confidence.tolist() == pytest.approx([confidence, 0.5])
    assert merged.class_id.tolist() == [0, 1]
    assert list(merged.data[CLASS_NAME]) == ["a", "b"]
    assert list(merged.data[PARENT_ID]) == ["image", "image"]
    assert result["crop_zones"] == [
        [(10.0, 20.0), (50.0, 20.0), (50.0, 60.0), (10.0, 60.0)],
        [(40.5, 20.25), (90.0, 20.25), (90.0, 60.0), (40.5, 60.0)],
    ]


def test_an_overlap_threshold_keeps_boxes_apart() -> None:
    # IoU 50 / 150: merged at 0.3, not at 0.5.
    assert len(_rollup(PARENT, CHILDREN, threshold=0.3)["rolled_up_detections"]) == 2
    kept = _rollup(PARENT, CHILDREN, threshold=0.5)["rolled_up_detections"]
    assert kept.xyxy.tolist() == [[35, 25, 45, 35], [40, 25, 50, 35], [60, 40, 70, 50]]


def _with_mask(detections: sv.Detections, crop_hw: tuple[int, int]) -> sv.Detections:
    masks = np.zeros((len(detections), *crop_hw), dtype=bool)
    for index, (x1, y1, x2, y2) in enumerate(detections.xyxy.astype(int)):
        masks[index, y1:y2, x1:x2] = True
    detections.mask = masks
    return detections


def test_overlapping_masks_merge_into_their_union() -> None:
    children = [
        _with_mask(boxes([[25, 5, 35, 15]], [0.6]), (40, 40)),
        _with_mask(boxes([[0, 5, 10, 15], [20, 20, 30, 30]], [0.9, 0.5], [0, 1]), (40, 49)),
    ]
    merged = _rollup(PARENT, children)["rolled_up_detections"]
    assert merged.mask.shape == (2, 90, 120)  # the parent image's size
    assert merged.mask[0].sum() == 100 + 100 - 50
    assert merged.xyxy.tolist() == [[35, 25, 50, 35], [60, 40, 70, 50]]
    assert merged.data[POLYGON][0].tolist() == [[35, 25], [35, 34], [49, 34], [49, 25]]


def test_close_keypoint_detections_merge_into_their_mean() -> None:
    def keypoints(xy: list[list[float]], score: float) -> sv.Detections:
        detections = boxes([[0, 0, 10, 10]], [score])
        detections.data[KEYPOINTS_XY] = np.array([xy], dtype=np.float32)
        detections.data[KEYPOINTS_CONFIDENCE] = np.array([[0.5, 1.0]], dtype=np.float32)
        detections.data[KEYPOINTS_CLASS_NAME] = np.array([["nose", "eye"]], dtype=object)
        return detections

    parent = _parent([[0, 0, 20, 20], [2, 0, 30, 20]])
    # In the parent: (1, 1), (5, 5) and (3, 1), (5, 7): 2 px apart on average, under 10.
    children = [keypoints([[1, 1], [5, 5]], 0.6), keypoints([[1, 1], [3, 7]], 0.8)]
    merged = _rollup(parent, children, "mean")["rolled_up_detections"]
    assert len(merged) == 1
    assert merged.data[KEYPOINTS_XY].tolist() == [[[2, 1], [5, 6]]]
    assert merged.xyxy.tolist() == [[1, 0, 11, 10]]
    assert merged.confidence.tolist() == pytest.approx([0.7])
    assert list(merged.data[KEYPOINTS_CLASS_NAME][0]) == ["nose", "eye"]


@pytest.mark.parametrize(
    "children",
    [
        pytest.param([sv.Detections.empty(), sv.Detections.empty()], id="empty-crops"),
        pytest.param([None, None], id="skipped-crops"),
    ],
)
def test_no_child_detections(children: list[Any]) -> None:
    result = _rollup(PARENT, children)
    assert len(result["rolled_up_detections"]) == 0
    assert len(result["crop_zones"]) == 2


def test_no_parent_detections() -> None:
    assert _rollup(_parent([]), []) == {
        "rolled_up_detections": sv.Detections.empty(),
        "crop_zones": [],
    }


def test_masks_past_the_pixel_budget_are_a_400() -> None:
    children = [
        _with_mask(boxes([[25, 5, 35, 15]] * 3), (40, 40)),
        _with_mask(boxes([[0, 5, 10, 15]] * 2), (40, 49)),
    ]
    # 5 masks of 120 x 90 px: more than 4 images of 10 000 px.
    limits = WorkflowLimits(max_image_pixels=10_000)
    context = RunContext(models=ScriptedModels(), budget=RunBudget(limits=limits))
    values = {
        "parent_detection": PARENT,
        "child_detections": children,
        "confidence_strategy": "max",
        "overlap_threshold": 0.0,
        "keypoint_merge_threshold": 10.0,
    }
    with pytest.raises(InvalidInputTypeError, match="VISIONFLOW_MAX_IMAGE_PIXELS"):
        DetectionsListRollupV1().run(StepInputs("rollup", "t", values), context)


def test_one_child_list_per_parent_detection() -> None:
    with pytest.raises(InvalidInputTypeError, match="1 child predictions for 2 parent"):
        _rollup(PARENT, CHILDREN[:1])


def test_crop_model_collapse_rollup_workflow() -> None:
    # The model sees each crop: a box across the crop's right edge in the first, left edge in
    # the second, so their parent boxes touch across the crops' common border.
    def on_crop(image: np.ndarray) -> sv.Detections:
        width = image.shape[1]
        return boxes([[width - 10, 0, width, 10]] if width == 40 else [[0, 0, 10, 10]])

    models = ScriptedModels(
        {"parts/1": lambda image: boxes([[10, 20, 50, 60], [45, 20, 90, 60]]), "sub/1": on_crop}
    )
    [result] = run(
        [
            model_step("parts", "parts/1"),
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.image",
                predictions="$steps.parts.predictions",
            ),
            model_step("sub", "sub/1", images="$steps.crop.crops"),
            step("dimension_collapse@v1", "collapse", data="$steps.sub.predictions"),
            step(
                "detections_list_rollup@v1",
                "rollup",
                parent_detection="$steps.parts.predictions",
                child_detections="$steps.collapse.output",
            ),
        ],
        {"rolled": "$steps.rollup.rolled_up_detections", "zones": "$steps.rollup.crop_zones"},
        {"image": canvas(120, 90)},
        models=models,
        serialize=True,
    )
    [merged] = result["rolled"]["predictions"]
    # [40, 20, 50, 30] and [45, 20, 55, 30] overlap: one box [40, 20, 55, 30].
    assert (merged["x"], merged["y"], merged["width"], merged["height"]) == (47.5, 25, 15, 10)
    assert merged["parent_id"] == "image"
    assert result["rolled"]["image"] == {"width": 120, "height": 90}
    assert result["zones"][1] == [[45, 20], [90, 20], [90, 60], [45, 60]]
