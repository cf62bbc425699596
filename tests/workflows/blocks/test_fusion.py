"""Per-field dimensionality offsets through the real compiler and executor: ``detections_stitch``
(slice results back in the sliced image's coordinates) and ``detections_classes_replacement``
(each detection re-labelled by its crop's classification)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.core.results import ClassificationResult
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.fusion import DetectionsClassesReplacementV1
from visionflow.workflows.errors import StepInputDimensionalityError, StepInputLineageError
from visionflow.workflows.lineage import lineage_of

SLICER = step(
    "image_slicer@v2",
    "slicer",
    image="$inputs.image",
    slice_width=100,
    slice_height=100,
    overlap_ratio_width=0.0,
    overlap_ratio_height=0.0,
)


def _stitch(
    strategy: str, answer: Any, iou: float = 0.3, *, overlapping: bool = False
) -> sv.Detections:
    slicer = {**SLICER, "slice_width": 120, "overlap_ratio_width": 0.2} if overlapping else SLICER
    [result] = run(
        [
            slicer,
            model_step("det", "m/1", images="$steps.slicer.slices"),
            step(
                "detections_stitch@v1",
                "stitch",
                reference_image="$inputs.image",
                predictions="$steps.det.predictions",
                overlap_filtering_strategy=strategy,
                iou_threshold=iou,
            ),
        ],
        {"stitched": "$steps.stitch.predictions"},
        {"image": canvas(200, 100)},
        models=ScriptedModels({"m/1": answer}),
        coordinates_system="own",  # no output mapping: the block itself must move the boxes
    )
    stitched = result["stitched"]
    assert isinstance(stitched, sv.Detections)
    return stitched


def test_stitch_moves_slice_detections_into_the_reference_image() -> None:
    stitched = _stitch("none", lambda image: boxes([[10, 10, 20, 20], [80, 0, 100, 30]]))
    assert stitched.xyxy.tolist() == [
        [10, 10, 20, 20],
        [80, 0, 100, 30],
        [110, 10, 120, 20],
        [180, 0, 200, 30],
    ]
    lineage = lineage_of(stitched)
    assert lineage is not None
    assert lineage.is_root
    assert lineage.image_id == "image"
    assert set(stitched.data["parent_id"]) == {"image"}


_LEFT = [True]


def _border_box(image: np.ndarray) -> sv.Detections:
    """One object seen by both overlapping slices (x 0-120 and 80-200): at x 90-110 of the image
    by the left slice, at x 95-115 (15 in its own pixels) by the right one; IoU 15/25 = 0.6."""
    is_left = _LEFT[0]
    _LEFT[0] = not is_left
    return boxes([[90, 0, 110, 50]], [0.9]) if is_left else boxes([[15, 0, 35, 50]], [0.6])


@pytest.mark.parametrize(
    ("strategy", "iou", "expected"),
    [
        ("none", 0.3, [[90, 0, 110, 50], [95, 0, 115, 50]]),
        ("nms", 0.3, [[90, 0, 110, 50]]),
        ("nms", 0.7, [[90, 0, 110, 50], [95, 0, 115, 50]]),
        ("nmm", 0.3, [[90, 0, 115, 50]]),
        ("nmm", 0.7, [[90, 0, 110, 50], [95, 0, 115, 50]]),
    ],
)
def test_stitch_overlap_filtering(strategy: str, iou: float, expected: list[list[int]]) -> None:
    _LEFT[0] = True
    stitched = _stitch(strategy, _border_box, iou, overlapping=True)
    assert sorted(np.round(stitched.xyxy).tolist()) == expected


def test_stitch_nms_keeps_the_more_confident_box() -> None:
    _LEFT[0] = True
    stitched = _stitch("nms", _border_box, overlapping=True)
    assert stitched.confidence is not None
    assert stitched.confidence.tolist() == pytest.approx([0.9])


def _compile_error(steps: list[dict[str, Any]]) -> Exception:
    with pytest.raises((StepInputDimensionalityError, StepInputLineageError)) as caught:
        run(steps, {"out": "$steps.stitch.predictions"}, {"image": canvas()})
    return caught.value


def test_stitch_rejects_predictions_at_the_reference_depth() -> None:
    error = _compile_error(
        [
            model_step("det", "m/1"),
            step(
                "detections_stitch@v1",
                "stitch",
                reference_image="$inputs.image",
                predictions="$steps.det.predictions",
            ),
        ]
    )
    assert isinstance(error, StepInputDimensionalityError)
    assert "must have 2" in str(error)


def test_stitch_rejects_a_reference_that_is_not_a_batch() -> None:
    error = _compile_error(
        [
            SLICER,
            model_step("det", "m/1", images="$steps.slicer.slices"),
            step(
                "detections_stitch@v1",
                "stitch",
                reference_image="$steps.slicer.slices",
                predictions="$steps.det.predictions",
            ),
        ]
    )
    assert "dimensionality 2 but must have 3" in str(error)


# -- classes replacement --------------------------------------------------------------------------


def _dark_or_bright(image: np.ndarray) -> ClassificationResult:
    bright = float(image.mean()) > 127
    return ClassificationResult(("cat", "dog"), np.array([0.3, 0.7] if bright else [0.8, 0.2]))


def test_classes_replacement_relabels_each_detection_by_its_crop() -> None:
    image = canvas(200, 100)
    image[:, 100:] = 255
    models = ScriptedModels(
        {
            "det/1": lambda _image: boxes([[0, 0, 50, 50], [150, 0, 200, 50]], [0.5, 0.5], [2, 2]),
            "cls/1": _dark_or_bright,
        }
    )
    [result] = run(
        [
            model_step("det", "det/1"),
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.image",
                predictions="$steps.det.predictions",
            ),
            step(
                "roboflow_classification_model@v2",
                "cls",
                images="$steps.crop.crops",
                model_id="cls/1",
            ),
            step(
                "detections_classes_replacement@v1",
                "replace",
                object_detection_predictions="$steps.det.predictions",
                classification_predictions="$steps.cls.predictions",
            ),
        ],
        {"det": "$steps.det.predictions", "out": "$steps.replace.predictions"},
        {"image": image},
        models=models,
    )
    out = result["out"]
    assert out.xyxy.tolist() == [[0, 0, 50, 50], [150, 0, 200, 50]]
    assert out.data[CLASS_NAME].tolist() == ["cat", "dog"]
    assert out.class_id.tolist() == [0, 1]
    assert out.confidence.tolist() == pytest.approx([0.8, 0.7])
    assert not set(out.data[DETECTION_ID]) & set(result["det"].data[DETECTION_ID])


def _replace(detections: sv.Detections, results: list[Any], **fallback: Any) -> sv.Detections:
    values = {
        "object_detection_predictions": detections,
        "classification_predictions": results,
        "fallback_class_name": fallback.get("name"),
        "fallback_class_id": fallback.get("class_id"),
    }
    block = DetectionsClassesReplacementV1()
    out = block.run(StepInputs("r", block.type, values), RunContext(models=ScriptedModels()))
    assert isinstance(out, dict)
    return out["predictions"]  # type: ignore[no-any-return]


def _with_ids(count: int) -> sv.Detections:
    detections = boxes([[i, i, i + 5, i + 5] for i in range(count)])
    detections.data[DETECTION_ID] = np.array([f"d{i}" for i in range(count)], dtype=object)
    return detections


def _single(parent: str, top: str | None) -> dict[str, Any]:
    predictions = [{"class": top, "class_id": 7, "confidence": 0.6}] if top else []
    return {"top": top or "", "confidence": 0.6, "predictions": predictions, "parent_id": parent}


def test_classes_replacement_drops_detections_whose_crop_has_no_result() -> None:
    out = _replace(_with_ids(3), [_single("d0", "x"), None, _single("d2", "y")])
    assert out.xyxy.tolist() == [[0, 0, 5, 5], [2, 2, 7, 7]]
    assert out.data[CLASS_NAME].tolist() == ["x", "y"]


def test_classes_replacement_matches_by_parent_id_not_position() -> None:
    out = _replace(_with_ids(2), [_single("d1", "late"), _single("d0", "early")])
    assert out.data[CLASS_NAME].tolist() == ["early", "late"]


def test_classes_replacement_fallback_for_empty_results() -> None:
    assert len(_replace(_with_ids(1), [_single("d0", None)])) == 0
    out = _replace(_with_ids(1), [_single("d0", None)], name="unknown")
    assert out.data[CLASS_NAME].tolist() == ["unknown"]
    assert out.class_id.tolist() == [np.iinfo(np.int64).max]
    out = _replace(_with_ids(1), [_single("d0", None)], name="unknown", class_id=3)
    assert out.class_id.tolist() == [3]


def test_classes_replacement_strings_align_by_position() -> None:
    out = _replace(_with_ids(2), ["apple", ["pear", "fig"]])
    assert out.data[CLASS_NAME].tolist() == ["apple", "pear"]
    assert out.confidence.tolist() == [1.0, 1.0]


def test_classes_replacement_multi_label_takes_the_most_confident_class() -> None:
    multi = {
        "predictions": {
            "a": {"confidence": 0.6, "class_id": 0},
            "b": {"confidence": 0.9, "class_id": 1},
        },
        "predicted_classes": ["a", "b"],
        "parent_id": "d0",
    }
    out = _replace(_with_ids(1), [multi])
    assert (out.data[CLASS_NAME].tolist(), out.class_id.tolist()) == (["b"], [1])
