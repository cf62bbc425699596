"""Fusion blocks that bring results made on crops back to their parent: ``detections_stitch``
(detections on slices / crops merged into the parent image's coordinates) and
``detections_classes_replacement`` (each parent detection re-labelled by the classification of its
crop). Both declare the crop-level field one dimension deeper than the parent-level one, so they
get it as a list with one item (``None`` where absent) per crop of the parent element."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import attach_lineage, lineage_of, to_image_coordinates
from visionflow.workflows.manifest import (
    DetectionsSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["FUSION_BLOCKS", "DetectionsClassesReplacementV1", "DetectionsStitchV1"]

_BOXES_AND_MASKS = (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)
BoxesOrMasksSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(_BOXES_AND_MASKS)
]
ClassificationSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.CLASSIFICATION_PREDICTION, k.LIST_OF_VALUES, k.STRING)),
]
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
_STRATEGIES = ("none", "nms", "nmm")


class DetectionsStitchManifest(StepManifest):
    reference_image: ImageSelector
    predictions: BoxesOrMasksSelector
    overlap_filtering_strategy: Literal["none", "nms", "nmm"] | StringSelector = "nms"
    iou_threshold: ZeroToOne | FloatZeroToOneSelector = 0.3


class DetectionsStitchV1(Block):
    """``predictions`` made on crops / slices of ``reference_image``, moved into its coordinates
    and merged; overlaps between slices are then resolved by ``nms`` (class-wise suppression),
    ``nmm`` (class-wise merging of overlapping boxes) or kept (``none``)."""

    type = "roboflow_core/detections_stitch@v1"
    manifest = DetectionsStitchManifest
    outputs = (OutputDefinition("predictions", _BOXES_AND_MASKS),)
    # As the reference declares it: a field left out has offset 0 (``reference_image``).
    input_dimensionality_offsets: ClassVar[Mapping[str, int]] = {"predictions": 1}
    dimensionality_reference_property = "reference_image"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("reference_image")
        strategy = inputs.as_str("overlap_filtering_strategy")
        if strategy not in _STRATEGIES:
            raise inputs.fail("overlap_filtering_strategy", f"must be one of {list(_STRATEGIES)}")
        threshold = inputs.as_float("iou_threshold", low=0.0, high=1.0)
        parts = inputs["predictions"]
        if not isinstance(parts, list):
            raise inputs.fail("predictions", "expected one detections value per crop")
        moved: list[sv.Detections] = []
        for part in parts:
            if part is None:
                continue
            if not isinstance(part, sv.Detections):
                raise inputs.fail("predictions", f"expected detections, got {type(part).__name__}")
            if len(part):
                moved.append(to_image_coordinates(part, image.lineage))
        merged = sv.Detections.merge(moved) if moved else sv.Detections.empty()
        if len(merged) and strategy == "nms":
            merged = merged.with_nms(threshold=threshold)
        elif len(merged) and strategy == "nmm":
            merged = merged.with_nmm(threshold=threshold)
        return {"predictions": attach_lineage(merged, image.lineage)}


class DetectionsClassesReplacementManifest(StepManifest):
    object_detection_predictions: DetectionsSelector
    classification_predictions: ClassificationSelector
    fallback_class_name: str | StringSelector | None = None
    fallback_class_id: int | IntegerSelector | None = None


Leading = tuple[str, int, float]


def _fallback(name: Any, class_id: Any) -> Leading | None:
    if not name:
        return None
    if isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0:
        class_id = sys.maxsize
    return str(name), class_id, 0.0


def leading_class(prediction: Any, fallback_name: Any, fallback_id: Any) -> Leading | None:
    """The class (name, id, confidence) a classification result stands for; ``None``: none."""
    if isinstance(prediction, str):
        return prediction, 0, 1.0
    if isinstance(prediction, list):
        if not prediction:
            return _fallback(fallback_name, fallback_id)
        first = prediction[0]
        return (first, 0, 1.0) if isinstance(first, str) else None
    if not isinstance(prediction, dict):
        return None
    if "top" in prediction:
        if not prediction.get("predictions"):
            return _fallback(fallback_name, fallback_id)
        top = prediction["top"]
        matches = [p for p in prediction["predictions"] if p.get("class") == top]
        if len(matches) != 1:
            raise ValueError(f"Could not resolve class id for prediction: {prediction}")
        return str(top), int(matches[0]["class_id"]), float(matches[0]["confidence"])
    if not prediction.get("predicted_classes"):
        return None
    best: Leading | None = None
    for name, details in dict(prediction.get("predictions") or {}).items():
        if best is None or details["confidence"] > best[2]:
            best = (str(name), int(details["class_id"]), float(details["confidence"]))
    return best if best is not None and best[2] else None


class DetectionsClassesReplacementV1(Block):
    """``object_detection_predictions`` with each detection's class (name, id and confidence)
    replaced by the leading class of the classification made on its crop. Crops are matched to
    detections by ``parent_id`` = ``detection_id`` (by position for string / list results, e.g.
    from language models). Detections whose crop has no result are dropped, as the reference does;
    the kept ones get new ``detection_id`` values."""

    type = "roboflow_core/detections_classes_replacement@v1"
    aliases = ("DetectionsClassesReplacement",)
    manifest = DetectionsClassesReplacementManifest
    outputs = (OutputDefinition("predictions", k.DETECTION_KINDS),)
    input_dimensionality_offsets: ClassVar[Mapping[str, int]] = {
        "object_detection_predictions": 0,
        "classification_predictions": 1,
    }
    dimensionality_reference_property = "object_detection_predictions"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        detections = inputs.detections("object_detection_predictions")
        results = inputs["classification_predictions"]
        if not isinstance(results, list):
            raise inputs.fail("classification_predictions", "expected one result per crop")
        name, class_id = inputs["fallback_class_name"], inputs["fallback_class_id"]
        ids = [str(i) for i in detections.data.get(DETECTION_ID, [None] * len(detections))]
        by_id: dict[str, Leading | None] = {}
        for position, result in enumerate(results):
            if result is None:
                continue
            if isinstance(result, dict) and isinstance(result.get("parent_id"), str):
                key = str(result["parent_id"])
            elif position < len(ids):
                key = ids[position]
            else:
                continue
            try:
                by_id[key] = leading_class(result, name, class_id)
            except (ValueError, KeyError, TypeError) as exc:
                raise inputs.fail("classification_predictions", str(exc)) from None
        keep = [i for i, det_id in enumerate(ids) if by_id.get(det_id) is not None]
        if not keep:
            lineage = lineage_of(detections)
            empty = sv.Detections.empty()
            return {"predictions": attach_lineage(empty, lineage) if lineage else empty}
        chosen = [by_id[ids[i]] for i in keep]
        selected = detections[np.array(keep)]
        assert isinstance(selected, sv.Detections)
        selected.class_id = np.array([c[1] for c in chosen if c is not None])
        selected.confidence = np.array([c[2] for c in chosen if c is not None], dtype=np.float32)
        selected.data[CLASS_NAME] = np.array([c[0] for c in chosen if c is not None])
        selected.data[DETECTION_ID] = np.array([str(uuid.uuid4()) for _ in keep], dtype=object)
        return {"predictions": selected}


FUSION_BLOCKS: tuple[type[Block], ...] = (DetectionsStitchV1, DetectionsClassesReplacementV1)
