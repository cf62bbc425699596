"""Engine, sessions and schema migrations (Alembic, run programmatically at start-up).

Faults of the database itself — a write lock another process holds past the timeout, a server
that refuses or drops connections, a read-only database — surface from ``session()`` as
``RegistryUnavailableError`` (503 with ``Retry-After``); the pool is then reset, so the next
request reconnects and the registry recovers by itself once the fault is gone. Every other
database error is a bug and propagates as it is (a 500).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from visionflow.errors import RegistryUnavailableError

__all__ = ["HEAD_REVISION", "Database", "transient_fault"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision (a test checks it against the migration scripts).
HEAD_REVISION = "0002"
# SQLite's messages for faults that pass (locks) or that an operator fixes (files, disk).
_SQLITE_FAULTS = (
    ("locked", "locked by another process"),
    ("busy", "locked by another process"),
    ("readonly", "read-only"),
    ("read-only", "read-only"),
    ("unable to open", "cannot be opened"),
    ("disk i/o error", "failing disk I/O"),
    ("disk is full", "out of disk space"),
)
# PostgreSQL SQLSTATE classes and codes of faults of the server or the connection.
_POSTGRES_CLASSES = {"08": "unreachable", "53": "out of resources", "57": "shutting down"}
_POSTGRES_CODES = {
    "25006": "read-only",
    "55000": "not accepting connections",
    "55P03": "locked",
    "57014": "too slow (statement timeout)",
    "40001": "busy (serialization failure)",
    "40P01": "busy (deadlock)",
}


def transient_fault(exc: BaseException, *, is_sqlite: bool) -> str | None:
    """Why ``exc`` is a fault of the database that a retry may get past, or ``None`` (a bug)."""
    if isinstance(exc, PoolTimeoutError):
        return "out of connections"
    if not isinstance(exc, DBAPIError):
        return None
    if is_sqlite:
        text = str(exc.orig).lower()
        return next((why for needle, why in _SQLITE_FAULTS if needle in text), None)
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        if state in _POSTGRES_CODES:
            return _POSTGRES_CODES[state]
        if state[:2] in _POSTGRES_CLASSES:
            return _POSTGRES_CLASSES[state[:2]]
    # No SQLSTATE: the connection failed before the server answered (refused, reset, timeout).
    if exc.connection_invalidated or (
        state is None and isinstance(exc, OperationalError | InterfaceError)
    ):
        return "unreachable"
    return None


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the CLI write while the server reads; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    return apply


class Database:
    """One engine per URL; ``migrate()`` brings the schema to the newest revision.

    ``timeout_s`` bounds how long one query waits for a lock or a connection.
    """

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        parsed = make_url(url)
        self.url = url
        self.timeout_s = timeout_s
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": timeout_s}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas(int(timeout_s * 1000)))
        else:
            wait_ms = int(timeout_s * 1000)
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_timeout=timeout_s,
                connect_args={
                    # libpq's connect timeout is whole seconds, at least 2.
                    "connect_timeout": max(2, math.ceil(timeout_s)),
                    # A lock held elsewhere fails the query instead of holding the request;
                    # registry queries are tiny, so a statement past 10 timeouts is stuck.
                    "options": f"-c lock_timeout={wait_ms} -c statement_timeout={wait_ms * 10}",
                },
            )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def schema_revision(self) -> str | None:
        """The alembic revision the database is at (None: not created yet)."""
        try:
            with self.faults_as_unavailable(), self.engine.connect() as connection:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        except (OperationalError, ProgrammingError):  # no such table: a new database
            return None
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        """Bring the schema to ``HEAD_REVISION``: a database already there is left alone, an
        empty one gets the ORM schema and the head stamp in one transaction (the same schema as
        the migration scripts make, a test compares them), both without importing alembic (a
        fast first start); an older one is upgraded by alembic."""
        revision = self.schema_revision()
        if revision == HEAD_REVISION:
            return
        if revision is None and self._create_if_empty():
            return
        self.upgrade_with_alembic()

    def upgrade_with_alembic(self) -> None:
        """Run the migration scripts up to head (what ``migrate`` does for an older schema)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.faults_as_unavailable(), self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _create_if_empty(self) -> bool:
        from visionflow.store.schema import Base

        with self.faults_as_unavailable(), self.engine.begin() as connection:
            if inspect(connection).get_table_names():
                return False  # tables without a revision: leave it to alembic
            Base.metadata.create_all(connection)
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                {"head": HEAD_REVISION},
            )
        return True

    @contextmanager
    def faults_as_unavailable(self) -> Iterator[None]:
        """Turn database faults raised inside into ``RegistryUnavailableError`` (see module)."""
        try:
            yield
        except (DBAPIError, PoolTimeoutError) as exc:
            why = transient_fault(exc, is_sqlite=self.is_sqlite)
            if why is None:
                raise
            # Connections opened during the fault (e.g. read-only) must not outlive it.
            self.engine.dispose()
            raise RegistryUnavailableError(
                f"The registry database is temporarily unavailable ({why}); retry shortly. "
                "Queries wait up to VISIONFLOW_DATABASE_TIMEOUT_S "
                f"({self.timeout_s:g} s) for a lock or a connection.",
                retry_after_s=max(1.0, self.timeout_s),
            ) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.faults_as_unavailable(), self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
