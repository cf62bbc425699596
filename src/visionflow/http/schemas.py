"""Request bodies of the v1 routes (wire reference §3). Unknown fields are ignored, as the
reference does, because SDK versions add fields over time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field

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
from visionflow.service.predict import MAX_STROKE_WIDTH

__all__ = [
    "AddModelRequest",
    "ClassificationRequest",
    "ClearModelRequest",
    "DoctrOcrRequest",
    "EasyOcrRequest",
    "ImageObject",
    "InstanceSegmentationRequest",
    "KeypointsDetectionRequest",
    "ObjectDetectionRequest",
    "OcrRequestBase",
    "PpOcrRequest",
    "SemanticSegmentationRequest",
    "TrOcrRequest",
]


# Every float of a request is finite: NaN and ±Infinity are a 422 that names the field.
FiniteFloat = Annotated[float, AllowInfNan(False)]
# 0..1 values (thresholds); ints past 2**31 - 1 are no count a model can use.
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
_MAX_COUNT = 2**31 - 1


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class ImageObject(_Lenient):
    """``{"type": "base64" | "url", "value": ...}``."""

    type: str
    value: Any = None


class InferenceRequestBase(_Lenient):
    id: str | None = None
    api_key: str | None = None
    model_id: str
    image: ImageObject | list[ImageObject]
    disable_preproc_auto_orient: bool = False
    disable_preproc_contrast: bool = False
    disable_preproc_grayscale: bool = False
    disable_preproc_static_crop: bool = False
    visualize_predictions: bool = False
    visualization_stroke_width: int = Field(default=1, ge=0, le=MAX_STROKE_WIDTH)
    # The defaults are the params' (visionflow.models.params), named here for the OpenAPI schema.
    confidence: FiniteFloat | Literal["best", "default"] = DEFAULT_CONFIDENCE


class ObjectDetectionRequest(InferenceRequestBase):
    iou_threshold: Fraction = DEFAULT_IOU_THRESHOLD
    class_agnostic_nms: bool | None = DEFAULT_CLASS_AGNOSTIC_NMS
    class_filter: list[str] | None = None
    max_detections: int = Field(default=DEFAULT_MAX_DETECTIONS, ge=0, le=_MAX_COUNT)
    max_candidates: int = Field(default=DEFAULT_MAX_CANDIDATES, ge=0, le=_MAX_COUNT)
    fix_batch_size: bool = False
    visualization_labels: bool | None = False


class InstanceSegmentationRequest(ObjectDetectionRequest):
    mask_decode_mode: Literal["accurate", "fast", "tradeoff"] = DEFAULT_MASK_DECODE_MODE
    tradeoff_factor: Fraction = DEFAULT_TRADEOFF_FACTOR
    # As on the reference: mask_decode_mode / tradeoff_factor apply only with this opt-in.
    allow_reduced_mask_resolution: bool = False
    response_mask_format: Literal["polygon", "rle"] = "polygon"


class KeypointsDetectionRequest(ObjectDetectionRequest):
    keypoint_confidence: Fraction = DEFAULT_KEYPOINT_CONFIDENCE


class ClassificationRequest(InferenceRequestBase):
    pass


class SemanticSegmentationRequest(InferenceRequestBase):
    pass


class AddModelRequest(_Lenient):
    model_id: str
    model_type: str | None = None
    api_key: str | None = None


class ClearModelRequest(_Lenient):
    model_id: str
    api_key: str | None = None


class OcrRequestBase(_Lenient):
    """Fields every OCR request shares (wire reference §3.9)."""

    id: str | None = None
    api_key: str | None = None
    image: ImageObject | list[ImageObject]
    generate_bounding_boxes: bool | None = False


class DoctrOcrRequest(OcrRequestBase):
    doctr_version_id: str | None = "default"


class EasyOcrRequest(OcrRequestBase):
    easy_ocr_version_id: str | None = None
    language_codes: list[str] | None = None
    quantize: bool | None = False


class TrOcrRequest(OcrRequestBase):
    trocr_version_id: str | None = "trocr-base-printed"


class PpOcrRequest(OcrRequestBase):
    pp_ocr_version_id: str | None = None
    text_detection: str | None = None
    text_recognition: str | None = None
