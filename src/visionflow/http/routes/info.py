"""``/info``, ``/healthz``, ``/readiness``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from visionflow import __version__
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody

router = APIRouter(tags=["server"])


@router.get("/info")
def info(request: Request) -> Response:
    return JSONBody(
        {
            "name": "visionflow Inference Server",
            "version": __version__,
            "uuid": request.app.state.server_id,
        }
    )


@router.get("/healthz")
def healthz() -> Response:
    return JSONBody({"status": "healthy"})


@router.get("/readiness")
def readiness(request: Request) -> Response:
    try:
        with services(request).database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONBody({"status": "not ready", "reason": "registry database unreachable"}, 503)
    return JSONBody({"status": "ready"})
