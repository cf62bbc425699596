"""One place that turns exceptions into the compatible error body ``{"message", "error_type"}``."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from visionflow.errors import VisionflowError
from visionflow.http.redact import PathRedactor
from visionflow.http.responses import JSONBody
from visionflow.service.metrics import Metrics
from visionflow.workflows.nesting import nesting_depth

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("visionflow.http")


# Inputs echoed in a 422's ``detail`` nest no deeper than this (JSON encoders stop at 255).
_MAX_ECHO_DEPTH = 32


def _echoable(error: dict[str, Any]) -> dict[str, Any]:
    """``error`` with its ``input`` replaced by a note when it nests too deeply to echo."""
    if nesting_depth(error.get("input"), _MAX_ECHO_DEPTH) <= _MAX_ECHO_DEPTH:
        return error
    return {**error, "input": f"(nests more than {_MAX_ECHO_DEPTH} levels deep; not echoed)"}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def error_response(exc: VisionflowError, redactor: PathRedactor | None = None) -> Response:
    """The compatible error body, with ``Retry-After`` (whole seconds, at least 1) when the error
    says when a retry may succeed, and server paths redacted."""
    headers = None
    if exc.retry_after_s is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    body = exc.to_body() if redactor is None else redactor.value(exc.to_body())
    # ``http_status``: the class's status, or the one an error took from its cause.
    return JSONBody(body, status_code=exc.http_status, headers=headers)


# Statuses of refusals that protect the server (counted as rejections in the metrics).
_REJECTIONS = {408, 413, 429, 503}


def install_error_handlers(app: FastAPI, metrics: Metrics, redactor: PathRedactor) -> None:
    async def visionflow_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VisionflowError)
        if exc.http_status >= 500:
            log.error("request failed: %s", exc.message)
        if exc.http_status in _REJECTIONS:
            reason = exc.details.get("limit")
            metrics.rejections.labels(reason if isinstance(reason, str) else exc.code).inc()
        return error_response(exc, redactor)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        body = {
            "message": _validation_message(exc),
            "error_type": "validation_error",
            "detail": jsonable_encoder(
                [_echoable(dict(error)) for error in exc.errors()],
                custom_encoder={Exception: str},
            ),
        }
        return JSONBody(body, status_code=422)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        body = {"message": str(exc.detail), "error_type": "http_error", "detail": exc.detail}
        return JSONBody(body, status_code=exc.status_code, headers=exc.headers)

    async def unexpected_error(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return JSONBody({"message": "Internal error.", "error_type": "internal_error"}, 500)

    app.add_exception_handler(VisionflowError, visionflow_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
