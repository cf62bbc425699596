"""Change notices between processes that share one PostgreSQL registry (``LISTEN``/``NOTIFY``).

A writer announces a change inside the transaction that makes it (``announce``): PostgreSQL
delivers the notice to every listening connection when, and only when, that transaction commits.
Each server process that caches what the registry holds runs one ``ChangeListener``: a thread
with its own connection that hands every notice to a callback, so a stored workflow pushed
through one replica (or the CLI) is dropped from every other replica's cache within the time a
notice takes to arrive (milliseconds on one network).

Notices sent while a listener is disconnected are lost (PostgreSQL keeps none for absent
listeners), so each (re)connection first reports a gap: the caller then drops everything it
cached, and the bound on staleness is the time to reconnect (``retry_s``, doubled up to
``max_retry_s`` while the server stays away) instead of a cache's expiry. SQLite has no such
mechanism: a single process invalidates its own cache directly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

__all__ = ["CHANNEL", "Change", "ChangeListener", "announce"]

CHANNEL = "visionflow_changes"
_log = logging.getLogger(__name__)
# How often the listening thread looks up from an idle connection to see whether it must stop.
_POLL_S = 0.5


@dataclass(frozen=True)
class Change:
    """What changed: ``kind`` (``workflow``: a stored workflow's new version; ``model``: a model
    version registered or deleted, ``name`` its ``project/version``; ``workspace``: a deleted
    workspace, ``name`` empty) and its names (workspace, workflow id or model)."""

    kind: str
    workspace: str
    name: str

    def to_payload(self) -> str:
        return json.dumps({"kind": self.kind, "workspace": self.workspace, "name": self.name})

    @classmethod
    def from_payload(cls, payload: str) -> Change | None:
        try:
            data = json.loads(payload)
            return cls(str(data["kind"]), str(data["workspace"]), str(data["name"]))
        except (ValueError, KeyError, TypeError):
            return None


def announce(session: Session, change: Change) -> None:
    """Notify every listener of ``change`` when ``session``'s transaction commits."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": CHANNEL, "payload": change.to_payload()},
    )


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://…`` (SQLAlchemy's form) as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A thread listening on ``CHANNEL``; ``on_change`` per notice, ``on_gap`` per (re)connect."""

    def __init__(
        self,
        url: str,
        on_change: Callable[[Change], None],
        on_gap: Callable[[], None],
        *,
        connect_timeout_s: float = 2.0,
        retry_s: float = 0.5,
        max_retry_s: float = 8.0,
    ) -> None:
        self._url = _libpq_url(url)
        self._on_change = on_change
        self._on_gap = on_gap
        self._connect_timeout_s = max(2, int(connect_timeout_s + 0.999))
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.connections = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="visionflow-change-listener", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_POLL_S * 4)
            self._thread = None

    def _run(self) -> None:
        # Imported here: a SQLite registry (the default) never loads the PostgreSQL driver.
        import psycopg

        wait = self._retry_s
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=self._connect_timeout_s
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.connections += 1
                    # Listening before reporting the gap: nothing committed after it is missed.
                    self._report_gap()
                    self.connected.set()
                    wait = self._retry_s
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=_POLL_S):
                            self._dispatch(notice.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                _log.warning(
                    "registry change listener lost its connection (%s); reconnecting in %.1f s",
                    type(exc).__name__,
                    wait,
                )
                self._stop.wait(wait)
                wait = min(self._max_retry_s, wait * 2)
        self.connected.clear()

    def _report_gap(self) -> None:
        try:
            self._on_gap()
        except Exception:  # a cache's bug must not stop the listener
            _log.exception("registry change listener: gap callback failed")

    def _dispatch(self, payload: str) -> None:
        change = Change.from_payload(payload)
        if change is None:
            _log.warning("registry change listener: ignored a malformed notice %r", payload[:200])
            return
        try:
            self._on_change(change)
        except Exception:
            _log.exception("registry change listener: change callback failed")
