"""Keys with roles and expiry, the failed-authentication limit (on by default) and the opt-in
request-rate limits, through the HTTP app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from visionflow.config import Settings
from visionflow.errors import InvalidInputError
from visionflow.http.app import create_app
from visionflow.service.services import Services


def _app(tmp_path: Path, **settings: object) -> Iterator[tuple[TestClient, Services]]:
    built = Services.build(
        Settings(
            home=tmp_path / "home", register_demo_models=False, require_api_key=True
        ).with_overrides(**settings)
    )
    built.registry.create_workspace("acme")
    with TestClient(create_app(built)) as client:
        yield client, built
    built.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    yield from _app(tmp_path)


def _registry(client: TestClient, key: str) -> int:
    return client.get("/model/registry", headers={"Authorization": f"Bearer {key}"}).status_code


def test_failed_authentications_are_throttled_per_address_whatever_the_key(
    app: tuple[TestClient, Services],
) -> None:
    client, services = app
    _record, good = services.registry.create_api_key("acme")
    statuses = [_registry(client, f"vf_wrong_{index}") for index in range(20)]
    assert statuses == [401] * 20
    throttled = client.get("/model/registry", headers={"Authorization": "Bearer vf_other"})
    assert throttled.status_code == 429
    retry = int(throttled.headers["Retry-After"])
    assert 1 <= retry < 60
    assert "VISIONFLOW_AUTH_FAILURE_LIMIT" in throttled.json()["message"]
    # The address is throttled, whatever key it now sends, valid ones included.
    assert _registry(client, good) == 429
    # Health routes are never throttled.
    assert client.get("/info").status_code == 200
    metrics = client.get("/metrics", headers={"Authorization": "Bearer x"})
    assert metrics.status_code == 429


def test_failed_auth_limit_can_be_turned_off(tmp_path: Path) -> None:
    for client, _services in _app(tmp_path, auth_failure_limit=0):
        assert {_registry(client, f"vf_wrong_{index}") for index in range(40)} == {401}


def test_per_key_rate_limit(tmp_path: Path) -> None:
    for client, services in _app(tmp_path, rate_limit_per_key=3, rate_limit_window_s=60.0):
        _record, key = services.registry.create_api_key("acme")
        _record, other = services.registry.create_api_key("acme")
        assert [_registry(client, key) for _ in range(4)] == [200, 200, 200, 429]
        assert _registry(client, other) == 200
        limited = client.get(f"/model/registry?api_key={key}")
        assert "VISIONFLOW_RATE_LIMIT_PER_KEY" in limited.json()["message"]
        assert int(limited.headers["Retry-After"]) >= 1


def test_per_address_rate_limit(tmp_path: Path) -> None:
    for client, services in _app(tmp_path, rate_limit_per_address=2, rate_limit_window_s=60.0):
        _record, key = services.registry.create_api_key("acme")
        _record, other = services.registry.create_api_key("acme")
        assert [_registry(client, key), _registry(client, other)] == [200, 200]
        response = client.get("/model/registry", headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 429
        assert "VISIONFLOW_RATE_LIMIT_PER_ADDRESS" in response.json()["message"]


def test_expired_key_is_401_with_when(app: tuple[TestClient, Services]) -> None:
    client, services = app
    past = datetime.now(UTC) - timedelta(minutes=1)
    record, key = services.registry.create_api_key("acme", expires_at=past)
    response = client.get("/model/registry", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert f"#{record.id} expired at" in response.json()["message"]
    _record, future = services.registry.create_api_key(
        "acme", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    assert _registry(client, future) == 200


@pytest.mark.parametrize(
    ("role", "status"),
    [pytest.param("admin", 201, id="admin"), pytest.param("infer", 403, id="infer")],
)
def test_roles_on_a_workspace_change(
    app: tuple[TestClient, Services], role: str, status: int
) -> None:
    client, services = app
    _record, key = services.registry.create_api_key("acme", role=role)
    definition = {"version": "1.0", "inputs": [], "steps": [], "outputs": []}
    response = client.post(f"/acme/workflows/empty/versions?api_key={key}", json=definition)
    assert response.status_code == status, response.text


def test_unknown_role_is_refused(app: tuple[TestClient, Services]) -> None:
    _client, services = app
    with pytest.raises(InvalidInputError, match="admin, infer"):
        services.registry.create_api_key("acme", role="root")
