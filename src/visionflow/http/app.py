"""The FastAPI application: routes, middleware and the one error handler."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from visionflow import __version__
from visionflow.http.errors import install_error_handlers
from visionflow.http.limits import BodyLimitMiddleware
from visionflow.http.routes import clip, infer, info, legacy, models, ocr, workflows, yolo_world
from visionflow.http.unicode import UnicodeBodyMiddleware
from visionflow.service.services import Services

__all__ = ["create_app"]


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="visionflow",
        version=__version__,
        description="Self-hosted computer-vision inference, Roboflow-compatible wire format.",
    )
    app.state.services = services
    app.state.server_id = str(uuid.uuid4())
    install_error_handlers(app)
    # Added first, so it runs inside the body limit and reads only bodies within it.
    app.add_middleware(UnicodeBodyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=services.settings.max_body_bytes)
    app.include_router(info.router)
    app.include_router(models.router)
    app.include_router(infer.router)
    app.include_router(workflows.router)
    app.include_router(ocr.router)
    app.include_router(clip.router)
    app.include_router(yolo_world.router)
    # The catch-all legacy route goes last so it never shadows a specific route.
    app.include_router(legacy.router)
    return app
