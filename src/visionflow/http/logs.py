"""Log records with the request id, as text or one JSON object per line, and the access log.

``request_id`` is a context variable set by the observing middleware; worker threads inherit it
(anyio copies the context), so a model's or a workflow's log lines carry the id of the request
they serve. Query strings in the access log have the values of secret-looking parameters
(``api_key``, ``*token*``, ``*secret*``, ``*password*``) replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["ACCESS_LOG", "configure_logging", "redact_query", "request_id"]

request_id: ContextVar[str | None] = ContextVar("visionflow_request_id", default=None)
ACCESS_LOG = logging.getLogger("visionflow.access")
_SECRET_WORDS = ("key", "token", "secret", "password")
# Attributes every LogRecord has; anything else came in ``extra=`` and goes into JSON lines.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact_query(query: str) -> str:
    """``query`` with the values of secret-looking parameters replaced by ``***``."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [
            (name, "***" if any(word in name.lower() for word in _SECRET_WORDS) else value)
            for name, value in pairs
        ],
        safe="*/:,",
    )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Root logging for the server: text lines with the request id, or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
