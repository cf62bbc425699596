"""``POST /infer/object_detection``: shapes, key channels, errors."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from visionflow.http.app import create_app
from visionflow.service.services import Services

IMAGE_B64 = base64.b64encode(jpeg_bytes()).decode()
EXPECTED_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0}


def body(model_id: str, image: object = None, **extra: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "model_id": model_id,
        "image": image if image is not None else {"type": "base64", "value": IMAGE_B64},
    }
    payload.update(extra)
    return payload


def test_single_image_returns_an_object_with_the_known_box(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/infer/object_detection", json=body(tenant.model_id, api_key=tenant.key)
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["image"] == {"width": 640, "height": 480}
    assert isinstance(result["time"], float)
    assert isinstance(result["inference_id"], str)
    [prediction] = result["predictions"]
    assert {k: prediction[k] for k in EXPECTED_BOX} == EXPECTED_BOX
    assert prediction["class"] == "square"
    assert prediction["class_id"] == 1
    assert prediction["confidence"] == pytest.approx(0.9)
    assert len(prediction["detection_id"]) == 36
    assert response.headers["x-model-id"] == tenant.model_id


def test_list_of_images_returns_a_list_in_order(client: TestClient, tenant: Tenant) -> None:
    small = base64.b64encode(jpeg_bytes(100, 50)).decode()
    images = [
        {"type": "base64", "value": IMAGE_B64},
        {"type": "base64", "value": "data:image/jpeg;base64," + small},
    ]
    response = client.post(
        "/infer/object_detection", json=body(tenant.model_id, images, api_key=tenant.key)
    )
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["image"] for r in results] == [
        {"width": 640, "height": 480},
        {"width": 100, "height": 50},
    ]
    assert results[0]["inference_id"] == results[1]["inference_id"]
    # 100x50 letterboxed into 320x320: scale 3.2, pad top 80 → the box maps to centre (50, 25).
    assert results[1]["predictions"][0]["x"] == 50.0
    assert results[1]["predictions"][0]["y"] == 25.0


def test_key_in_header_and_sdk_style_null_body_key(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/infer/object_detection",
        json=body(tenant.model_id, api_key=None, disable_active_learning=False, unknown_field=1),
        headers={"Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("params", "expected_count"),
    [
        pytest.param({"confidence": 0.95}, 0, id="above-score"),
        pytest.param({"confidence": 0.9}, 0, id="equal-score-is-dropped"),
        pytest.param({"confidence": 0.89}, 1, id="below-score"),
        pytest.param({"class_filter": ["circle"]}, 0, id="class-filter-other"),
        pytest.param({"class_filter": ["square"]}, 1, id="class-filter-same"),
        pytest.param({"max_detections": 0}, 0, id="max-detections-zero"),
        pytest.param({"confidence": "best"}, 1, id="best-means-default"),
    ],
)
def test_parameters(
    client: TestClient, tenant: Tenant, params: dict[str, object], expected_count: int
) -> None:
    response = client.post(
        "/infer/object_detection", json=body(tenant.model_id, api_key=tenant.key, **params)
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == expected_count


def test_visualization_is_a_decodable_jpeg(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/infer/object_detection",
        json=body(tenant.model_id, api_key=tenant.key, visualize_predictions=True),
    )
    assert response.status_code == 200
    data = base64.b64decode(response.json()["visualization"])
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    # Something was drawn: the flat grey input is no longer flat inside the box area.
    assert image[176:304, 256:384].std() > 5


def test_wrong_key_is_401(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/infer/object_detection", json=body(tenant.model_id, api_key="vf_no"))
    assert response.status_code == 401
    assert "not valid" in response.json()["message"]


def test_anonymous_caller_on_loopback_sees_only_demo(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/infer/object_detection", json=body(tenant.model_id))
    assert response.status_code == 404
    assert "'demo'" in response.json()["message"]


def test_unknown_model_is_404_with_close_matches(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/infer/object_detection", json=body("known/2", api_key=tenant.key))
    assert response.status_code == 404
    payload = response.json()
    assert payload["error_type"] == "model_not_found"
    assert "known/2" in payload["message"]
    assert payload["close_matches"] == ["known/1"]


@pytest.mark.parametrize(
    "model_id",
    [
        pytest.param("known", id="no-version"),
        pytest.param("a/b/c", id="two-slashes"),
        pytest.param("known/one", id="non-integer-version"),
        pytest.param("known/\u00b9", id="superscript-digit"),
        pytest.param("known/\u0663", id="arabic-indic-digit"),
        pytest.param("known/2147483648", id="past-int32"),
        pytest.param("known/" + "9" * 5000, id="past-int-text-limit"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("path", ["/infer/object_detection", "/model/add", "/model/remove"])
def test_invalid_model_id_is_400(
    client: TestClient, tenant: Tenant, model_id: str, path: str
) -> None:
    response = client.post(path, json=body(model_id, api_key=tenant.key))
    assert response.status_code == 400
    assert "Invalid Model ID" in response.json()["message"]


def test_largest_model_version_is_a_404_not_a_400(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/infer/object_detection", json=body("known/2147483647", api_key=tenant.key)
    )
    assert response.status_code == 404


def test_a_key_is_required_beyond_loopback(services: Services, tenant: Tenant) -> None:
    remote_settings = services.settings.with_overrides(host="0.0.0.0")
    remote_services = Services.build(remote_settings)
    try:
        with TestClient(create_app(remote_services)) as remote:
            missing = remote.post("/infer/object_detection", json=body(tenant.model_id))
            assert missing.status_code == 401
            assert missing.json()["error_type"] == "api_key_required"
            ok = remote.post(
                "/infer/object_detection", json=body(tenant.model_id, api_key=tenant.key)
            )
            assert ok.status_code == 200
    finally:
        remote_services.close()
