"""Weights are verified against their sha256 when a model loads: flipped bytes in a stored
artifact give a 503 that names the model, never predictions; re-adding the files repairs it."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from visionflow.models.manifest import ModelManifest
from visionflow.service.services import Services

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes(64, 48)).decode()}


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_weights_are_refused_at_load_and_repaired_by_re_adding(
    client: TestClient, services: Services, tenant: Tenant, fixture_onnx: Path
) -> None:
    record = services.registry.find_model_version("acme", "known", 1)
    assert record is not None
    manifest = ModelManifest.from_json_bytes(
        services.artifacts.read_bytes(record.package_sha256), origin="test"
    )
    weights = services.artifacts.path_for(next(iter(manifest.weights.values())).sha256)
    _flip_a_byte(weights)
    body = {"model_id": tenant.model_id, "image": IMAGE, "api_key": tenant.key}

    response = client.post("/infer/object_detection", json=body)

    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    error = response.json()
    assert error["error_type"] == "model_integrity_error"
    assert "'known/1'" in error["message"]
    assert "fail their sha256 check" in error["message"]
    assert str(services.settings.home) not in response.text  # no server paths in the body
    assert services.manager.loaded() == []

    services.models.add_from_path("acme", "known/2", fixture_onnx)  # same bytes: repaired
    assert client.post("/infer/object_detection", json=body).status_code == 200


def test_corrupt_manifest_is_refused(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    record = services.registry.find_model_version("acme", "known", 1)
    assert record is not None
    _flip_a_byte(services.artifacts.path_for(record.package_sha256))
    body = {"model_id": tenant.model_id, "image": IMAGE, "api_key": tenant.key}
    response = client.post("/infer/object_detection", json=body)
    assert response.status_code == 503
    assert "package manifest fails its sha256 check" in response.json()["message"]
