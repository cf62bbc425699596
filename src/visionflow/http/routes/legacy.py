"""The legacy "v0" route ``POST|GET /{project}/{version}`` (wire reference §2).

The image comes from ``?image=<url>``, a multipart part named ``file``, a raw image body
(``Content-Type: image/*``), or a body that *is* the base64 text. Confidence and overlap accept the
percent form (``confidence=40`` ≡ 0.4).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from visionflow.core.visualization import encode_jpeg
from visionflow.errors import ImageDecodeError, InvalidInputError
from visionflow.http.deps import services
from visionflow.http.keys import api_key_from
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import detection_bodies, model_headers
from visionflow.service.images import ImageRef
from visionflow.service.predict import VisualizeOptions, detection_params, predict_detections

router = APIRouter(tags=["legacy"])

_FORMATS = {"json", "image", "image_and_json"}
_TRUE = {"true", "1", "yes", "on"}
_CONFIDENCE_FLOOR = 0.01


def _percent(raw: str | None, name: str, default: float) -> float:
    """A 0..1 value that may be given in percent (values >= 1 are divided by 100)."""
    if raw is None or raw == "":
        return default
    if raw.lower() in {"best", "default"}:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={raw!r} is not a number") from None
    if value >= 1:
        value /= 100
    if not 0 <= value <= 1:
        raise InvalidInputError(f"query parameter {name}={raw!r} is out of range (0..100)")
    return value


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={raw!r} is not an integer") from None


async def _image_ref(request: Request) -> ImageRef:
    url = request.query_params.get("image")
    if url:
        return ImageRef(type="url", value=url)
    content_type = request.headers.get("content-type")
    if not content_type:
        raise InvalidInputError(
            "Content-Type header not provided: send the base64 image as the body "
            "(e.g. application/x-www-form-urlencoded), a multipart part named 'file', "
            "or use ?image=<url>"
        )
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        async with request.form() as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise InvalidInputError("multipart body has no file part named 'file'")
            return ImageRef(type="bytes", value=await part.read())
    body = await request.body()
    if not body.strip():
        raise InvalidInputError("Image not found in request body.")
    if media.startswith("image/"):
        return ImageRef(type="bytes", value=body)
    image_type = request.query_params.get("image_type", "base64")
    if image_type.lower() != "base64":
        raise InvalidInputError(f"image_type {image_type!r} is not accepted; use base64")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ImageDecodeError(
            "Could not load input image. Cause: the body is binary, not base64 text; send it "
            "with Content-Type image/jpeg (or image/png), as multipart 'file', or base64-encoded"
        ) from None
    return ImageRef(type="base64", value=text)


async def legacy_infer(project: str, version: str, request: Request) -> Response:
    query = request.query_params
    response_format = query.get("format", "json").lower()
    if response_format not in _FORMATS:
        raise InvalidInputError(
            f"format={response_format!r} is not supported; use json, image or image_and_json"
        )
    svc = services(request)
    principal = svc.authorizer.authorize(api_key_from(request))
    ref = await _image_ref(request)
    params = detection_params(
        confidence=max(_percent(query.get("confidence"), "confidence", 0.4), _CONFIDENCE_FLOOR),
        iou_threshold=_percent(query.get("overlap"), "overlap", 0.3),
        max_detections=_int(query.get("max_detections"), "max_detections", 300),
        class_agnostic_nms=query.get("class_agnostic_nms", "false").lower() in _TRUE,
    )
    visualize = None
    if response_format != "json":
        visualize = VisualizeOptions(
            labels=query.get("labels", "false").lower() in _TRUE,
            stroke_width=max(1, _int(query.get("stroke"), "stroke", 1)),
        )
    view, predictions = await run_in_threadpool(
        predict_detections, svc, principal, f"{project}/{version}", [ref], params, visualize
    )
    headers = model_headers(view, request)
    if response_format == "image":
        drawn = predictions[0].visualization_bgr
        assert drawn is not None
        return Response(encode_jpeg(drawn), media_type="image/jpeg", headers=headers)
    body: dict[str, Any] = detection_bodies(predictions, str(uuid.uuid4()), request)[0]
    if response_format == "json":
        body.pop("visualization", None)
    return JSONBody(body, headers=headers)


for _method in ("GET", "POST"):
    router.add_api_route(
        "/{project}/{version}",
        legacy_infer,
        methods=[_method],
        operation_id=f"legacy_infer_{_method.lower()}",
        summary="Infer with a model (legacy v0 route)",
    )
