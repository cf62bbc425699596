"""``GET /models`` (every model the key may use, loaded or not) and
``POST /models/{project}/{version}`` (an uploaded ONNX file registered)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CLASS_NAMES, Tenant
from visionflow.service.services import Services


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_empty_catalog(client: TestClient) -> None:
    response = client.get("/models")
    assert response.status_code == 200
    assert response.json() == {"workspace": None, "visible_workspaces": ["demo"], "models": []}


def test_lists_registered_models_before_they_load(client: TestClient, tenant: Tenant) -> None:
    body = client.get("/models", headers=_auth(tenant.key)).json()
    assert (body["workspace"], body["visible_workspaces"]) == ("acme", ["acme", "demo"])
    [entry] = body["models"]
    assert entry["model_id"] == "known/1"
    assert entry["workspace"] == "acme"
    assert entry["task_type"] == "object-detection"
    assert entry["request_path"] == "/infer/object_detection"
    assert entry["class_names"] == list(CLASS_NAMES)
    assert (entry["input_width"], entry["input_height"]) == (320, 320)
    assert entry["versions"] == [1]
    assert entry["loaded"] is False
    assert client.get("/model/registry", headers=_auth(tenant.key)).json()["models"] == []

    client.post("/model/add", json={"model_id": "known/1"}, headers=_auth(tenant.key))
    [entry] = client.get("/models", headers=_auth(tenant.key)).json()["models"]
    assert entry["loaded"] is True


def test_own_workspace_first_then_demo_each_id_once(
    client: TestClient, services: Services, tenant: Tenant, fixture_onnx: Path
) -> None:
    services.registry.ensure_workspace("demo")
    services.models.add_from_path("demo", "known/1", fixture_onnx)
    services.models.add_from_path("demo", "shared/1", fixture_onnx)
    services.models.add_from_path("acme", "known/2", fixture_onnx)
    models = client.get("/models", headers=_auth(tenant.key)).json()["models"]
    assert [(m["workspace"], m["model_id"]) for m in models] == [
        ("acme", "known/1"),
        ("acme", "known/2"),
        ("demo", "shared/1"),
    ]
    assert models[0]["versions"] == [1, 2]


def test_upload_registers_an_onnx_file(
    client: TestClient, tenant: Tenant, fixture_onnx: Path
) -> None:
    response = client.post(
        "/models/uploaded/3",
        files={"file": ("export.onnx", fixture_onnx.read_bytes())},
        headers=_auth(tenant.key),
    )
    assert response.status_code == 201, response.text
    assert response.json()["model_id"] == "uploaded/3"
    assert response.json()["workspace"] == "acme"
    ids = [m["model_id"] for m in client.get("/models", headers=_auth(tenant.key)).json()["models"]]
    assert ids == ["known/1", "uploaded/3"]
    image = {"type": "url", "value": "http://example.invalid/x.jpg"}
    inferred = client.post(
        "/infer/object_detection",
        json={"model_id": "uploaded/3", "image": image},
        headers=_auth(tenant.key),
    )
    assert inferred.status_code != 404  # the model resolves (the URL is the caller's problem)


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        pytest.param({"file": ("weights.pt", b"x" * 10)}, None, ".onnx", id="wrong-suffix"),
        pytest.param({"file": ("empty.onnx", b"")}, None, "empty", id="empty"),
        pytest.param({"model": ("a.onnx", b"x")}, None, "'file'", id="no-file-part"),
        pytest.param({"file": ("bad.onnx", b"not onnx")}, None, "bad.onnx is not", id="not-onnx"),
        pytest.param(None, b"raw bytes", "multipart", id="not-multipart"),
    ],
)
def test_bad_uploads_are_400(
    client: TestClient,
    tenant: Tenant,
    files: dict[str, tuple[str, bytes]] | None,
    data: bytes | None,
    message: str,
) -> None:
    response = client.post(
        "/models/uploaded/1", files=files, content=data, headers=_auth(tenant.key)
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
