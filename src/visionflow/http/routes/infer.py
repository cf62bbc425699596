"""``POST /infer/{object_detection, instance_segmentation, keypoints_detection, classification,
semantic_segmentation}`` (wire reference §3, §4)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import elapsed_s, services
from visionflow.http.responses import JSONBody
from visionflow.http.schemas import (
    ClassificationRequest,
    ImageObject,
    InferenceRequestBase,
    InstanceSegmentationRequest,
    KeypointsDetectionRequest,
    ObjectDetectionRequest,
    SemanticSegmentationRequest,
)
from visionflow.http.serialize import WireOptions, prediction_body
from visionflow.models.params import ParamsTask, ParamValues, build_params
from visionflow.service.executor import ModelRun
from visionflow.service.images import ImageRef
from visionflow.service.inference import LoadedModelView
from visionflow.service.predict import Prediction, VisualizeOptions, predict

router = APIRouter(tags=["inference"])


def request_values(body: InferenceRequestBase) -> ParamValues:
    """What a v1 body says about the params (its defaults are the params' own).
    ``"best"``/``"default"`` have no per-model thresholds here: both mean the default."""
    confidence = None if isinstance(body.confidence, str) else body.confidence
    values = ParamValues(confidence=confidence)
    if isinstance(body, ObjectDetectionRequest):
        values = replace(
            values,
            iou_threshold=body.iou_threshold,
            class_agnostic_nms=body.class_agnostic_nms,
            max_detections=body.max_detections,
            max_candidates=body.max_candidates,
            class_filter=body.class_filter,
        )
    if isinstance(body, InstanceSegmentationRequest):
        values = replace(
            values,
            mask_decode_mode=body.mask_decode_mode,
            tradeoff_factor=body.tradeoff_factor,
            allow_reduced_mask_resolution=body.allow_reduced_mask_resolution,
        )
    if isinstance(body, KeypointsDetectionRequest):
        values = replace(values, keypoint_confidence=body.keypoint_confidence)
    return values


def model_headers(view: ModelRun | LoadedModelView, request: Request) -> dict[str, str]:
    return {
        "X-Model-Id": view.record.model_id,
        "X-Model-Cold-Start": "true" if view.cold_start else "false",
        "X-Model-Load-Time": f"{view.load_time_s:.4f}" if view.cold_start else "0",
        "X-Processing-Time": f"{elapsed_s(request):.4f}",
    }


def bodies(
    predictions: list[Prediction], inference_id: str, request: Request, options: WireOptions
) -> list[dict[str, Any]]:
    time_s = elapsed_s(request)
    return [
        prediction_body(p, inference_id=inference_id, time_s=time_s, options=options)
        for p in predictions
    ]


def image_refs(image: ImageObject | list[ImageObject]) -> list[ImageRef]:
    items = image if isinstance(image, list) else [image]
    return [ImageRef(type=item.type, value=item.value) for item in items]


def _respond(
    request: Request, body: InferenceRequestBase, task: ParamsTask, labels: bool
) -> Response:
    """Scores outside [0, 1] are a 400 on every task (``build_params``)."""
    params = build_params(task, request_values(body))
    mask_format = (
        body.response_mask_format if isinstance(body, InstanceSegmentationRequest) else "polygon"
    )
    options = WireOptions.for_params(params, mask_format)
    svc = services(request)
    principal = authorize(request, body.api_key)
    visualize = (
        VisualizeOptions(labels, body.visualization_stroke_width)
        if body.visualize_predictions
        else None
    )
    view, predictions = predict(
        svc,
        principal,
        body.model_id,
        image_refs(body.image),
        params,
        visualize,
        expected_task=task,
    )
    content = bodies(predictions, body.id or str(uuid.uuid4()), request, options)
    return JSONBody(
        content if isinstance(body.image, list) else content[0],
        headers=model_headers(view, request),
    )


@router.post(
    "/infer/object_detection",
    summary="Object detection",
    description=(
        "Run an object-detection model on one image or a list (`base64`, `url` or `numpy` "
        "objects). Boxes are centre `x`, `y`, `width`, `height` in pixels with `class`, "
        "`class_id`, `confidence` and `detection_id`. `confidence`, `iou_threshold`, "
        "`max_detections`, `class_agnostic_nms` and `class_filter` tune the output; "
        "`visualize_predictions` adds an annotated JPEG."
    ),
)
def infer_object_detection(body: ObjectDetectionRequest, request: Request) -> Response:
    return _respond(request, body, "object-detection", bool(body.visualization_labels))


@router.post(
    "/infer/instance_segmentation",
    summary="Instance segmentation",
    description=(
        "Run an instance-segmentation model: detections as in object detection plus each "
        "instance's outline as `points` (polygon) or an RLE mask (`response_mask_format`)."
    ),
)
def infer_instance_segmentation(body: InstanceSegmentationRequest, request: Request) -> Response:
    return _respond(request, body, "instance-segmentation", bool(body.visualization_labels))


@router.post(
    "/infer/keypoints_detection",
    summary="Keypoint detection",
    description=(
        "Run a keypoint (pose) model: detections with `keypoints` (`x`, `y`, `confidence`, "
        "`class`, `class_id`); keypoints below `keypoint_confidence` are dropped."
    ),
)
def infer_keypoints(body: KeypointsDetectionRequest, request: Request) -> Response:
    return _respond(request, body, "keypoint-detection", bool(body.visualization_labels))


@router.post(
    "/infer/classification",
    summary="Classification",
    description=(
        "Run a classification model: `predictions` with `class`, `class_id` and `confidence` per "
        "class (multi-label models: a dict per class and `predicted_classes`), `top` and "
        "`confidence` of the best class."
    ),
)
def infer_classification(body: ClassificationRequest, request: Request) -> Response:
    return _respond(request, body, "classification", True)


@router.post(
    "/infer/semantic_segmentation",
    summary="Semantic segmentation",
    description=(
        "Run a semantic-segmentation model: a class per pixel as a base64 PNG "
        "(`segmentation_mask`), a per-pixel confidence mask and the `class_map`."
    ),
)
def infer_semantic_segmentation(body: SemanticSegmentationRequest, request: Request) -> Response:
    return _respond(request, body, "semantic-segmentation", True)
