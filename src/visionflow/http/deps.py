"""Access to the app's services from route handlers."""

from __future__ import annotations

import time

from starlette.requests import Request

from visionflow.service.services import Services

__all__ = ["elapsed_s", "services"]


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def elapsed_s(request: Request) -> float:
    started = getattr(request.state, "started_at", None)
    return time.perf_counter() - started if started is not None else 0.0
