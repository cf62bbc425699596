"""``POST /yolo_world/infer`` end to end: the tiny YOLO-World package registered in a workspace,
real ORT sessions, object-detection responses named by the request's classes."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.yolo_world import reference
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services

IMAGE_BGR = reference()["image_bgr"]
PREDICTION_KEYS = {"x", "y", "width", "height", "confidence", "class", "class_id", "detection_id"}


def image_object(pixels: object = IMAGE_BGR) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


IMAGE = image_object()


def _infer(client: TestClient, key: str, **fields: object) -> dict[str, object]:
    response = client.post("/yolo_world/infer", json={"image": IMAGE, "api_key": key, **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def test_answers_object_detection_with_the_request_classes(
    client: TestClient, world: Tenant
) -> None:
    body = _infer(client, world.key, text=["cat", "dog"], confidence=0.1)
    assert set(body) == {"inference_id", "time", "image", "predictions"}
    assert body["image"] == {"width": 640, "height": 480}
    predictions = body["predictions"]
    assert isinstance(predictions, list)
    assert predictions
    for prediction in predictions:
        assert set(prediction) == PREDICTION_KEYS
        assert (prediction["class"], prediction["class_id"]) in {("cat", 0), ("dog", 1)}
        assert 0.1 < prediction["confidence"] <= 1.0


def test_different_text_lists_change_classes_and_scores(client: TestClient, world: Tenant) -> None:
    animals = _infer(client, world.key, text=["cat", "dog"], confidence=0.1)["predictions"]
    things = _infer(client, world.key, text=["car", "person", "tree"], confidence=0.1)[
        "predictions"
    ]
    assert isinstance(animals, list)
    assert isinstance(things, list)
    assert {p["class"] for p in animals} <= {"cat", "dog"}
    assert {p["class"] for p in things} <= {"car", "person", "tree"}
    assert {p["class"] for p in things} & {"car", "person", "tree"}
    assert sorted(p["confidence"] for p in animals) != sorted(p["confidence"] for p in things)


def test_confidence_filters(client: TestClient, world: Tenant) -> None:
    low = _infer(client, world.key, text=["car", "person", "tree"], confidence=0.1)
    high = _infer(client, world.key, text=["car", "person", "tree"], confidence=0.5)
    assert isinstance(low["predictions"], list)
    assert isinstance(high["predictions"], list)
    assert len(high["predictions"]) < len(low["predictions"])
    assert all(p["confidence"] > 0.5 for p in high["predictions"])


def test_a_list_of_images_gets_a_list(client: TestClient, world: Tenant) -> None:
    small = image_object(cv2.resize(IMAGE_BGR, (320, 240)))
    response = client.post(
        "/yolo_world/infer",
        params={"api_key": world.key},
        json={"image": [IMAGE, small], "text": ["tree"], "confidence": 0.1},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [b["image"] for b in body] == [
        {"width": 640, "height": 480},
        {"width": 320, "height": 240},
    ]
    assert body[0]["inference_id"] == body[1]["inference_id"]


def test_version_ids_and_model_ids_resolve(client: TestClient, world: Tenant) -> None:
    # Every reference version id maps to yolo-world/1 by default; model ids work directly.
    for version in ("l", "v2-s", "yolo-world/1"):
        body = _infer(client, world.key, text=["tree"], yolo_world_version_id=version)
        assert isinstance(body["predictions"], list)


def test_more_classes_than_k_is_400(client: TestClient, world: Tenant) -> None:
    response = client.post(
        "/yolo_world/infer",
        json={"image": IMAGE, "api_key": world.key, "text": [f"c{i}" for i in range(9)]},
    )
    assert response.status_code == 400
    body = response.json()
    assert "at most 8 class names" in body["message"]
    assert body["max_classes"] == 8


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        pytest.param([], 400, "at least one class", id="empty"),
        pytest.param(["cat", 7], 400, "text[1] must be a string", id="not-a-string"),
        pytest.param("cat", 400, "must be a list", id="bare-string"),
        pytest.param(None, 400, "must be a list", id="null"),
    ],
)
def test_bad_text_is_a_clear_4xx(
    client: TestClient, world: Tenant, text: object, status: int, message: str
) -> None:
    response = client.post(
        "/yolo_world/infer", json={"image": IMAGE, "api_key": world.key, "text": text}
    )
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_missing_text_is_422(client: TestClient, world: Tenant) -> None:
    response = client.post("/yolo_world/infer", json={"image": IMAGE, "api_key": world.key})
    assert response.status_code == 422
    assert "text" in response.json()["message"]


def test_unregistered_model_is_404_saying_how_to_add_it(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/yolo_world/infer", json={"image": IMAGE, "api_key": tenant.key, "text": ["cat"]}
    )
    assert response.status_code == 404
    message = response.json()["message"]
    assert "scripts/export_yolo_world.py" in message
    assert "visionflow models add yolo-world/1" in message


def test_unmapped_version_is_404_naming_the_setting(client: TestClient, world: Tenant) -> None:
    response = client.post(
        "/yolo_world/infer",
        json={"image": IMAGE, "api_key": world.key, "text": ["cat"], "yolo_world_version_id": "q"},
    )
    assert response.status_code == 404
    assert "VISIONFLOW_YOLO_WORLD_MODELS='q=" in response.json()["message"]


def test_settings_map_versions(
    tmp_path: Path, yolo_world_package: Path, settings: Settings
) -> None:
    custom = settings.with_overrides(yolo_world_models=(("v2-s", "open-vocab/3"),))
    built = Services.build(custom)
    try:
        built.registry.create_workspace("acme")
        built.models.add_from_path("acme", "open-vocab/3", yolo_world_package)
        _record, key = built.registry.create_api_key("acme", "tests")
        with TestClient(create_app(built)) as client:
            ok = _infer(client, key, text=["tree"], yolo_world_version_id="v2-s")
            assert isinstance(ok["predictions"], list)
            missing = client.post(
                "/yolo_world/infer", json={"image": IMAGE, "api_key": key, "text": ["tree"]}
            )
            assert missing.status_code == 404  # "l" is not mapped in these settings
    finally:
        built.close()


def test_a_detector_is_not_a_yolo_world_model(client: TestClient, world: Tenant) -> None:
    response = client.post(
        "/yolo_world/infer",
        json={
            "image": IMAGE,
            "api_key": world.key,
            "text": ["cat"],
            "yolo_world_version_id": world.model_id,
        },
    )
    assert response.status_code == 400
    assert "not a YOLO-World" in response.json()["message"]


def test_task_routes_point_to_yolo_world(client: TestClient, world: Tenant) -> None:
    response = client.post(
        "/infer/object_detection",
        json={"model_id": "yolo-world/1", "image": IMAGE, "api_key": world.key},
    )
    assert response.status_code == 400
    assert "/yolo_world/infer" in response.json()["message"]


def test_needs_a_valid_key(client: TestClient, world: Tenant) -> None:
    response = client.post(
        "/yolo_world/infer", json={"image": IMAGE, "api_key": "wrong", "text": ["cat"]}
    )
    assert response.status_code == 401


def test_workflow_block_end_to_end(client: TestClient, world: Tenant) -> None:
    workflow = {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "classes"},
        ],
        "steps": [
            {
                "type": "roboflow_core/yolo_world_model@v1",
                "name": "world",
                "images": "$inputs.image",
                "class_names": "$inputs.classes",
                "version": "v2-s",
                "confidence": 0.1,
            }
        ],
        "outputs": [
            {"type": "JsonField", "name": "predictions", "selector": "$steps.world.predictions"}
        ],
    }
    direct = _infer(client, world.key, text=["car", "person", "tree"], confidence=0.1)
    response = client.post(
        "/workflows/run",
        json={
            "api_key": world.key,
            "inputs": {"image": IMAGE, "classes": ["car", "person", "tree"]},
            "specification": workflow,
        },
    )
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    found = output["predictions"]
    assert found["image"] == {"width": 640, "height": 480}
    assert isinstance(direct["predictions"], list)
    expected = [
        (p["class"], p["x"], p["y"], round(p["confidence"], 4)) for p in direct["predictions"]
    ]
    got = [(p["class"], p["x"], p["y"], round(p["confidence"], 4)) for p in found["predictions"]]
    assert got == expected
    assert len(got) > 0


def test_workflow_without_a_registered_model_is_404(client: TestClient, tenant: Tenant) -> None:
    workflow = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {
                "type": "roboflow_core/yolo_world_model@v1",
                "name": "world",
                "images": "$inputs.image",
                "class_names": ["cat"],
            }
        ],
        "outputs": [
            {"type": "JsonField", "name": "predictions", "selector": "$steps.world.predictions"}
        ],
    }
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": IMAGE}, "specification": workflow},
    )
    assert response.status_code == 404, response.text
    assert "scripts/export_yolo_world.py" in response.json()["message"]
