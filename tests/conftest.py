"""Shared fixtures: settings on a temp data directory, services, a workspace with a key, and a
registered fixture model whose outputs are known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.clip_tiny import CLIP_TINY
from tests.fixtures.onnx_graphs import write_ultralytics_onnx, yolov8_rows
from tests.fixtures.yolo_world import write_yolo_world_package
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services

CLASS_NAMES = ("circle", "square", "triangle")
# One known detection: centre (160, 160), 64x64 in the 320x320 network input, class "square".
KNOWN_ROWS = yolov8_rows([[160, 160, 64, 64]], [[0.1, 0.9, 0.2]], anchors=2100)


@pytest.fixture(scope="session")
def fixture_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    return write_ultralytics_onnx(folder / "known.onnx", KNOWN_ROWS, CLASS_NAMES)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", register_demo_models=False)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = Services.build(settings)
    yield built
    built.close()


@dataclass(frozen=True)
class Tenant:
    workspace: str
    key: str
    model_id: str


@pytest.fixture
def tenant(services: Services, fixture_onnx: Path) -> Tenant:
    services.registry.create_workspace("acme")
    services.models.add_from_path("acme", "known/1", fixture_onnx)
    _record, key = services.registry.create_api_key("acme", "tests")
    return Tenant("acme", key, "known/1")


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client


@pytest.fixture
def clip_tenant(services: Services, tenant: Tenant) -> Tenant:
    """``tenant``'s workspace with the tiny CLIP registered as ``clip/1`` (ViT-B-16's default)."""
    services.models.add_from_path(tenant.workspace, "clip/1", CLIP_TINY)
    return tenant


@pytest.fixture(scope="session")
def yolo_world_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny YOLO-World package folder (tests/fixtures/yolo_world.py)."""
    return write_yolo_world_package(tmp_path_factory.mktemp("yolo-world") / "package")


@pytest.fixture
def world(services: Services, tenant: Tenant, yolo_world_package: Path) -> Tenant:
    """``tenant``'s workspace with the tiny YOLO-World registered as ``yolo-world/1`` (what every
    reference ``yolo_world_version_id`` maps to by default)."""
    services.models.add_from_path(tenant.workspace, "yolo-world/1", yolo_world_package)
    return tenant


def jpeg_bytes(width: int = 640, height: int = 480, value: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", np.full((height, width, 3), value, dtype=np.uint8))
    assert ok
    return bytes(buffer.tobytes())
