"""Any task's prediction → its wire body (the per-task shapes live in ``core.wire``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import supervision as sv

from visionflow.core.results import ClassificationResult, SemanticSegmentationResult
from visionflow.core.visualization import encode_jpeg_base64
from visionflow.core.wire import (
    MaskFormat,
    classification_response,
    object_detection_response,
    semantic_segmentation_response,
)
from visionflow.models.params import (
    DEFAULT_CONFIDENCE,
    DEFAULT_KEYPOINT_CONFIDENCE,
    ClassificationParams,
    KeypointParams,
    TaskParams,
)
from visionflow.service.predict import Prediction

__all__ = ["WireOptions", "prediction_body"]


@dataclass(frozen=True)
class WireOptions:
    """Response-side options: what to include and the thresholds applied at serialization."""

    mask_format: MaskFormat = "polygon"
    keypoint_confidence: float = DEFAULT_KEYPOINT_CONFIDENCE
    classification_confidence: float = DEFAULT_CONFIDENCE

    @classmethod
    def for_params(cls, params: TaskParams, mask_format: MaskFormat = "polygon") -> WireOptions:
        """The options of a response to a call with ``params``: the thresholds that the
        model leaves to the serializer (keypoints', classification's) come from them."""
        if isinstance(params, KeypointParams):
            return cls(mask_format, keypoint_confidence=params.keypoint_confidence)
        if isinstance(params, ClassificationParams):
            return cls(mask_format, classification_confidence=params.confidence)
        return cls(mask_format)


def prediction_body(
    prediction: Prediction,
    *,
    inference_id: str | None,
    time_s: float | None,
    options: WireOptions = WireOptions(),
) -> dict[str, Any]:
    drawn = prediction.visualization_bgr
    visualization = encode_jpeg_base64(drawn) if drawn is not None else None
    result = prediction.result
    common: dict[str, Any] = {
        "image_wh": prediction.image_wh,
        "inference_id": inference_id,
        "time_s": time_s,
        "visualization": visualization,
    }
    if isinstance(result, ClassificationResult):
        return classification_response(
            result, confidence=options.classification_confidence, **common
        )
    if isinstance(result, SemanticSegmentationResult):
        return semantic_segmentation_response(result, **common)
    assert isinstance(result, sv.Detections)
    return object_detection_response(
        result,
        mask_format=options.mask_format,
        keypoint_confidence=options.keypoint_confidence,
        **common,
    )
