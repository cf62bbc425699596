"""The FastAPI application: routes, middleware and the one error handler.

Middleware, outermost first: observe (request id, metrics, access log) → admission (requests
in flight) → body size limit → Unicode check of JSON bodies → routes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from visionflow import __version__
from visionflow.http.admission import AdmissionMiddleware
from visionflow.http.errors import install_error_handlers
from visionflow.http.limits import BodyLimitMiddleware
from visionflow.http.observe import ObserveMiddleware
from visionflow.http.redact import PathRedactor
from visionflow.http.routes import (
    catalog,
    clip,
    docs,
    infer,
    info,
    legacy,
    models,
    ocr,
    pipelines,
    playground,
    workflows,
    yolo_world,
)
from visionflow.http.unicode import UnicodeBodyMiddleware
from visionflow.service.services import Services
from visionflow.streams import PipelineManager

__all__ = ["create_app"]

# Worker threads beyond the admission limit: health probes and metrics scrapes that need one.
_SPARE_THREADS = 8


def create_app(services: Services) -> FastAPI:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Synchronous routes run on anyio's worker threads (40 by default): every admitted
        # request must find one, or a burst of slow ones would queue the rest behind them.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(
            limiter.total_tokens, settings.max_inflight_requests + _SPARE_THREADS
        )
        services.start()
        try:
            yield
        finally:
            app.state.pipelines.close()  # every pipeline terminated before the services stop
            services.stop()

    app = FastAPI(
        title="visionflow",
        version=__version__,
        description="Self-hosted computer-vision inference, Roboflow-compatible wire format.",
        lifespan=lifespan,
        # Served by routes/docs.py from the package, so they work offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.pipelines = PipelineManager.for_services(services)
    app.state.server_id = str(uuid.uuid4())
    redactor = PathRedactor.for_server(settings.home, settings.workflows_sink_folder)
    install_error_handlers(app, services.metrics, redactor)
    # add_middleware puts each new one outside the previous ones.
    app.add_middleware(UnicodeBodyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        AdmissionMiddleware, max_inflight=settings.max_inflight_requests, metrics=services.metrics
    )
    app.add_middleware(ObserveMiddleware, metrics=services.metrics)
    app.include_router(info.router)
    app.include_router(models.router)
    app.include_router(catalog.router)
    app.include_router(infer.router)
    app.include_router(workflows.router)
    app.include_router(ocr.router)
    app.include_router(clip.router)
    app.include_router(yolo_world.router)
    app.include_router(pipelines.router)
    app.include_router(docs.router)
    app.include_router(playground.router)
    # The catch-all legacy route goes last so it never shadows a specific route.
    app.include_router(legacy.router)
    return app
