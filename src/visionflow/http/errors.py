"""One place that turns exceptions into the compatible error body ``{"message", "error_type"}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from visionflow.errors import VisionflowError
from visionflow.http.responses import JSONBody

__all__ = ["install_error_handlers"]

log = logging.getLogger("visionflow.http")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def visionflow_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VisionflowError)
        # ``http_status``: the class's status, or the one an error took from its cause.
        if exc.http_status >= 500:
            log.error("request failed: %s", exc.message)
        return JSONBody(exc.to_body(), status_code=exc.http_status)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        body = {
            "message": _validation_message(exc),
            "error_type": "validation_error",
            "detail": jsonable_encoder(exc.errors(), custom_encoder={Exception: str}),
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
