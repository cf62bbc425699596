"""What sink blocks need from the layers above (``context.sinks``): the ``Sinks`` environment
the service injects, and the HTTP request and response it sends for them.

Kept apart from the blocks themselves so that the service layer can implement it without
importing the blocks (and the query language their manifests use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from visionflow.workflows.block import RunContext

__all__ = ["HttpRequest", "HttpResponse", "Sinks", "sinks_of"]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    files: dict[str, bytes] | None = None
    data: dict[str, str] | None = None
    timeout_s: float = 2.0
    # What the URL is for, as refusals name it: "webhook URL host '127.0.0.1' resolves to …".
    purpose: str = "URL"


@dataclass(frozen=True)
class HttpResponse:
    status_code: int


@runtime_checkable
class Sinks(Protocol):
    """What sink blocks need from the layers above."""

    @property
    def disabled(self) -> bool:
        """The request asked for no side effects (``disable_sinks``)."""
        ...

    @property
    def file_root(self) -> Path | None:
        """The folder ``local_file_sink`` writes under (``None``: file sinks are off)."""
        ...

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` if its URL (and every redirect) passes the URL rules; raise an
        exception saying why not, or on a transport error."""
        ...

    def submit(self, task: Callable[[], object]) -> None:
        """Run ``task`` in the background (fire-and-forget requests)."""
        ...


def sinks_of(context: RunContext) -> Sinks | None:
    found = getattr(context, "sinks", None)
    return found if isinstance(found, Sinks) else None
