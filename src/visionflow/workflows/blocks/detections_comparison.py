"""Blocks that compare two sets of detections: ``detections_difference`` (one-to-one matching of
a "before" and an "after" set: what was removed, what persisted, what is new) and
``overlap_analysis`` (every pair whose intersection covers at least ``min_overlap`` of the
reference detection's area, on mask outlines where there are masks)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field
from shapely.geometry import Polygon, box

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "DETECTIONS_COMPARISON_BLOCKS",
    "DETECTIONS_OVERLAPS",
    "DetectionsDifferenceV1",
    "OverlapAnalysisV1",
    "greedy_match",
    "matching_costs",
]

# The kind of ``overlap_analysis``'s records (one dict per accepted pair).
DETECTIONS_OVERLAPS = "detections_overlaps"

Floats = npt.NDArray[np.float64]
BoxesSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.OBJECT_DETECTION_PREDICTION,))
]
BoxesOrMasksSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class DetectionsDifferenceManifest(StepManifest):
    reference_predictions: BoxesSelector
    candidate_predictions: BoxesSelector
    spatial_weight: ZeroToOne | FloatZeroToOneSelector = 0.4
    class_mismatch_penalty: NonNegative | FloatSelector = 0.15
    reject_cost: NonNegative | FloatSelector = 0.75
    class_strict: bool | BooleanSelector = False
    min_removed_to_verify: Annotated[int, Field(ge=1)] | IntegerSelector = 1


def _labels(detections: sv.Detections) -> list[Any]:
    return [detections.data.get(CLASS_NAME), detections.class_id]


def _class_mismatch(
    reference: sv.Detections, candidate: sv.Detections
) -> npt.NDArray[np.bool_] | None:
    """``(R, C)`` bool: the two detections' classes differ (names when both sides have them,
    else class ids); ``None`` when either side has neither."""
    for ref_labels, cand_labels in zip(_labels(reference), _labels(candidate), strict=True):
        if (
            ref_labels is not None
            and cand_labels is not None
            and len(ref_labels) == len(reference)
            and len(cand_labels) == len(candidate)
        ):
            return np.asarray(np.asarray(ref_labels)[:, None] != np.asarray(cand_labels)[None, :])
    return None


def matching_costs(
    reference: sv.Detections,
    candidate: sv.Detections,
    spatial_weight: float,
    class_mismatch_penalty: float,
    class_strict: bool,
) -> Floats:
    """``(R, C) float64`` cost of matching each reference to each candidate detection:
    ``spatial_weight * (1 - IoU)`` for overlapping boxes, ``spatial_weight * (1 + d)`` for
    disjoint ones (``d``: centre distance over the diagonal of the pair's enclosing box, so any
    overlap beats any gap), plus the class penalty (``inf`` when ``class_strict``)."""
    ref, cand = np.asarray(reference.xyxy, np.float64), np.asarray(candidate.xyxy, np.float64)
    iou = sv.box_iou_batch(ref, cand)
    spatial = 1.0 - iou
    disjoint = iou <= 0.0
    if np.any(disjoint):
        ref_centres = (ref[:, :2] + ref[:, 2:]) / 2
        cand_centres = (cand[:, :2] + cand[:, 2:]) / 2
        distance = np.linalg.norm(ref_centres[:, None, :] - cand_centres[None, :, :], axis=2)
        low = np.minimum(ref[:, None, :2], cand[None, :, :2])
        high = np.maximum(ref[:, None, 2:], cand[None, :, 2:])
        diagonal = np.hypot(high[..., 0] - low[..., 0], high[..., 1] - low[..., 1])
        normalized = np.divide(distance, diagonal, out=np.zeros_like(distance), where=diagonal > 0)
        spatial = np.where(disjoint, 1.0 + normalized, spatial)
    cost = spatial_weight * spatial
    mismatch = _class_mismatch(reference, candidate)
    if mismatch is not None:
        if class_strict:
            cost = np.where(mismatch, np.inf, cost)
        else:
            cost = cost + class_mismatch_penalty * mismatch
    return np.asarray(cost, dtype=np.float64)


def greedy_match(costs: Floats, reject_cost: float) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs, cheapest first, until the cheapest remaining pair costs
    more than ``reject_cost`` (the reference's greedy pass, not the Hungarian optimum)."""
    matches: list[tuple[int, int]] = []
    if costs.size == 0:
        return matches
    cost = costs.astype(np.float64, copy=True)
    columns = cost.shape[1]
    for _ in range(min(cost.shape)):
        row, column = divmod(int(np.argmin(cost)), columns)
        cheapest = cost[row, column]
        if not np.isfinite(cheapest) or cheapest > reject_cost:
            break
        matches.append((row, column))
        cost[row, :] = np.inf
        cost[:, column] = np.inf
    return matches


def _subset(detections: sv.Detections, indices: list[int]) -> sv.Detections:
    if not indices:
        return sv.Detections.empty()
    picked = detections[np.asarray(indices, dtype=int)]
    assert isinstance(picked, sv.Detections)
    return picked


class DetectionsDifferenceV1(Block):
    """``reference_predictions`` ("before") matched one-to-one against
    ``candidate_predictions`` ("after") by ``matching_costs`` and ``greedy_match``:
    ``removed_detections`` are the unmatched reference detections, ``persisted_detections``
    and ``new_detections`` the matched and unmatched candidates; ``verified`` is true when the
    reference set is not empty and at least ``min_removed_to_verify`` were removed."""

    type = "roboflow_core/detections_difference@v1"
    aliases = ("DetectionsDifference",)
    manifest = DetectionsDifferenceManifest
    outputs = (
        OutputDefinition("removed_detections", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("persisted_detections", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("new_detections", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("removed_count", (k.INTEGER,)),
        OutputDefinition("new_count", (k.INTEGER,)),
        OutputDefinition("verified", (k.BOOLEAN,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        reference = inputs.detections("reference_predictions")
        candidate = inputs.detections("candidate_predictions")
        weight = inputs.as_float("spatial_weight", low=0.0, high=1.0)
        penalty = inputs.as_float("class_mismatch_penalty", low=0.0)
        reject = inputs.as_float("reject_cost", low=0.0)
        strict = inputs.as_bool("class_strict")
        min_removed = inputs.as_int("min_removed_to_verify", low=1)
        matches: list[tuple[int, int]] = []
        if len(reference) and len(candidate):
            costs = matching_costs(reference, candidate, weight, penalty, strict)
            matches = greedy_match(costs, reject)
        matched_reference = {row for row, _ in matches}
        matched_candidate = {column for _, column in matches}
        removed = [i for i in range(len(reference)) if i not in matched_reference]
        new = [j for j in range(len(candidate)) if j not in matched_candidate]
        return {
            "removed_detections": _subset(reference, removed),
            "persisted_detections": _subset(candidate, sorted(matched_candidate)),
            "new_detections": _subset(candidate, new),
            "removed_count": len(removed),
            "new_count": len(new),
            "verified": len(reference) > 0 and len(removed) >= min_removed,
        }


class OverlapAnalysisManifest(StepManifest):
    reference_predictions: BoxesOrMasksSelector
    candidate_predictions: BoxesOrMasksSelector
    min_overlap: ZeroToOne | FloatZeroToOneSelector = 0.1


def outline(detections: sv.Detections, index: int) -> Polygon:
    """The detection's shape: the longest contour of its mask when that is a valid polygon of
    3+ points, else its box."""
    x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
    if detections.mask is not None and np.any(detections.mask[index]):
        contours = sv.mask_to_polygons(np.asarray(detections.mask[index]).astype(np.uint8))
        if contours:
            longest = max(contours, key=len)
            if len(longest) >= 3:
                shape = Polygon([(float(x), float(y)) for x, y in longest])
                if shape.is_valid and not shape.is_empty:
                    return shape
    return box(x1, y1, x2, y2)


def _value(values: Any, index: int) -> Any:
    if values is None or index >= len(values):
        return None
    value = values[index]
    return value.item() if isinstance(value, np.generic) else value


def _confidence(detections: sv.Detections, index: int) -> float | None:
    return None if detections.confidence is None else float(detections.confidence[index])


class OverlapAnalysisV1(Block):
    """``overlaps``: one record per (reference, candidate) pair whose intersection covers at
    least ``min_overlap`` of the reference detection's area (not symmetric): both classes and
    confidences, the ``overlap_ratio`` and, where the detections have them, their ids. Pairs
    whose boxes do not overlap are never measured."""

    type = "roboflow_core/overlap_analysis@v1"
    aliases = ("OverlapAnalysis",)
    manifest = OverlapAnalysisManifest
    outputs = (OutputDefinition("overlaps", (DETECTIONS_OVERLAPS,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        reference = inputs.detections("reference_predictions")
        candidate = inputs.detections("candidate_predictions")
        min_overlap = inputs.as_float("min_overlap", low=0.0, high=1.0)
        if not len(reference) or not len(candidate):
            return {"overlaps": []}
        iou = sv.box_iou_batch(
            np.asarray(reference.xyxy, np.float64), np.asarray(candidate.xyxy, np.float64)
        )
        ref_ids, cand_ids = reference.data.get(DETECTION_ID), candidate.data.get(DETECTION_ID)
        ref_names, cand_names = reference.data.get(CLASS_NAME), candidate.data.get(CLASS_NAME)
        ref_shapes: dict[int, Polygon] = {}
        cand_shapes: dict[int, Polygon] = {}
        records: list[dict[str, Any]] = []
        for i, j in zip(*np.nonzero(iou > 0.0), strict=True):
            i, j = int(i), int(j)
            ref_shape = ref_shapes.setdefault(i, outline(reference, i))
            cand_shape = cand_shapes.setdefault(j, outline(candidate, j))
            if ref_shape.area <= 0:
                continue
            ratio = ref_shape.intersection(cand_shape).area / ref_shape.area
            if ratio < min_overlap:
                continue
            record: dict[str, Any] = {
                "reference_class": _value(ref_names, i),
                "reference_confidence": _confidence(reference, i),
                "candidate_class": _value(cand_names, j),
                "candidate_confidence": _confidence(candidate, j),
                "overlap_ratio": float(ratio),
            }
            if ref_ids is not None:
                record["reference_detection_id"] = _value(ref_ids, i)
            if cand_ids is not None:
                record["candidate_detection_id"] = _value(cand_ids, j)
            records.append(record)
        return {"overlaps": records}


DETECTIONS_COMPARISON_BLOCKS: tuple[type[Block], ...] = (DetectionsDifferenceV1, OverlapAnalysisV1)
