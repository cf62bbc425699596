"""``detections_difference`` (before/after matching: costs worked out by hand, greedy rather
than optimal assignment, class penalty vs ``class_strict``, rejection) and ``overlap_analysis``
(ratios over the reference's area, box and mask outlines), each with its empty cases, and both
through the executor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.detections import DETECTION_ID
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.detections_comparison import (
    DetectionsDifferenceV1,
    OverlapAnalysisV1,
    greedy_match,
    matching_costs,
)
from visionflow.workflows.errors import InvalidInputTypeError

CONTEXT = RunContext(models=ScriptedModels())
DIFFERENCE = {
    "spatial_weight": 0.4,
    "class_mismatch_penalty": 0.15,
    "reject_cost": 0.75,
    "class_strict": False,
    "min_removed_to_verify": 1,
}

# "Before": A, B (class a) and C (class b); "after": A moved by 1 px, D far away, C relabelled a.
BEFORE = boxes([[0, 0, 10, 10], [50, 50, 60, 60], [100, 0, 110, 10]], class_ids=[0, 0, 1])
AFTER = boxes([[1, 0, 11, 10], [200, 200, 210, 210], [100, 0, 110, 10]], class_ids=[0, 0, 0])


def _difference(before: sv.Detections, after: sv.Detections, **settings: Any) -> Any:
    values = {
        "reference_predictions": before,
        "candidate_predictions": after,
        **DIFFERENCE,
        **settings,
    }
    return DetectionsDifferenceV1().run(StepInputs("diff", "t", values), CONTEXT)


def _ids(detections: sv.Detections, source: sv.Detections) -> list[int]:
    """Positions in ``source`` of ``detections`` (by detection id)."""
    ids = list(source.data[DETECTION_ID])
    return [ids.index(i) for i in detections.data.get(DETECTION_ID, [])]


def test_costs_are_the_weighted_distance_terms_plus_the_class_penalty() -> None:
    costs = matching_costs(BEFORE, AFTER, 0.4, 0.15, class_strict=False)
    # A-A': IoU 90 / 110; B-D: disjoint, centres 150 * sqrt(2) apart in a 160 * sqrt(2) box.
    assert costs[0, 0] == pytest.approx(0.4 * (1 - 90 / 110))
    assert costs[1, 1] == pytest.approx(0.4 * (1 + 150 / 160))
    assert costs[1, 2] == pytest.approx(0.4 * (1 + 5 / 6))  # B-C': 50 vs 60 (times sqrt(2))
    assert costs[2, 2] == pytest.approx(0.15)  # same box, other class
    strict = matching_costs(BEFORE, AFTER, 0.4, 0.15, class_strict=True)
    assert np.isinf(strict[2]).all()  # C (class b) can match no candidate (all class a)


def test_matching_is_greedy_cheapest_first() -> None:
    # The optimum is (0, 1) + (1, 0) = 0.35; the greedy pass takes 0.1 first.
    assert greedy_match(np.array([[0.1, 0.2], [0.15, 0.9]]), 1.0) == [(0, 0), (1, 1)]
    assert greedy_match(np.array([[0.1, 0.2], [0.15, 0.9]]), 0.5) == [(0, 0)]
    assert greedy_match(np.zeros((0, 3)), 1.0) == []


@pytest.mark.parametrize(
    ("settings", "removed", "persisted", "new", "verified"),
    [
        pytest.param({}, [1], [0, 2], [1], True, id="defaults"),
        # C may not take C' (other class), so B does: 0.4 * (1 + 50 sqrt(2) / 60 sqrt(2)).
        pytest.param({"class_strict": True}, [2], [0, 2], [1], True, id="class-strict"),
        pytest.param({"reject_cost": 0.8}, [], [0, 1, 2], [], False, id="far-pair-accepted"),
        pytest.param({"min_removed_to_verify": 2}, [1], [0, 2], [1], False, id="too-few-removed"),
    ],
)
def test_difference_splits_removed_persisted_and_new(
    settings: dict[str, Any],
    removed: list[int],
    persisted: list[int],
    new: list[int],
    verified: bool,
) -> None:
    result = _difference(BEFORE, AFTER, **settings)
    assert _ids(result["removed_detections"], BEFORE) == removed
    assert _ids(result["persisted_detections"], AFTER) == persisted
    assert _ids(result["new_detections"], AFTER) == new
    assert (result["removed_count"], result["new_count"]) == (len(removed), len(new))
    assert result["verified"] is verified


@pytest.mark.parametrize(
    ("before", "after", "removed", "new"),
    [
        pytest.param(BEFORE, sv.Detections.empty(), 3, 0, id="all-removed"),
        pytest.param(sv.Detections.empty(), AFTER, 0, 3, id="all-new"),
        pytest.param(sv.Detections.empty(), sv.Detections.empty(), 0, 0, id="both-empty"),
    ],
)
def test_difference_with_an_empty_side(
    before: sv.Detections, after: sv.Detections, removed: int, new: int
) -> None:
    result = _difference(before, after)
    assert (result["removed_count"], result["new_count"]) == (removed, new)
    assert len(result["persisted_detections"]) == 0
    assert result["verified"] is (removed > 0)  # never verified without a "before" set


def test_difference_rejects_a_negative_cost() -> None:
    with pytest.raises(InvalidInputTypeError, match="reject_cost"):
        _difference(BEFORE, AFTER, reject_cost=-1.0)


def _overlaps(reference: sv.Detections, candidate: sv.Detections, minimum: float = 0.1) -> Any:
    values = {
        "reference_predictions": reference,
        "candidate_predictions": candidate,
        "min_overlap": minimum,
    }
    result = OverlapAnalysisV1().run(StepInputs("overlap", "t", values), CONTEXT)
    assert isinstance(result, dict)
    return result["overlaps"]


def test_overlap_ratios_are_over_the_reference_area() -> None:
    reference = boxes([[0, 0, 10, 10]], [0.8])
    candidate = boxes(
        [[5, 0, 15, 10], [9, 9, 20, 20], [100, 100, 110, 110]], [0.7, 0.6, 0.5], [1, 1, 1]
    )
    [record] = _overlaps(reference, candidate)
    assert record == {
        "reference_class": "a",
        "reference_confidence": pytest.approx(0.8),
        "candidate_class": "b",
        "candidate_confidence": pytest.approx(0.7),
        "overlap_ratio": 0.5,
        "reference_detection_id": reference.data[DETECTION_ID][0],
        "candidate_detection_id": candidate.data[DETECTION_ID][0],
    }
    # Not symmetric: candidate 1 is 121 px^2, 1 of which overlaps.
    assert [r["overlap_ratio"] for r in _overlaps(candidate, reference, 0.0)] == [
        0.5,
        pytest.approx(1 / 121),
    ]
    assert [r["overlap_ratio"] for r in _overlaps(reference, candidate, 0.0)] == [0.5, 0.01]


def test_overlap_uses_the_mask_outline() -> None:
    reference = boxes([[0, 0, 10, 10]])
    mask = np.zeros((1, 20, 20), dtype=bool)
    mask[0, 0:5, 0:10] = True  # pixel centres 0..9 x 0..4: a 9 x 4 outline
    reference.mask = mask
    [record] = _overlaps(reference, boxes([[5, 0, 15, 10]]))
    assert record["overlap_ratio"] == pytest.approx(16 / 36)


@pytest.mark.parametrize(
    ("reference", "candidate"),
    [
        pytest.param(sv.Detections.empty(), boxes([[0, 0, 5, 5]]), id="no-reference"),
        pytest.param(boxes([[0, 0, 5, 5]]), sv.Detections.empty(), id="no-candidate"),
        pytest.param(boxes([[0, 0, 5, 5]]), boxes([[5, 5, 9, 9]]), id="touching-only"),
    ],
)
def test_no_overlaps(reference: sv.Detections, candidate: sv.Detections) -> None:
    assert _overlaps(reference, candidate, 0.0) == []


def test_both_blocks_in_a_workflow() -> None:
    models = ScriptedModels(
        {
            "before/1": lambda image: boxes([[0, 0, 10, 10], [50, 50, 60, 60]]),
            "after/1": lambda image: boxes([[1, 0, 11, 10], [150, 50, 160, 60]], names=["x"]),
        }
    )
    [result] = run(
        [
            model_step("before", "before/1"),
            model_step("after", "after/1"),
            step(
                "detections_difference@v1",
                "diff",
                reference_predictions="$steps.before.predictions",
                candidate_predictions="$steps.after.predictions",
                class_strict=True,
            ),
            step(
                "overlap_analysis@v1",
                "overlap",
                reference_predictions="$steps.before.predictions",
                candidate_predictions="$steps.after.predictions",
            ),
        ],
        {"diff": "$steps.diff.*", "overlaps": "$steps.overlap.overlaps"},
        {"image": canvas()},
        models=models,
        serialize=True,
    )
    diff = result["diff"]
    # Classes a vs x never match under class_strict: everything is removed and new.
    assert (diff["removed_count"], diff["new_count"], diff["verified"]) == (2, 2, True)
    assert [p["x"] for p in diff["removed_detections"]["predictions"]] == [5, 55]
    assert diff["persisted_detections"]["predictions"] == []
    assert [(o["reference_class"], o["candidate_class"]) for o in result["overlaps"]] == [
        ("a", "x")
    ]
    assert result["overlaps"][0]["overlap_ratio"] == pytest.approx(0.9)
