"""Admission control: a bounded number of requests in flight per process.

Beyond ``max_inflight_requests`` a request is answered ``503`` with ``Retry-After`` at once
instead of queueing behind the others (a queue would only turn overload into timeouts). Health,
info and metrics routes are neither counted nor refused.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from visionflow.errors import OverloadedError
from visionflow.http.errors import error_response
from visionflow.service.metrics import Metrics

__all__ = ["EXEMPT_PATHS", "AdmissionMiddleware"]

EXEMPT_PATHS = frozenset(
    {"/info", "/healthz", "/readiness", "/metrics", "/v2/health/live", "/v2/health/ready"}
)


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, max_inflight: int, metrics: Metrics) -> None:
        self.app = app
        self.max_inflight = max_inflight
        self.metrics = metrics
        # Touched only on the event loop's thread: no lock needed.
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            self.metrics.rejections.labels(OverloadedError.code).inc()
            error = OverloadedError(
                f"The server is busy: {self.max_inflight} requests are in flight, the most it "
                "serves at once (VISIONFLOW_MAX_INFLIGHT_REQUESTS). Retry shortly.",
                retry_after_s=1,
            )
            await error_response(error)(scope, receive, send)
            return
        self.inflight += 1
        self.metrics.in_flight.set(self.inflight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
            self.metrics.in_flight.set(self.inflight)
