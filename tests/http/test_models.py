"""``/model/registry``, ``/model/add``, ``/model/remove``, ``/model/clear``, and ``/info``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant

NULL_KEYS = (
    "total_vram_bytes",
    "gpu_memory_used",
    "gpu_memory_total",
    "torch_cuda_allocated",
    "torch_cuda_reserved",
    "torch_cuda_allocator_cache",
    "non_torch_gpu_memory",
)


def test_registry_lifecycle(client: TestClient, tenant: Tenant) -> None:
    auth = {"Authorization": f"Bearer {tenant.key}"}
    empty = client.get("/model/registry", headers=auth).json()
    assert empty["models"] == []
    assert all(key in empty and empty[key] is None for key in NULL_KEYS)

    added = client.post("/model/add", json={"model_id": tenant.model_id, "api_key": tenant.key})
    assert added.status_code == 200
    [entry] = added.json()["models"]
    assert entry == {
        "model_id": "known/1",
        "task_type": "object-detection",
        "batch_size": 1,
        "input_height": 320,
        "input_width": 320,
        "vram_bytes": None,
        "request_aliases": [],
        "request_paths": ["/infer/object_detection"],
    }
    listed = client.get(f"/model/registry?api_key={tenant.key}").json()
    assert [m["model_id"] for m in listed["models"]] == ["known/1"]

    removed = client.post("/model/remove", json={"model_id": tenant.model_id}, headers=auth)
    assert removed.json()["models"] == []

    client.post("/model/add", json={"model_id": tenant.model_id, "api_key": tenant.key})
    cleared = client.post("/model/clear", headers=auth)
    assert cleared.json()["models"] == []


def test_sdk_style_none_key_in_query_is_anonymous(client: TestClient) -> None:
    response = client.get("/model/registry?api_key=None")
    assert response.status_code == 200


def test_add_unknown_model_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/model/add", json={"model_id": "nope/1", "api_key": tenant.key})
    assert response.status_code == 404
    assert "nope/1" in response.json()["message"]


def test_anonymous_remove_unloads_by_model_id(client: TestClient, tenant: Tenant) -> None:
    client.post("/model/add", json={"model_id": tenant.model_id, "api_key": tenant.key})
    client.post("/model/remove", json={"model_id": tenant.model_id})
    listed = client.get(f"/model/registry?api_key={tenant.key}").json()
    assert listed["models"] == []


def test_info_health_readiness(client: TestClient) -> None:
    info = client.get("/info").json()
    assert set(info) == {"name", "version", "uuid", "deployment"}
    assert info["deployment"] == {"engine": "local", "replicas": 1, "healthy_replicas": 1}
    assert client.get("/healthz").json() == {"status": "healthy"}
    assert client.get("/readiness").json() == {"status": "ready"}
    assert client.get("/openapi.json").status_code == 200
