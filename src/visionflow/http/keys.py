"""Where the API key comes from: query > ``Authorization: Bearer`` header > body (§0.2)."""

from __future__ import annotations

from starlette.requests import Request

from visionflow.service.auth import normalize_api_key

__all__ = ["api_key_from"]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_key_from(
    request: Request, body_key: str | None = None, *, query: bool = True
) -> str | None:
    """The caller's key; ``query=False`` for routes where the reference reads no query key."""
    candidates = [
        request.query_params.get("api_key") if query else None,
        _bearer(request),
        body_key,
    ]
    for candidate in candidates:
        key = normalize_api_key(candidate)
        if key is not None:
            return key
    return None
