"""The legacy route ``/{project}/{version}`` as curl and SDK v0 mode call it."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes

JPEG = jpeg_bytes()
B64 = base64.b64encode(JPEG).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_base64_body_like_curl(client: TestClient, tenant: Tenant) -> None:
    response = client.post(f"/{tenant.model_id}?api_key={tenant.key}", content=B64, headers=FORM)
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert (prediction["x"], prediction["y"], prediction["class"]) == (320.0, 240.0, "square")


def test_sdk_v0_style_json_content_type_and_bool_params(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}&allow_reduced_mask_resolution=False"
        "&disable_active_learning=False",
        content=B64,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_multipart_file_part(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}", files={"file": ("a.jpg", JPEG, "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_raw_image_bytes_with_image_content_type(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}",
        content=JPEG,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 200, response.text


def test_bearer_header_key(client: TestClient, tenant: Tenant) -> None:
    headers = {**FORM, "Authorization": f"Bearer {tenant.key}"}
    response = client.post(f"/{tenant.model_id}", content=B64, headers=headers)
    assert response.status_code == 200


def test_query_key_wins_over_header(client: TestClient, tenant: Tenant) -> None:
    headers = {**FORM, "Authorization": "Bearer vf_wrong"}
    response = client.post(f"/{tenant.model_id}?api_key={tenant.key}", content=B64, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "count"),
    [
        pytest.param("confidence=95", 0, id="percent-above"),
        pytest.param("confidence=85", 1, id="percent-below"),
        pytest.param("confidence=0.95", 0, id="fraction-above"),
        pytest.param("confidence=best", 1, id="best"),
        pytest.param("overlap=50&max_detections=0", 0, id="max-detections"),
    ],
)
def test_percent_style_params(client: TestClient, tenant: Tenant, query: str, count: int) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}&{query}", content=B64, headers=FORM
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == count


def test_format_image_returns_a_jpeg(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}&format=image&labels=true&stroke=3",
        content=B64,
        headers=FORM,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (480, 640, 3)


def test_format_image_and_json(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}&format=image_and_json", content=B64, headers=FORM
    )
    payload = response.json()
    assert len(payload["predictions"]) == 1
    assert base64.b64decode(payload["visualization"])[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("query", "content", "headers", "status", "fragment"),
    [
        pytest.param("", B64, {}, 400, "Content-Type header not provided", id="no-content-type"),
        pytest.param("", "", FORM, 400, "Image not found", id="empty-body"),
        pytest.param("", "   ", FORM, 400, "Image not found", id="blank-body"),
        pytest.param("", JPEG, FORM, 400, "binary", id="binary-as-text"),
        pytest.param("&format=xml", B64, FORM, 400, "format", id="bad-format"),
        pytest.param("&confidence=abc", B64, FORM, 400, "confidence", id="bad-confidence"),
        pytest.param("&confidence=500", B64, FORM, 400, "out of range", id="huge-confidence"),
        pytest.param("&max_detections=x", B64, FORM, 400, "integer", id="bad-int"),
        pytest.param("&image_type=numpy", B64, FORM, 400, "image_type", id="numpy-body"),
        pytest.param(
            "&image=http://127.0.0.1:1/a.jpg", "", {}, 400, "non-public", id="loopback-url"
        ),
    ],
)
def test_legacy_errors(
    client: TestClient,
    tenant: Tenant,
    query: str,
    content: object,
    headers: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}{query}", content=content, headers=headers
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"]


def test_multipart_without_file_part(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}", files={"other": ("a.jpg", JPEG, "image/jpeg")}
    )
    assert response.status_code == 400
    assert "'file'" in response.json()["message"]


def test_specific_routes_are_not_shadowed(client: TestClient) -> None:
    assert client.get("/model/registry").status_code == 200
    assert client.get("/info").status_code == 200
