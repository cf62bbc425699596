"""``POST /yolo_world/infer`` (wire reference §3.9): open-vocabulary detection with the class
names of the request. Answers object-detection responses (nulls omitted, as the reference's
``response_model_exclude_none``); a list of images gets a list."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import bodies, image_refs, model_headers
from visionflow.http.schemas import FiniteFloat, ImageObject
from visionflow.http.serialize import WireOptions
from visionflow.models.params import DEFAULT_CONFIDENCE, ParamValues, build_params
from visionflow.service.predict import Prediction
from visionflow.service.yolo_world import DEFAULT_VERSION

router = APIRouter(tags=["yolo-world"])


class YoloWorldRequest(BaseModel):
    """``YOLOWorldInferenceRequest``; unknown fields (preprocessing switches) are ignored."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    id: str | None = None
    api_key: str | None = None
    image: ImageObject | list[ImageObject]
    # Required; its items are checked by the model, so wrong types get a message naming them.
    text: Any
    yolo_world_version_id: str | None = DEFAULT_VERSION
    confidence: FiniteFloat | None = DEFAULT_CONFIDENCE


@router.post(
    "/yolo_world/infer",
    summary="YOLO-World open-vocabulary detection",
    description=(
        "Detect the classes named in `text` (a list of prompts, given per request) with the "
        "YOLO-World model `yolo_world_version_id` maps to (`VISIONFLOW_YOLO_WORLD_MODELS`)."
    ),
)
def yolo_world_infer(body: YoloWorldRequest, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    # The class names join the params once the model has checked them against its K.
    params = build_params("open-vocabulary-detection", ParamValues(confidence=body.confidence))
    view, found = svc.yolo_world.predict(
        principal, body.yolo_world_version_id, image_refs(body.image), body.text, params
    )
    predictions = [Prediction(image_wh, detections) for image_wh, detections in found]
    content = bodies(predictions, body.id or str(uuid.uuid4()), request, WireOptions())
    return JSONBody(
        content if isinstance(body.image, list) else content[0],
        headers=model_headers(view, request),
    )
