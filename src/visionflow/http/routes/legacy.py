"""The legacy "v0" route ``POST|GET /{project}/{version}`` (wire reference §2).

The image comes from ``?image=<url>``, a multipart part named ``file``, a raw image body
(``Content-Type: image/*``), or a body that *is* the base64 text. Confidence and overlap accept the
percent form (``confidence=40`` ≡ 0.4).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from visionflow.core.visualization import encode_jpeg
from visionflow.errors import ImageDecodeError, InvalidInputError
from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import bodies, model_headers
from visionflow.http.serialize import WireOptions
from visionflow.models.params import ParamValues, TaskParams, build_params
from visionflow.service.auth import Principal
from visionflow.service.images import ImageRef
from visionflow.service.predict import MAX_STROKE_WIDTH, VisualizeOptions, predict

router = APIRouter(tags=["legacy"])

_FORMATS = {"json", "image", "image_and_json"}
_TRUE = {"true", "1", "yes", "on"}
_CONFIDENCE_FLOOR = 0.01
_MAX_INT = 2**31 - 1


def _percent(raw: str | None, name: str) -> float | None:
    """A 0..1 value that may be given in percent (values >= 1 are divided by 100); ``None``
    when not given (``best``/``default`` included: no per-model thresholds here)."""
    if raw is None or raw == "":
        return None
    if raw.lower() in {"best", "default"}:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={raw!r} is not a number") from None
    if value >= 1:
        value /= 100
    if not 0 <= value <= 1:
        raise InvalidInputError(f"query parameter {name}={raw!r} is out of range (0..100)")
    return value


def _fraction(raw: str | None, name: str) -> float | None:
    """A plain 0..1 value (no percent form); ``None`` when not given."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={raw!r} is not a number") from None
    if not 0 <= value <= 1:
        raise InvalidInputError(f"query parameter {name}={raw!r} must be within 0..1")
    return value


def _int(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={raw!r} is not an integer") from None
    if abs(value) > _MAX_INT:
        raise InvalidInputError(f"query parameter {name}={raw!r} is out of range")
    return value


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


def _flag(raw: str | None) -> bool | None:
    return None if raw is None else raw.lower() in _TRUE


def query_values(task: str, query: Any) -> ParamValues:
    """What the legacy query string says about a ``task`` model's params (reference §2.1), in
    0..1 units; the parameters of other tasks are not read."""
    confidence = _percent(query.get("confidence"), "confidence")
    # Clamped up to the reference's floor against out-of-memory answers.
    values = ParamValues(
        confidence=None if confidence is None else max(confidence, _CONFIDENCE_FLOOR)
    )
    if task in ("classification", "semantic-segmentation"):
        return values
    values = replace(
        values,
        iou_threshold=_percent(query.get("overlap"), "overlap"),
        max_detections=_int(query.get("max_detections"), "max_detections"),
        class_agnostic_nms=_flag(query.get("class_agnostic_nms")),
    )
    if task == "instance-segmentation":
        return replace(
            values,
            mask_decode_mode=query.get("mask_decode_mode"),
            tradeoff_factor=_fraction(query.get("tradeoff_factor"), "tradeoff_factor"),
            allow_reduced_mask_resolution=_flag(query.get("allow_reduced_mask_resolution")),
        )
    if task == "keypoint-detection":
        return replace(
            values,
            keypoint_confidence=_fraction(query.get("keypoint_confidence"), "keypoint_confidence"),
        )
    return values


def _task_params(task: str, query: Any) -> tuple[TaskParams, WireOptions]:
    """Parameters for the model's task, from the legacy query string (reference §2.3)."""
    params = build_params(task, query_values(task, query))
    if task != "instance-segmentation":
        return params, WireOptions.for_params(params)
    mask_format = query.get("response_mask_format", "polygon")
    if mask_format not in {"polygon", "rle"}:
        raise InvalidInputError(
            f"response_mask_format={mask_format!r} is not supported; use polygon or rle"
        )
    return params, WireOptions.for_params(params, mask_format)


def _run(
    request: Request,
    principal: Principal,
    model_id: str,
    ref: ImageRef,
    visualize: VisualizeOptions | None,
) -> tuple[Any, list[Any], WireOptions]:
    svc = services(request)
    task = svc.inference.resolve(principal, model_id).task
    if task == "embedding":
        raise InvalidInputError(
            f"model {model_id!r} is an embedding (CLIP) model, which the legacy "
            "/{project}/{version} route does not serve: call POST /clip/embed_image, "
            "/clip/embed_text or /clip/compare",
            details={"model_task": task},
        )
    params, options = _task_params(task, request.query_params)
    view, predictions = predict(svc, principal, model_id, [ref], params, visualize)
    return view, predictions, options


async def legacy_infer(project: str, version: str, request: Request) -> Response:
    query = request.query_params
    response_format = query.get("format", "json").lower()
    if response_format not in _FORMATS:
        raise InvalidInputError(
            f"format={response_format!r} is not supported; use json, image or image_and_json"
        )
    # Fail fast on a bad key before reading a possibly large body.
    principal = authorize(request)
    ref = await _image_ref(request)
    visualize = None
    if response_format != "json":
        stroke = _int(query.get("stroke"), "stroke")
        stroke = VisualizeOptions.stroke_width if stroke is None else stroke
        if not 0 <= stroke <= MAX_STROKE_WIDTH:
            raise InvalidInputError(
                f"query parameter stroke={stroke} is out of range: the stroke width is 0 to "
                f"{MAX_STROKE_WIDTH} pixels"
            )
        visualize = VisualizeOptions(
            labels=query.get("labels", "false").lower() in _TRUE, stroke_width=stroke
        )
    view, predictions, options = await run_in_threadpool(
        _run, request, principal, f"{project}/{version}", ref, visualize
    )
    headers = model_headers(view, request)
    if response_format == "image":
        drawn = predictions[0].visualization_bgr
        assert drawn is not None
        return Response(encode_jpeg(drawn), media_type="image/jpeg", headers=headers)
    body: dict[str, Any] = bodies(predictions, str(uuid.uuid4()), request, options)[0]
    if response_format == "json":
        body.pop("visualization", None)
    return JSONBody(body, headers=headers)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


# The route parses its query string and body by hand (the reference's forms), so FastAPI cannot
# see them; the OpenAPI document declares them here.
LEGACY_QUERY_PARAMETERS: list[dict[str, Any]] = [
    _query("api_key", {"type": "string"}, "API key (or an 'Authorization: Bearer <key>' header)."),
    _query("image", {"type": "string"}, "URL of the image (instead of a body)."),
    _query(
        "image_type",
        {"enum": ["base64"]},
        "How a text body is encoded; only `base64` (the default).",
    ),
    _query(
        "confidence",
        {"type": "number", "minimum": 0, "maximum": 100},
        "Minimum confidence, in percent (`40`) or as a fraction (`0.4`).",
    ),
    _query(
        "overlap",
        {"type": "number", "minimum": 0, "maximum": 100},
        "NMS IoU threshold, in percent or as a fraction (detection, segmentation, keypoints).",
    ),
    _query("max_detections", {"type": "integer", "minimum": 0}, "At most this many detections."),
    _query("class_agnostic_nms", {"type": "boolean"}, "NMS across classes."),
    _query(
        "mask_decode_mode",
        {"enum": ["accurate", "fast", "tradeoff"]},
        "How instance masks are upsampled (instance segmentation).",
    ),
    _query(
        "tradeoff_factor",
        {"type": "number", "minimum": 0, "maximum": 1},
        "Mask resolution between fast (0) and accurate (1) with `mask_decode_mode=tradeoff`.",
    ),
    _query(
        "response_mask_format",
        {"enum": ["polygon", "rle"]},
        "Instance outlines as polygons (`points`, default) or COCO RLE.",
    ),
    _query(
        "keypoint_confidence",
        {"type": "number", "minimum": 0, "maximum": 1},
        "Drop keypoints below this confidence (keypoint models).",
    ),
    _query(
        "format",
        {"enum": ["json", "image", "image_and_json"]},
        "`json` (default), `image` (an annotated JPEG) or `image_and_json` (JSON with a base64 "
        "`visualization`).",
    ),
    _query("labels", {"type": "boolean"}, "Write class names on the annotated image."),
    _query(
        "stroke",
        {"type": "integer", "minimum": 0, "maximum": MAX_STROKE_WIDTH},
        "Box line width of the annotated image, in pixels.",
    ),
]
_LEGACY_BODY: dict[str, Any] = {
    "required": False,
    "description": (
        "The image: base64 text (any text content type, e.g. "
        "`application/x-www-form-urlencoded`), a multipart part named `file`, or the raw image "
        "bytes with `Content-Type: image/*`. Leave it out when `?image=<url>` names the image."
    ),
    "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string", "description": "base64 of the image"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}
_LEGACY_DESCRIPTION = (
    "The reference's v0 route: run the registered model `project/version` on one image and "
    "answer the task's JSON (or an annotated JPEG with `format=image`). Thresholds accept the "
    "percent form (`confidence=40` is 0.4). GET takes the image from `?image=<url>`; POST also "
    "takes it from the body."
)

for _method in ("GET", "POST"):
    router.add_api_route(
        "/{project}/{version}",
        legacy_infer,
        methods=[_method],
        operation_id=f"legacy_infer_{_method.lower()}",
        summary="Infer with a model (legacy v0 route)",
        description=_LEGACY_DESCRIPTION,
        openapi_extra={
            "parameters": LEGACY_QUERY_PARAMETERS,
            **({"requestBody": _LEGACY_BODY} if _method == "POST" else {}),
        },
    )
