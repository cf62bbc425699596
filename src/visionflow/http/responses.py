"""A fast JSON response (orjson, numpy-aware)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["JSONBody"]

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def _valid_text(text: str) -> str:
    """``text`` with each unpaired surrogate replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def _writable(value: Any) -> Any:
    """``value`` with what orjson refuses made writable: integers beyond 64 bits (e.g. echoed
    from a request) become raw JSON fragments of their exact digits (null past 4300 digits),
    strings with unpaired surrogates (e.g. made by a workflow's template) get U+FFFD instead."""
    if isinstance(value, dict):
        return {_writable(key): _writable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_writable(item) for item in value]
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, int) and not _INT64_MIN <= value <= _UINT64_MAX:
        try:
            return orjson.Fragment(str(value).encode())
        except ValueError:  # past Python's int-to-text digit limit (4300 digits)
            return None
    return value


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError as error:
            if "64-bit" not in str(error) and "surrogates" not in str(error):
                raise
            return orjson.dumps(_writable(content), option=orjson.OPT_SERIALIZE_NUMPY)
