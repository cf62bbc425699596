"""ASGI middleware: JSON bodies whose strings are not valid Unicode are refused with a 400.

JSON allows ``"\\ud800"``, an unpaired UTF-16 surrogate, and Python's JSON parser accepts it
(and raw surrogate bytes) into a ``str`` that cannot be encoded as UTF-8: the tokenizer, SQLite
and the JSON response writer all fail on such a string. One check at the door, before any route
sees the body, instead of one at each of those places.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visionflow.errors import InvalidInputError
from visionflow.http.responses import JSONBody

__all__ = ["UnicodeBodyMiddleware", "unpaired_surrogate"]

# Bytes that may decode to a surrogate: a ``\uD800``-``\uDFFF`` escape, or raw UTF-8-style
# surrogate bytes (``json.loads`` decodes bytes with ``surrogatepass``). Only bodies with one of
# these are parsed here; every other body passes untouched. Each starts with a backslash or
# 0xED: a body with neither (base64 images have neither) skips the regex, found with two
# ``memchr`` scans (~0.1 ms for a 4 MB body, where the regex takes ~12 ms).
_CANDIDATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_CANDIDATE_FIRST_BYTES = (b"\\", b"\xed")
_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(scope: Scope) -> bool:
    """Whether the route may parse the body as JSON (FastAPI also does with no content type)."""
    content_type: bytes | None = dict(scope.get("headers") or []).get(b"content-type")
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def unpaired_surrogate(value: Any) -> tuple[str, str] | None:
    """``(where, escape)`` of the first string in ``value`` (a parsed JSON document; keys
    included) holding an unpaired surrogate, e.g. ``("inputs.p", "\\ud800")``; ``None`` if all
    strings are valid Unicode. Iterative, so any nesting depth is fine."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        texts: list[tuple[str, str]] = []
        if isinstance(item, str):
            texts.append((item, where))
        elif isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                texts.append((key, f"{path} (the key)"))
                stack.append((child, path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
        for text, path in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                return path or "body", f"\\u{ord(text[exc.start]):04x}"
    return None


def _refusal(body: bytes) -> InvalidInputError | None:
    if not any(first in body for first in _CANDIDATE_FIRST_BYTES) or not _CANDIDATE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON (or too deep): the route's own parsing answers
    found = unpaired_surrogate(parsed)
    if found is None:
        return None
    where, escape = found
    # ``ascii``: the offending string itself cannot be written into the response.
    return InvalidInputError(
        f"Invalid request: {ascii(where)[1:-1]}: the string holds an unpaired UTF-16 surrogate "
        f"({escape}); JSON strings must be valid Unicode text"
    )


class UnicodeBodyMiddleware:
    """Reads JSON request bodies that might hold surrogates, refuses those that do (400) and
    replays the others to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        error = _refusal(body)
        if error is not None:
            response = JSONBody(error.to_body(), status_code=error.status_code)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
