"""ASGI middleware that observes every request: its id, its metrics and its access-log line.

- ``X-Request-Id``: taken from the request when it is a sane token (≤ 128 characters of
  letters, digits, ``-``, ``_``, ``.``, ``:``), otherwise made up; echoed on every response and
  set in ``logs.request_id`` while the request runs.
- Metrics: ``visionflow_requests_total{method,route,status}`` and the latency histogram, labelled
  by the matched route's template (``unmatched`` when none matched).
- One access-log line per request, with the query string redacted (keys never reach the log).
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visionflow.http.logs import ACCESS_LOG, redact_query, request_id
from visionflow.service.metrics import Metrics

__all__ = ["ObserveMiddleware"]

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _SANE_ID.fullmatch(text) else None
    return None


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(elapsed)
            query = redact_query(scope.get("query_string", b"").decode("latin-1"))
            path = scope.get("path", "") + (f"?{query}" if query else "")
            client = scope.get("client")
            ACCESS_LOG.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-",
                method,
                path,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "query": query,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                },
            )
            request_id.reset(token)
