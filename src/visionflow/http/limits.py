"""ASGI middleware: request start time and the request body size limit."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visionflow.errors import PayloadTooLargeError
from visionflow.http.responses import JSONBody

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuses bodies over ``max_body_bytes`` with 413 — by ``Content-Length`` before reading,
    and by counting while reading when the length is not declared (chunked uploads)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _error(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body is larger than the limit of {self.max_body_bytes} bytes "
            "(set VISIONFLOW_MAX_BODY_MB to change it)."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["started_at"] = time.perf_counter()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = False
            if too_large:
                error = self._error()
                response = JSONBody(error.to_body(), status_code=error.status_code)
                await response(scope, receive, send)
                return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No declared length (chunked upload): buffer up to the limit, then replay to the app.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                error = self._error()
                response = JSONBody(error.to_body(), status_code=error.status_code)
                await response(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
