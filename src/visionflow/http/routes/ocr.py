"""``POST /doctr/ocr``, ``/ocr/pp-ocr``, ``/easy_ocr/ocr``, ``/ocr/trocr`` (wire reference §3.9,
§4.10). All four run the same PP-OCR engine; each accepts its reference version ids. Word boxes
are computed only for ``generate_bounding_boxes=true``; ``/ocr/pp-ocr`` can skip a stage
(``none``: detection only, or the whole image recognized as one line)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.core.wire import detection_predictions
from visionflow.errors import InvalidInputError
from visionflow.http.access import authorize
from visionflow.http.deps import elapsed_s, services
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import image_refs
from visionflow.http.schemas import (
    DoctrOcrRequest,
    EasyOcrRequest,
    OcrRequestBase,
    PpOcrRequest,
    TrOcrRequest,
)
from visionflow.models.ocr import (
    EASY_OCR_LANGUAGES,
    EASY_OCR_VERSIONS,
    PP_OCR_SIZES,
    PP_OCR_STAGE_SIZES,
    OcrOptions,
    pp_ocr_options,
)
from visionflow.service.ocr import OcrPrediction, run_ocr

router = APIRouter(tags=["ocr"])

DOCTR_VERSIONS = ("default",)
TROCR_VERSIONS = ("trocr-base-printed", "trocr-small-printed", "trocr-large-printed")


def _check(value: str | None, supported: tuple[str, ...], field: str) -> None:
    if value is not None and value not in supported:
        raise InvalidInputError(
            f"unsupported {field} {value!r}: supported are {', '.join(supported)}",
            details={"supported": list(supported)},
        )


def _pp_ocr_options(body: PpOcrRequest) -> OcrOptions:
    """The stages the request names: ``text_detection``/``text_recognition`` (each defaulting
    to ``small``), or ``pp_ocr_version_id`` ``<det>-<rec>`` / one size for both."""
    words = bool(body.generate_bounding_boxes)
    version = body.pp_ocr_version_id
    if version is None:
        return pp_ocr_options(
            body.text_detection or "small", body.text_recognition or "small", words=words
        )
    parts = version.split("-")
    if (
        not 1 <= len(parts) <= 2
        or any(part not in PP_OCR_STAGE_SIZES for part in parts)
        or all(part == "none" for part in parts)
    ):
        supported = [
            f"{d}-{r}"
            for d in PP_OCR_STAGE_SIZES
            for r in PP_OCR_STAGE_SIZES
            if (d, r) != ("none", "none")
        ]
        raise InvalidInputError(
            f"unsupported pp_ocr_version_id {version!r}: use '<detection>-<recognition>' with "
            f"each one of {', '.join(PP_OCR_STAGE_SIZES)} and not both 'none' (e.g. "
            f"'small-small', 'small-none'), or a single size ({', '.join(PP_OCR_SIZES)})",
            details={"supported": [*PP_OCR_SIZES, *supported]},
        )
    return pp_ocr_options(parts[0], parts[-1], words=words)


def _ocr_body(prediction: OcrPrediction, time_s: float, boxes: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"result": prediction.result.text, "time": time_s, "parent_id": None}
    if boxes:
        width, height = prediction.image_wh
        body["image"] = {"width": width, "height": height}
        words = prediction.result.words
        body["predictions"] = detection_predictions(
            prediction.result.lines if words is None else words
        )
    return body


def _respond(request: Request, body: OcrRequestBase, options: OcrOptions | None = None) -> Response:
    svc = services(request)
    authorize(request, body.api_key)
    boxes = bool(body.generate_bounding_boxes)
    options = options or OcrOptions(words=boxes)
    predictions = run_ocr(svc, image_refs(body.image), options)
    time_s = elapsed_s(request)
    content = [_ocr_body(p, time_s, boxes) for p in predictions]
    return JSONBody(content if isinstance(body.image, list) else content[0])


@router.post(
    "/doctr/ocr",
    summary="OCR (doctr route)",
    description=(
        "Read the text of an image with the built-in PP-OCR models, answered in the shape of the "
        "reference's doctr route: the text and, with `generate_bounding_boxes`, word boxes."
    ),
)
def doctr_ocr(body: DoctrOcrRequest, request: Request) -> Response:
    _check(body.doctr_version_id, DOCTR_VERSIONS, "doctr_version_id")
    return _respond(request, body)


@router.post(
    "/easy_ocr/ocr",
    summary="OCR (EasyOCR route)",
    description=(
        "Read the text of an image with the built-in PP-OCR models, answered in the shape of the "
        "reference's EasyOCR route (`result` and word predictions)."
    ),
)
def easy_ocr(body: EasyOcrRequest, request: Request) -> Response:
    _check(body.easy_ocr_version_id, EASY_OCR_VERSIONS, "easy_ocr_version_id")
    for code in body.language_codes or ():
        _check(code, EASY_OCR_LANGUAGES, "language code")
    return _respond(request, body)


@router.post(
    "/ocr/trocr",
    summary="OCR (TrOCR route)",
    description=(
        "Recognize the whole image as one line of text (no detection stage), as the reference's "
        "TrOCR route does."
    ),
)
def trocr(body: TrOcrRequest, request: Request) -> Response:
    _check(body.trocr_version_id, TROCR_VERSIONS, "trocr_version_id")
    return _respond(request, body)


@router.post(
    "/ocr/pp-ocr",
    summary="OCR (PP-OCR)",
    description=(
        "Detect and recognize text with PP-OCR; `text_detection` / `text_recognition` (or "
        "`pp_ocr_version_id`) choose the model sizes, `none` skips a stage."
    ),
)
def pp_ocr(body: PpOcrRequest, request: Request) -> Response:
    return _respond(request, body, _pp_ocr_options(body))
