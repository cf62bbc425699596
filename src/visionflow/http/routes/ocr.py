"""``POST /doctr/ocr``, ``/ocr/pp-ocr``, ``/easy_ocr/ocr``, ``/ocr/trocr`` (wire reference §3.9,
§4.10). All four run the same PP-OCR engine; each accepts its reference version ids."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.core.wire import detection_predictions
from visionflow.errors import InvalidInputError
from visionflow.http.deps import elapsed_s, services
from visionflow.http.keys import api_key_from
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import image_refs
from visionflow.http.schemas import (
    DoctrOcrRequest,
    EasyOcrRequest,
    OcrRequestBase,
    PpOcrRequest,
    TrOcrRequest,
)
from visionflow.models.ocr import PP_OCR_SIZES
from visionflow.service.ocr import OcrPrediction, run_ocr

router = APIRouter(tags=["ocr"])

DOCTR_VERSIONS = ("default",)
EASY_OCR_VERSIONS = ("english_g2",)
EASY_OCR_LANGUAGES = ("en",)
TROCR_VERSIONS = ("trocr-base-printed", "trocr-small-printed", "trocr-large-printed")


def _check(value: str | None, supported: tuple[str, ...], field: str) -> None:
    if value is not None and value not in supported:
        raise InvalidInputError(
            f"unsupported {field} {value!r}: supported are {', '.join(supported)}",
            details={"supported": list(supported)},
        )


def _check_pp_ocr(body: PpOcrRequest) -> None:
    _check(body.text_detection, PP_OCR_SIZES, "text_detection")
    _check(body.text_recognition, PP_OCR_SIZES, "text_recognition")
    version = body.pp_ocr_version_id
    if version is None:
        return
    parts = version.split("-")
    if not 1 <= len(parts) <= 2 or any(part not in PP_OCR_SIZES for part in parts):
        supported = [f"{d}-{r}" for d in PP_OCR_SIZES for r in PP_OCR_SIZES]
        raise InvalidInputError(
            f"unsupported pp_ocr_version_id {version!r}: use '<detection>-<recognition>' with "
            f"each one of {', '.join(PP_OCR_SIZES)} (e.g. 'small-small'), or a single size",
            details={"supported": [*PP_OCR_SIZES, *supported]},
        )


def _ocr_body(prediction: OcrPrediction, time_s: float, boxes: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"result": prediction.result.text, "time": time_s, "parent_id": None}
    if boxes:
        width, height = prediction.image_wh
        body["image"] = {"width": width, "height": height}
        body["predictions"] = detection_predictions(prediction.result.words)
    return body


def _respond(request: Request, body: OcrRequestBase) -> Response:
    svc = services(request)
    svc.authorizer.authorize(api_key_from(request, body.api_key))
    predictions = run_ocr(svc, image_refs(body.image))
    time_s = elapsed_s(request)
    boxes = bool(body.generate_bounding_boxes)
    content = [_ocr_body(p, time_s, boxes) for p in predictions]
    return JSONBody(content if isinstance(body.image, list) else content[0])


@router.post("/doctr/ocr")
def doctr_ocr(body: DoctrOcrRequest, request: Request) -> Response:
    _check(body.doctr_version_id, DOCTR_VERSIONS, "doctr_version_id")
    return _respond(request, body)


@router.post("/easy_ocr/ocr")
def easy_ocr(body: EasyOcrRequest, request: Request) -> Response:
    _check(body.easy_ocr_version_id, EASY_OCR_VERSIONS, "easy_ocr_version_id")
    for code in body.language_codes or ():
        _check(code, EASY_OCR_LANGUAGES, "language code")
    return _respond(request, body)


@router.post("/ocr/trocr")
def trocr(body: TrOcrRequest, request: Request) -> Response:
    _check(body.trocr_version_id, TROCR_VERSIONS, "trocr_version_id")
    return _respond(request, body)


@router.post("/ocr/pp-ocr")
def pp_ocr(body: PpOcrRequest, request: Request) -> Response:
    _check_pp_ocr(body)
    return _respond(request, body)
