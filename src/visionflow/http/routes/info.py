"""Server info and health: ``/info``, ``/healthz``, ``/readiness``, KServe-v2 style
``/v2/health/live`` and ``/v2/health/ready``, and ``/metrics`` (Prometheus).

These handlers are ``async`` and never use the worker threads that serve requests, and the
admission limit does not count them, so they answer whatever the load. Readiness asks the
registry on a thread of its own, with a one-second deadline.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from visionflow import __version__
from visionflow.errors import VisionflowError
from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.service.metrics import CONTENT_TYPE

router = APIRouter(tags=["server"])

READINESS_DEADLINE_S = 1.0
# Readiness probes get threads of their own, so a saturated worker pool cannot delay them.
_probe_threads = anyio.CapacityLimiter(4)


@router.get(
    "/info",
    summary="Server information",
    description=(
        "Name, version and instance id of this server, and how models are deployed (`local` or "
        "`ray-serve` with replica counts). Needs no API key."
    ),
)
async def info(request: Request) -> Response:
    # The Ray executor asks the Serve controller: off the event loop, on the probes' threads.
    executor = services(request).inference.executor
    deployment = await anyio.to_thread.run_sync(executor.deployment, limiter=_probe_threads)
    return JSONBody(
        {
            "name": "visionflow Inference Server",
            "version": __version__,
            "uuid": request.app.state.server_id,
            "deployment": deployment.as_dict(),
        }
    )


@router.get(
    "/healthz",
    summary="Liveness probe",
    description=(
        'Answers `{"status": "healthy"}` as long as the process serves HTTP; never waits '
        "behind model work."
    ),
)
async def healthz() -> Response:
    return JSONBody({"status": "healthy"})


@router.get(
    "/v2/health/live",
    summary="Liveness probe (KServe v2)",
    description='KServe-v2 style liveness: `{"live": true}` while the process serves HTTP.',
)
async def live() -> Response:
    return JSONBody({"live": True})


async def _registry_reason(request: Request) -> str | None:
    """Why the server is not ready, or ``None`` when the registry answers in time."""
    engine = services(request).database.engine

    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        with anyio.fail_after(READINESS_DEADLINE_S):
            await anyio.to_thread.run_sync(ping, abandon_on_cancel=True, limiter=_probe_threads)
    except TimeoutError:
        return f"registry database did not answer within {READINESS_DEADLINE_S:g} s"
    except (SQLAlchemyError, VisionflowError):
        return "registry database unreachable"
    return None


@router.get(
    "/readiness",
    summary="Readiness probe",
    description=(
        '`200 {"status": "ready"}` when the registry database answers within one second, '
        "else `503` with the reason and `Retry-After`."
    ),
)
async def readiness(request: Request) -> Response:
    reason = await _registry_reason(request)
    if reason is not None:
        return JSONBody({"status": "not ready", "reason": reason}, 503, {"Retry-After": "1"})
    return JSONBody({"status": "ready"})


@router.get(
    "/v2/health/ready",
    summary="Readiness probe (KServe v2)",
    description=(
        'KServe-v2 style readiness: `{"ready": true}` when the registry database answers '
        "within one second, else `503` with the reason."
    ),
)
async def ready(request: Request) -> Response:
    reason = await _registry_reason(request)
    if reason is not None:
        return JSONBody({"ready": False, "reason": reason}, 503, {"Retry-After": "1"})
    return JSONBody({"ready": True})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Request, inference, model-load and workflow metrics in the Prometheus text format. "
        "Needs an API key where introspection does (`VISIONFLOW_INTROSPECTION_REQUIRES_KEY`)."
    ),
)
async def metrics(request: Request) -> Response:
    """Prometheus text format. Needs a key where introspection does (see http/access.py)."""
    await anyio.to_thread.run_sync(authorize, request, limiter=_probe_threads)
    # On a thread: in Ray mode rendering asks the model tier's metrics hub.
    body = await anyio.to_thread.run_sync(services(request).metrics.render, limiter=_probe_threads)
    return Response(body, media_type=CONTENT_TYPE)
