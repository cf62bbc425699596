"""A stored workflow pushed through one server is run at once by another on the same PostgreSQL
registry, although both cache definitions (the change notice drops the cached copy); one server
on its own forgets its cached copy when it stores a new version."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from tests.store.conftest import POSTGRES_ADMIN_URL, _admin_connection
from tests.workflows.fakes import definition
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services

INPUTS = [{"type": "WorkflowParameter", "name": "name"}]
FIRST = definition([], {"first": "$inputs.name"}, inputs=INPUTS)
SECOND = definition([], {"second": "$inputs.name"}, inputs=INPUTS)
DEADLINE_S = 5.0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"visionflow_changes_{uuid.uuid4().hex}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with _admin_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _services(home: Path, database_url: str | None) -> Services:
    settings = Settings(
        home=home,
        database_url=database_url,
        register_demo_models=False,
        workflows_definition_cache_s=900,
    )
    return Services.build(settings)


def _outputs(client: TestClient, key: str, use_cache: bool = True) -> list[str]:
    response = client.post(
        "/acme/workflows/greeting",
        json={"api_key": key, "inputs": {"name": "Ada"}, "use_cache": use_cache},
    )
    assert response.status_code == 200, response.text
    outputs: list[dict[str, Any]] = response.json()["outputs"]
    return sorted(outputs[0])


@contextmanager
def _first_version_cached_on_b(
    tmp_path: Path, postgres_url: str
) -> Iterator[tuple[Services, TestClient, TestClient, str]]:
    """Two servers on one PostgreSQL registry, both listening for changes; workspace ``acme``
    with an admin key; ``greeting`` v1 pushed through A and run (so cached for 900 s) on B.
    Yields A's services, both clients and the key."""
    replica_a = _services(tmp_path / "a", postgres_url)
    replica_b = _services(tmp_path / "b", postgres_url)
    replica_a.registry.create_workspace("acme")
    _record, key = replica_a.registry.create_api_key("acme", role="admin")
    with ExitStack() as stack:
        client_a = stack.enter_context(TestClient(create_app(replica_a)))
        client_b = stack.enter_context(TestClient(create_app(replica_b)))
        stack.callback(replica_a.close)
        stack.callback(replica_b.close)
        for services in (replica_a, replica_b):
            assert services.listener is not None
            assert services.listener.connected.wait(10)
        assert client_a.post(_push(key), json=FIRST).status_code == 201
        assert _outputs(client_b, key) == ["first"]
        yield replica_a, client_a, client_b, key


def _push(key: str) -> str:
    return f"/acme/workflows/greeting/versions?api_key={key}"


def test_a_version_pushed_through_one_replica_runs_on_the_other_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    with _first_version_cached_on_b(tmp_path, postgres_url) as (_a, client_a, client_b, key):
        assert client_a.post(_push(key), json=SECOND).status_code == 201
        started = time.monotonic()
        while _outputs(client_b, key) != ["second"]:
            assert time.monotonic() - started < DEADLINE_S, "replica B kept the old version"
            time.sleep(0.02)
        assert _outputs(client_a, key) == ["second"]
        assert _outputs(client_b, key, use_cache=False) == ["second"]


def test_a_workspace_deleted_through_one_replica_leaves_no_cached_workflow_on_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    with _first_version_cached_on_b(tmp_path, postgres_url) as (replica_a, _a, client_b, _key):
        # The workspace goes (with its key and workflow) and a new one takes its name.
        replica_a.registry.delete_workspace("acme", force=True)
        replica_a.registry.create_workspace("acme")
        _record, new_key = replica_a.registry.create_api_key("acme", role="admin")
        started = time.monotonic()
        while True:
            response = client_b.post(
                "/acme/workflows/greeting", json={"api_key": new_key, "inputs": {"name": "Ada"}}
            )
            if response.status_code == 404:
                break
            assert time.monotonic() - started < DEADLINE_S, "replica B ran the deleted workflow"
            time.sleep(0.02)


def test_one_server_forgets_its_cached_copy_when_it_stores_a_version(tmp_path: Path) -> None:
    services = _services(tmp_path / "home", None)
    services.registry.create_workspace("acme")
    _record, key = services.registry.create_api_key("acme", role="admin")
    assert services.listener is None
    try:
        with TestClient(create_app(services)) as client:
            assert services.listener is None  # SQLite: nothing to listen to
            assert client.post(_push(key), json=FIRST).status_code == 201
            assert _outputs(client, key) == ["first"]
            assert client.post(_push(key), json=SECOND).status_code == 201
            assert _outputs(client, key) == ["second"]
    finally:
        services.close()
