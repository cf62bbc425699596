"""Faults of the registry database with real components: a SQLite write lock held by another
process, PostgreSQL refusing connections, a read-only PostgreSQL database, and nothing listening
at all. Each surfaces as ``RegistryUnavailableError`` (503 with ``Retry-After`` over HTTP)
within a few seconds, and the registry recovers by itself once the fault is gone."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from tests.store.conftest import POSTGRES_ADMIN_URL, _admin_connection
from tests.workflows.fakes import definition
from visionflow.config import Settings
from visionflow.errors import RegistryUnavailableError
from visionflow.http.app import create_app
from visionflow.service.services import Services
from visionflow.store import Database, Registry

TIMEOUT_S = 1.0
# A fault must answer within the timeout plus this much (generous: a slow CI machine).
MARGIN_S = 4.0
GREETING = definition(
    [], {"name": "$inputs.name"}, inputs=[{"type": "WorkflowParameter", "name": "name"}]
)

_HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("INSERT INTO workspaces (name, created_at) VALUES ('locker', '2026-01-01')")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[tuple[Registry, Path]]:
    path = tmp_path / "registry.db"
    database = Database(f"sqlite:///{path}", timeout_s=TIMEOUT_S)
    database.migrate()
    registry = Registry(database)
    registry.create_workspace("acme")
    yield registry, path
    database.dispose()


def _hold_sqlite_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    holder.communicate("\n", timeout=10)


def test_sqlite_write_lock_held_elsewhere_is_unavailable_then_recovers(
    sqlite_registry: tuple[Registry, Path],
) -> None:
    registry, path = sqlite_registry
    holder = _hold_sqlite_lock(path)
    try:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailableError, match="locked") as caught:
            registry.create_workspace("blocked")
        assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
        assert caught.value.retry_after_s is not None
        assert "VISIONFLOW_DATABASE_TIMEOUT_S" in caught.value.message
        # Readers are not blocked by a writer (WAL).
        assert registry.find_workspace("acme") is not None
    finally:
        _release(holder)
    assert registry.create_workspace("after").name == "after"
    assert registry.find_workspace("locker") is None  # the holder's write was rolled back


def test_sqlite_lock_over_http_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home", register_demo_models=False, database_timeout_s=TIMEOUT_S
    )
    services = Services.build(settings)
    services.registry.create_workspace("acme")
    _record, key = services.registry.create_api_key("acme")
    holder = _hold_sqlite_lock(tmp_path / "home" / "registry.db")
    try:
        with TestClient(create_app(services)) as client:
            push = f"/acme/workflows/greeting/versions?api_key={key}"
            response = client.post(push, json=GREETING)
            assert response.status_code == 503
            assert response.headers["Retry-After"].isdigit()
            assert response.json()["error_type"] == "registry_unavailable"
            # Reading (key lookups, listings) goes on meanwhile.
            assert client.get(f"/acme/workflows?api_key={key}").status_code == 200
            _release(holder)
            assert client.post(push, json=GREETING).status_code == 201
    finally:
        if holder.poll() is None:
            _release(holder)
        services.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"visionflow_faults_{uuid.uuid4().hex}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with _admin_connection() as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
        )
        _terminate(admin, name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _terminate(admin: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


def _alter(name: str, change: str) -> None:
    """``ALTER DATABASE name <change>`` and drop its sessions, so every connection sees it."""
    with _admin_connection() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} " + change).format(sql.Identifier(name)))
        _terminate(admin, name)


def test_postgres_refusing_connections_is_unavailable_then_recovers(
    postgres_url: str, tmp_path: Path
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    settings = Settings(
        home=tmp_path / "home",
        database_url=postgres_url,
        register_demo_models=False,
        database_timeout_s=TIMEOUT_S,
    )
    services = Services.build(settings)
    services.registry.create_workspace("acme")
    _record, key = services.registry.create_api_key("acme")
    try:
        with TestClient(create_app(services)) as client:
            listing = f"/acme/workflows?api_key={key}"
            assert client.get(listing).status_code == 200
            _alter(name, "ALLOW_CONNECTIONS false")
            started = time.monotonic()
            refused = client.get(listing)
            assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"].isdigit()
            assert "temporarily unavailable" in refused.json()["message"]
            assert client.get("/readiness").status_code == 503
            assert client.get("/healthz").status_code == 200
            _alter(name, "ALLOW_CONNECTIONS true")
            assert client.get(listing).status_code == 200
            assert client.get("/readiness").json() == {"status": "ready"}
    finally:
        services.close()


def test_postgres_read_only_is_unavailable_for_writes_then_recovers(postgres_url: str) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    database = Database(postgres_url, timeout_s=TIMEOUT_S)
    database.migrate()
    registry = Registry(database)
    registry.create_workspace("acme")
    try:
        _alter(name, "SET default_transaction_read_only = on")
        with pytest.raises(RegistryUnavailableError, match="read-only"):
            registry.create_workspace("blocked")
        assert registry.find_workspace("acme") is not None
        _alter(name, "SET default_transaction_read_only = off")
        assert registry.create_workspace("after").name == "after"
    finally:
        database.dispose()


def test_postgres_nothing_listening_is_unavailable_quickly() -> None:
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/none", timeout_s=TIMEOUT_S)
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match="unreachable"):
        Registry(database).find_workspace("acme")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    database.dispose()
