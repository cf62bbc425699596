"""Manifests of the model blocks (``blocks.models``): the reference's field names, defaults and
order (``workflow-blocks.json``), composed from one mixin per group of fields. Versions differ in
how confidence is chosen (``confidence_mode`` from v3) and instance segmentation v4 drops the
dense-mask switch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from visionflow.models.params import (
    DEFAULT_CLASS_AGNOSTIC_NMS,
    DEFAULT_CONFIDENCE,
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_KEYPOINT_CONFIDENCE,
    DEFAULT_MASK_DECODE_MODE,
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_MAX_DETECTIONS,
    DEFAULT_TRADEOFF_FACTOR,
)
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    ModelIdSelector,
    ProjectSelector,
    StepManifest,
    StringSelector,
)

__all__ = [
    "ClassificationManifestV1",
    "ClassificationManifestV3",
    "DetectionManifestV1",
    "DetectionManifestV3",
    "KeypointManifestV1",
    "KeypointManifestV3",
    "MultiLabelManifestV3",
    "SegmentationManifestV1",
    "SegmentationManifestV3",
    "SegmentationManifestV4",
    "SemanticManifestV1",
    "SemanticManifestV2",
]

# Defaults are the params' (visionflow.models.params), named here for the block schemas.
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(gt=0)]


class _ModelManifest(StepManifest):
    images: ImageSelector
    model_id: ModelIdSelector | str


class _ActiveLearning(StepManifest):
    disable_active_learning: bool | BooleanSelector = True
    active_learning_target_dataset: ProjectSelector | str | None = None


class _Confidence(StepManifest):
    confidence: ZeroToOne | FloatZeroToOneSelector = DEFAULT_CONFIDENCE


class _ConfidenceMode(StepManifest):
    confidence_mode: Literal["best", "default", "custom"] | StringSelector = "best"
    custom_confidence: ZeroToOne | FloatZeroToOneSelector | None = DEFAULT_CONFIDENCE


class _DefaultConfidenceMode(StepManifest):
    confidence_mode: Literal["default", "custom"] | StringSelector = "default"
    custom_confidence: ZeroToOne | FloatZeroToOneSelector | None = DEFAULT_CONFIDENCE


class _Nms(StepManifest):
    class_filter: list[str] | ListOfValuesSelector | None = None
    iou_threshold: ZeroToOne | FloatZeroToOneSelector = DEFAULT_IOU_THRESHOLD
    max_detections: Positive | IntegerSelector = DEFAULT_MAX_DETECTIONS
    class_agnostic_nms: bool | BooleanSelector | None = DEFAULT_CLASS_AGNOSTIC_NMS
    max_candidates: Positive | IntegerSelector = DEFAULT_MAX_CANDIDATES


class _Masks(StepManifest):
    mask_decode_mode: Literal["accurate", "tradeoff", "fast"] | StringSelector = (
        DEFAULT_MASK_DECODE_MODE
    )
    tradeoff_factor: ZeroToOne | FloatZeroToOneSelector = DEFAULT_TRADEOFF_FACTOR


class _DenseMasks(StepManifest):
    enforce_dense_masks_in_inference_models: bool | BooleanSelector = True


class _KeypointConfidence(StepManifest):
    keypoint_confidence: ZeroToOne | FloatZeroToOneSelector = DEFAULT_KEYPOINT_CONFIDENCE


class DetectionManifestV1(_ActiveLearning, _Nms, _Confidence, _ModelManifest):
    pass


class DetectionManifestV3(_ActiveLearning, _Nms, _ConfidenceMode, _ModelManifest):
    pass


class SegmentationManifestV1(
    _DenseMasks, _ActiveLearning, _Masks, _Nms, _Confidence, _ModelManifest
):
    pass


class SegmentationManifestV3(
    _DenseMasks, _ActiveLearning, _Masks, _Nms, _ConfidenceMode, _ModelManifest
):
    pass


class SegmentationManifestV4(_ActiveLearning, _Masks, _Nms, _ConfidenceMode, _ModelManifest):
    pass


class KeypointManifestV1(_ActiveLearning, _Nms, _KeypointConfidence, _Confidence, _ModelManifest):
    pass


class KeypointManifestV3(
    _ActiveLearning, _Nms, _KeypointConfidence, _DefaultConfidenceMode, _ModelManifest
):
    pass


class ClassificationManifestV1(_ActiveLearning, _Confidence, _ModelManifest):
    pass


class ClassificationManifestV3(_ActiveLearning, _DefaultConfidenceMode, _ModelManifest):
    pass


class MultiLabelManifestV3(_ActiveLearning, _ConfidenceMode, _ModelManifest):
    pass


class SemanticManifestV1(_ModelManifest):
    pass


class SemanticManifestV2(_ConfidenceMode, _ModelManifest):
    pass
