"""Request bodies of the v1 routes (wire reference §3). Unknown fields are ignored, as the
reference does, because SDK versions add fields over time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    visualization_stroke_width: int = Field(default=1, ge=0, le=50)
    confidence: float | Literal["best", "default"] = 0.4


class ObjectDetectionRequest(InferenceRequestBase):
    iou_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    class_agnostic_nms: bool | None = False
    class_filter: list[str] | None = None
    max_detections: int = Field(default=300, ge=0)
    max_candidates: int = Field(default=3000, ge=0)
    fix_batch_size: bool = False
    visualization_labels: bool | None = False


class InstanceSegmentationRequest(ObjectDetectionRequest):
    mask_decode_mode: Literal["accurate", "fast", "tradeoff"] = "accurate"
    tradeoff_factor: float = Field(default=0.0, ge=0.0, le=1.0)
    response_mask_format: Literal["polygon", "rle"] = "polygon"


class KeypointsDetectionRequest(ObjectDetectionRequest):
    keypoint_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


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
