"""The registry suite runs against SQLite and the real PostgreSQL on 127.0.0.1:5432.

PostgreSQL gets one fresh, uniquely named database per test session (migrated once, emptied before
every test, dropped at the end). An unreachable server fails the suite unless
``VISIONFLOW_TEST_SKIP_POSTGRES=1`` is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from visionflow.store import Database

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SKIP_POSTGRES_ENV = "VISIONFLOW_TEST_SKIP_POSTGRES"
TABLES = ("workflows", "model_versions", "api_keys", "workspaces")


def _libpq(url: str) -> str:
    """psycopg wants ``postgresql://``; SQLAlchemy names the driver in the scheme."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    if os.environ.get(SKIP_POSTGRES_ENV) == "1":
        pytest.skip(f"{SKIP_POSTGRES_ENV}=1")
    name = f"visionflow_test_{uuid.uuid4().hex}"
    try:
        admin = _admin_connection()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({exc}); "
            f"set {SKIP_POSTGRES_ENV}=1 to run without it",
            pytrace=False,
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database = Database(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()
        with _admin_connection() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty registry database of each backend."""
    if request.param == "sqlite":
        sqlite = Database(f"sqlite:///{tmp_path / 'registry.db'}")
        sqlite.migrate()
        yield sqlite
        sqlite.dispose()
        return
    postgres: Database = request.getfixturevalue("postgres_database")
    with postgres.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield postgres
