"""Servers remember which stored version a model id names (``VISIONFLOW_MODEL_LOOKUP_CACHE_S``)
instead of asking the registry at every inference; a model deleted through one server on a
shared PostgreSQL registry is not served by another that remembers it (the change notice drops
the lookup), and one server on its own forgets it at once."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import cv2
import numpy as np
from fastapi.testclient import TestClient

from tests.service.test_workflow_changes import postgres_url  # noqa: F401 (a fixture)
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

DEADLINE_S = 5.0


def _image() -> dict[str, str]:
    ok, jpeg = cv2.imencode(".jpg", np.full((64, 64, 3), 127, np.uint8))
    assert ok
    return {"type": "base64", "value": base64.b64encode(jpeg.tobytes()).decode()}


def _services(home: Path, database_url: str | None) -> Services:
    settings = Settings(
        home=home, database_url=database_url, register_demo_models=False, model_lookup_cache_s=900
    )
    return Services.build(settings)


def _infer(client: TestClient, key: str) -> int:
    response = client.post(
        "/infer/object_detection",
        json={"api_key": key, "model_id": "shapes/1", "image": _image()},
    )
    return response.status_code


def test_a_model_deleted_through_one_replica_is_not_served_by_the_other(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    # One home: the replicas share the artifact folder (in production, a bucket).
    replica_a = _services(tmp_path, postgres_url)
    replica_b = _services(tmp_path, postgres_url)
    try:
        replica_a.registry.create_workspace("acme")
        _record, key = replica_a.registry.create_api_key("acme", role="admin")
        replica_a.models.add_from_path("acme", "shapes/1", demo_model_path("shapes-det.onnx"))
        with TestClient(create_app(replica_a)), TestClient(create_app(replica_b)) as client_b:
            for services in (replica_a, replica_b):
                assert services.listener is not None
                assert services.listener.connected.wait(10)
            assert _infer(client_b, key) == 200  # B remembers the lookup for 900 s
            assert replica_a.registry.delete_model_version("acme", "shapes", 1)
            started = time.monotonic()
            while _infer(client_b, key) != 404:
                assert time.monotonic() - started < DEADLINE_S, "replica B served a deleted model"
                time.sleep(0.02)
    finally:
        replica_a.close()
        replica_b.close()


def test_one_server_forgets_a_model_it_deletes(tmp_path: Path) -> None:
    services = _services(tmp_path / "home", None)
    try:
        services.registry.create_workspace("acme")
        _record, key = services.registry.create_api_key("acme", role="admin")
        services.models.add_from_path("acme", "shapes/1", demo_model_path("shapes-det.onnx"))
        with TestClient(create_app(services)) as client:
            assert _infer(client, key) == 200
            assert services.registry.delete_model_version("acme", "shapes", 1)
            assert _infer(client, key) == 404
    finally:
        services.close()
