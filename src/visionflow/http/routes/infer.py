"""``POST /infer/object_detection`` (wire reference §3.4, §4.2)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.core.visualization import encode_jpeg_base64
from visionflow.core.wire import object_detection_response
from visionflow.http.deps import elapsed_s, services
from visionflow.http.keys import api_key_from
from visionflow.http.responses import JSONBody
from visionflow.http.schemas import ImageObject, ObjectDetectionRequest
from visionflow.service.images import ImageRef
from visionflow.service.inference import LoadedModelView
from visionflow.service.predict import (
    Prediction,
    VisualizeOptions,
    detection_params,
    predict_detections,
)

router = APIRouter(tags=["inference"])


def numeric_confidence(value: float | str, default: float = 0.4) -> float:
    """``"best"``/``"default"`` have no per-model thresholds here: both mean the default."""
    return default if isinstance(value, str) else float(value)


def model_headers(view: LoadedModelView, request: Request) -> dict[str, str]:
    return {
        "X-Model-Id": view.record.model_id,
        "X-Model-Cold-Start": "true" if view.cold_start else "false",
        "X-Model-Load-Time": f"{view.load_time_s:.4f}" if view.cold_start else "0",
        "X-Processing-Time": f"{elapsed_s(request):.4f}",
    }


def detection_bodies(
    predictions: list[Prediction], inference_id: str, request: Request
) -> list[dict[str, Any]]:
    time_s = elapsed_s(request)
    return [
        object_detection_response(
            p.detections,
            image_wh=p.image_wh,
            inference_id=inference_id,
            time_s=time_s,
            visualization=(
                encode_jpeg_base64(p.visualization_bgr) if p.visualization_bgr is not None else None
            ),
        )
        for p in predictions
    ]


def image_refs(image: ImageObject | list[ImageObject]) -> list[ImageRef]:
    items = image if isinstance(image, list) else [image]
    return [ImageRef(type=item.type, value=item.value) for item in items]


@router.post("/infer/object_detection")
def infer_object_detection(body: ObjectDetectionRequest, request: Request) -> Response:
    svc = services(request)
    principal = svc.authorizer.authorize(api_key_from(request, body.api_key, query=False))
    params = detection_params(
        confidence=numeric_confidence(body.confidence),
        iou_threshold=body.iou_threshold,
        class_agnostic_nms=bool(body.class_agnostic_nms),
        max_detections=body.max_detections,
        max_candidates=body.max_candidates,
        class_filter=tuple(body.class_filter) if body.class_filter is not None else None,
    )
    visualize = (
        VisualizeOptions(bool(body.visualization_labels), body.visualization_stroke_width)
        if body.visualize_predictions
        else None
    )
    view, predictions = predict_detections(
        svc, principal, body.model_id, image_refs(body.image), params, visualize
    )
    bodies = detection_bodies(predictions, body.id or str(uuid.uuid4()), request)
    content: Any = bodies if isinstance(body.image, list) else bodies[0]
    return JSONBody(content, headers=model_headers(view, request))
