"""``detections_consensus`` through the executor with three scripted detectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step

# Three "models": a person all three see (slightly shifted), a car two see, a dog only one sees.
MODELS = ScriptedModels(
    {
        "a/1": lambda image: boxes(
            [[10, 10, 50, 90], [100, 40, 180, 80], [60, 0, 70, 10]],
            [0.9, 0.6, 0.99],
            [0, 1, 2],
            ("person", "car", "dog"),
        ),
        "b/1": lambda image: boxes(
            [[12, 10, 52, 90], [102, 40, 182, 80]], [0.7, 0.8], [0, 1], ("person", "car")
        ),
        "c/1": lambda image: boxes([[14, 10, 54, 90]], [0.8], [0], ("person",)),
    }
)


def _consensus(**fields: Any) -> dict[str, Any]:
    [result] = run(
        [
            model_step("a", "a/1"),
            model_step("b", "b/1"),
            model_step("c", "c/1"),
            step(
                "detections_consensus@v1",
                "vote",
                predictions_batches=[
                    "$steps.a.predictions",
                    "$steps.b.predictions",
                    "$steps.c.predictions",
                ],
                **fields,
            ),
        ],
        {
            "predictions": "$steps.vote.predictions",
            "present": "$steps.vote.object_present",
            "confidence": "$steps.vote.presence_confidence",
        },
        {"image": canvas()},
        models=MODELS,
    )
    return result


def test_objects_need_the_required_votes_and_are_merged() -> None:
    result = _consensus(required_votes=2)
    merged = result["predictions"]
    assert list(merged.data["class_name"]) == ["person", "car"]
    assert merged.xyxy.tolist() == [[12, 10, 52, 90], [101, 40, 181, 80]]
    assert merged.confidence.tolist() == pytest.approx([0.8, 0.7])
    assert result["present"] is True
    assert result["confidence"] == pytest.approx({"person": 0.8, "car": 0.7})


def test_three_votes_keep_only_what_every_model_saw() -> None:
    result = _consensus(
        required_votes=3,
        detections_merge_confidence_aggregation="max",
        detections_merge_coordinates_aggregation="max",
    )
    merged = result["predictions"]
    assert list(merged.data["class_name"]) == ["person"]
    assert merged.confidence.tolist() == pytest.approx([0.9])
    assert np.asarray(merged.xyxy).shape == (1, 4)


def test_required_objects_per_class_and_class_filter() -> None:
    missing = _consensus(required_votes=2, required_objects={"person": 1, "dog": 1})
    assert (missing["present"], missing["confidence"]) == (False, {})
    only_cars = _consensus(required_votes=2, classes_to_consider=["car"])
    assert list(only_cars["predictions"].data["class_name"]) == ["car"]
    agnostic = _consensus(required_votes=2, class_aware=False, required_objects=2)
    assert agnostic["present"] is True
    assert agnostic["confidence"] == pytest.approx({"any_object": 0.8})


def test_a_merged_detection_under_the_confidence_threshold_is_dropped() -> None:
    result = _consensus(required_votes=2, confidence=0.75)
    assert list(result["predictions"].data["class_name"]) == ["person"]
