"""Two servers that share a registry and an S3-compatible bucket (moto on loopback) but not a
folder: a model added through one is served by the other, whose folder fills from the bucket."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import jpeg_bytes
from tests.support.s3 import S3Server, s3_server
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes(64, 48)).decode()}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    with s3_server(monkeypatch) as server:
        server.create_bucket("models")
        yield server


def _services(home: Path, registry: Path, s3: S3Server) -> Services:
    return Services.build(
        Settings(
            home=home,
            database_url=f"sqlite:///{registry}",
            register_demo_models=False,
            artifacts_url="s3://models/visionflow",
            s3_endpoint_url=s3.endpoint_url,
        )
    )


def test_a_model_added_through_one_server_is_served_by_another_from_the_bucket(
    s3: S3Server, tmp_path: Path, fixture_onnx: Path
) -> None:
    registry = tmp_path / "registry.db"
    first = _services(tmp_path / "first", registry, s3)
    second = _services(tmp_path / "second", registry, s3)
    try:
        first.registry.create_workspace("acme")
        _record, key = first.registry.create_api_key("acme")
        first.models.add_from_path("acme", "known/1", fixture_onnx)
        assert not list((tmp_path / "second").rglob("sha256/*/*"))
        with TestClient(create_app(second)) as client:
            body = {"model_id": "known/1", "image": IMAGE, "api_key": key}
            response = client.post("/infer/object_detection", json=body)
            assert response.status_code == 200, response.text
        fetched = sorted(p.name for p in (tmp_path / "second").rglob("sha256/*/*"))
        stored = sorted(p.name for p in (tmp_path / "first").rglob("sha256/*/*"))
        assert fetched == stored
        assert len(fetched) == 2  # the manifest and the weights
    finally:
        first.close()
        second.close()


def test_an_unreachable_bucket_is_a_503_not_a_crash(
    s3: S3Server, tmp_path: Path, fixture_onnx: Path
) -> None:
    registry = tmp_path / "registry.db"
    first = _services(tmp_path / "first", registry, s3)
    second = _services(tmp_path / "second", registry, s3)
    try:
        first.registry.create_workspace("acme")
        _record, key = first.registry.create_api_key("acme")
        first.models.add_from_path("acme", "known/1", fixture_onnx)
        s3.server.stop()
        with TestClient(create_app(second)) as client:
            body = {"model_id": "known/1", "image": IMAGE, "api_key": key}
            response = client.post("/infer/object_detection", json=body)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"].isdigit()
            assert response.json()["error_type"] == "artifact_storage_unavailable"
            assert client.get("/healthz").status_code == 200
        s3.server.start()
    finally:
        first.close()
        second.close()
