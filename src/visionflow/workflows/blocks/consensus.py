"""``detections_consensus``: merge the predictions of several models, keeping objects enough of
them agree on (the reference's voting: each detection, in source order, gathers the best
overlapping unused detection of every other source; enough votes and the group merges)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.boxes import box_iou_xyxy
from visionflow.core.detections import CLASS_NAME, DETECTION_ID, POLYGON
from visionflow.core.masks import mask_to_polygon
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    BooleanSelector,
    DetectionsSelector,
    FloatZeroToOneSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["CONSENSUS_BLOCKS", "DetectionsConsensusV1", "consensus"]

PositiveInt = Annotated[int, Field(gt=0)]
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
Aggregation = Literal["average", "max", "min"]
MaskAggregation = Literal["intersection", "union", "max", "min"]
CountOrDictSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INTEGER, k.DICTIONARY))
]


class DetectionsConsensusManifest(StepManifest):
    predictions_batches: list[DetectionsSelector] = Field(min_length=1)
    required_votes: PositiveInt | IntegerSelector
    class_aware: bool | BooleanSelector = True
    iou_threshold: ZeroToOne | FloatZeroToOneSelector = 0.3
    confidence: ZeroToOne | FloatZeroToOneSelector = 0.0
    classes_to_consider: list[str] | ListOfValuesSelector | None = None
    required_objects: PositiveInt | dict[str, PositiveInt] | CountOrDictSelector | None = None
    presence_confidence_aggregation: Aggregation = "max"
    detections_merge_confidence_aggregation: Aggregation = "average"
    detections_merge_coordinates_aggregation: Aggregation = "average"
    detections_merge_mask_aggregation: MaskAggregation = "union"


def _aggregate(mode: str, values: Sequence[float]) -> float:
    if mode == "max":
        return float(max(values))
    if mode == "min":
        return float(min(values))
    return float(sum(values) / len(values))


class _Candidate:
    """One detection of one source."""

    def __init__(self, source: int, detections: sv.Detections, index: int) -> None:
        self.source = source
        self.xyxy = np.asarray(detections.xyxy[index], dtype=np.float64)
        self.confidence = (
            float(detections.confidence[index]) if detections.confidence is not None else 1.0
        )
        self.class_id = int(detections.class_id[index]) if detections.class_id is not None else 0
        names = detections.data.get(CLASS_NAME)
        self.class_name = str(names[index]) if names is not None else str(self.class_id)
        self.mask = (
            np.asarray(detections.mask[index], dtype=bool) if detections.mask is not None else None
        )
        self.key = (source, index)

    def iou(self, other: _Candidate) -> float:
        if self.mask is not None and other.mask is not None and self.mask.shape == other.mask.shape:
            union = np.logical_or(self.mask, other.mask).sum()
            return float(np.logical_and(self.mask, other.mask).sum() / union) if union else 0.0
        return float(box_iou_xyxy(self.xyxy[None], other.xyxy[None])[0, 0])


def _class_of(group: list[_Candidate], mode: str) -> tuple[str, int]:
    if mode == "max":
        chosen = max(group, key=lambda c: c.confidence)
    elif mode == "min":
        chosen = min(group, key=lambda c: c.confidence)
    else:
        name = Counter(c.class_name for c in group).most_common(1)[0][0]
        chosen = next(c for c in group if c.class_name == name)
    return chosen.class_name, chosen.class_id


def _box_of(group: list[_Candidate], mode: str) -> npt.NDArray[np.float64]:
    if mode == "average":
        return np.asarray(np.mean([c.xyxy for c in group], axis=0), dtype=np.float64)
    areas = [(c.xyxy[2] - c.xyxy[0]) * (c.xyxy[3] - c.xyxy[1]) for c in group]
    pick = int(np.argmax(areas)) if mode == "max" else int(np.argmin(areas))
    return group[pick].xyxy


def _mask_of(group: list[_Candidate], mode: str) -> npt.NDArray[np.bool_] | None:
    masks = [c.mask for c in group if c.mask is not None]
    if len(masks) != len(group) or len({m.shape for m in masks}) != 1:
        return None
    if mode == "union":
        return np.asarray(np.logical_or.reduce(masks), dtype=bool)
    if mode == "intersection":
        return np.asarray(np.logical_and.reduce(masks), dtype=bool)
    areas = [int(m.sum()) for m in masks]
    return masks[int(np.argmax(areas)) if mode == "max" else int(np.argmin(areas))]


def _merge(group: list[_Candidate], modes: tuple[str, str, str]) -> dict[str, Any]:
    confidence_mode, box_mode, mask_mode = modes
    name, class_id = _class_of(group, confidence_mode)
    return {
        "xyxy": _box_of(group, box_mode),
        "confidence": _aggregate(confidence_mode, [c.confidence for c in group]),
        "class_id": class_id,
        "class_name": name,
        "mask": _mask_of(group, mask_mode),
    }


def _to_detections(merged: list[dict[str, Any]], with_masks: bool) -> sv.Detections:
    count = len(merged)
    masks = [m["mask"] for m in merged]
    mask = np.array(masks, dtype=bool) if with_masks and count and None not in masks else None
    data: dict[str, Any] = {
        CLASS_NAME: np.array([m["class_name"] for m in merged], dtype=object).reshape(count),
        DETECTION_ID: np.array([str(uuid.uuid4()) for _ in merged], dtype=object).reshape(count),
    }
    if mask is not None:
        polygons = np.empty(count, dtype=object)
        for index, single in enumerate(mask):
            polygons[index] = mask_to_polygon(single)
        data[POLYGON] = polygons
    return sv.Detections(
        xyxy=np.array([m["xyxy"] for m in merged], dtype=np.float32).reshape(count, 4),
        mask=mask,
        confidence=np.array([m["confidence"] for m in merged], dtype=np.float32),
        class_id=np.array([m["class_id"] for m in merged], dtype=np.int64),
        data=data,
    )


def consensus(
    sources: Sequence[sv.Detections],
    *,
    required_votes: int,
    class_aware: bool,
    iou_threshold: float,
    confidence: float,
    classes_to_consider: Sequence[str] | None,
    modes: tuple[str, str, str],
) -> sv.Detections:
    """The merged detections that at least ``required_votes`` sources agree on."""
    candidates = [
        [_Candidate(source, detections, index) for index in range(len(detections))]
        for source, detections in enumerate(sources)
    ]
    if classes_to_consider is not None:
        wanted = set(classes_to_consider)
        candidates = [[c for c in found if c.class_name in wanted] for found in candidates]
    used: set[tuple[int, int]] = set()
    merged: list[dict[str, Any]] = []
    for found in candidates:
        for candidate in found:
            if candidate.key in used:
                continue
            best: dict[int, tuple[_Candidate, float]] = {}
            for others in candidates:
                for other in others:
                    if other.source == candidate.source or other.key in used:
                        continue
                    if class_aware and other.class_name != candidate.class_name:
                        continue
                    overlap = candidate.iou(other)
                    if overlap <= iou_threshold:
                        continue
                    if other.source not in best or best[other.source][1] < overlap:
                        best[other.source] = (other, overlap)
            if len(best) < required_votes - 1:
                continue
            group = [candidate, *(other for other, _iou in best.values())]
            result = _merge(group, modes)
            if result["confidence"] < confidence:
                continue
            merged.append(result)
            used.update(member.key for member in group)
    with_masks = any(source.mask is not None for source in sources)
    return _to_detections(merged, with_masks)


def _presence(
    detections: sv.Detections, class_aware: bool, mode: str, required: int | dict[str, int] | None
) -> tuple[bool, Any]:
    if len(detections) == 0:
        return False, {}
    if isinstance(required, dict) and not class_aware:
        required = sum(required.values())
    if isinstance(required, int) and len(detections) < required:
        return False, {}
    scores = [float(score) for score in np.asarray(detections.confidence, dtype=np.float64)]
    if not class_aware:
        return True, {"any_object": _aggregate(mode, scores)}
    by_class: dict[str, list[float]] = defaultdict(list)
    for name, score in zip(detections.data[CLASS_NAME], scores, strict=True):
        by_class[str(name)].append(score)
    if isinstance(required, dict):
        for name, count in required.items():
            if len(by_class.get(name, [])) < count:
                return False, {}
    return True, {name: _aggregate(mode, found) for name, found in by_class.items()}


class DetectionsConsensusV1(Block):
    """``predictions``: objects found by at least ``required_votes`` of ``predictions_batches``
    (overlapping by more than ``iou_threshold``, of the same class when ``class_aware``), each
    group merged into one detection (class, box, confidence and mask aggregated as configured);
    ``object_present`` / ``presence_confidence`` say whether (and which classes, how confidently)
    enough objects were agreed on (``required_objects``)."""

    type = "roboflow_core/detections_consensus@v1"
    aliases = ("DetectionsConsensus",)
    manifest = DetectionsConsensusManifest
    outputs = (
        OutputDefinition(
            "predictions", (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
        ),
        OutputDefinition("object_present", (k.BOOLEAN, k.DICTIONARY)),
        OutputDefinition("presence_confidence", (k.FLOAT_ZERO_TO_ONE, k.DICTIONARY)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        sources = inputs["predictions_batches"]
        if not all(isinstance(source, sv.Detections) for source in sources):
            raise inputs.fail("predictions_batches", "expected detections from every source")
        required = inputs["required_objects"]
        if required is not None and not (
            (isinstance(required, int) and not isinstance(required, bool))
            or (isinstance(required, dict) and all(isinstance(v, int) for v in required.values()))
        ):
            raise inputs.fail("required_objects", "expected an integer or a dict of integers")
        class_aware = inputs.as_bool("class_aware")
        result = consensus(
            sources,
            required_votes=inputs.as_int("required_votes", low=1),
            class_aware=class_aware,
            iou_threshold=inputs.as_float("iou_threshold", low=0.0, high=1.0),
            confidence=inputs.as_float("confidence", low=0.0, high=1.0),
            classes_to_consider=inputs.as_str_list("classes_to_consider"),
            modes=(
                inputs["detections_merge_confidence_aggregation"],
                inputs["detections_merge_coordinates_aggregation"],
                inputs["detections_merge_mask_aggregation"],
            ),
        )
        lineage = next((found for s in sources if (found := lineage_of(s)) is not None), None)
        if lineage is not None:
            attach_lineage(result, lineage)
        present, presence = _presence(
            result, class_aware, inputs["presence_confidence_aggregation"], required
        )
        return {"predictions": result, "object_present": present, "presence_confidence": presence}


CONSENSUS_BLOCKS: tuple[type[Block], ...] = (DetectionsConsensusV1,)
