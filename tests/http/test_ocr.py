"""The OCR routes (wire reference §3.9, §4.10): all four run PP-OCR and answer
``OCRInferenceResponse``."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.ocr_images import cer, render

ROUTES = {
    "/doctr/ocr": {"doctr_version_id": "default"},
    "/ocr/pp-ocr": {"pp_ocr_version_id": "small-small"},
    "/easy_ocr/ocr": {"language_codes": ["en"]},
    "/ocr/trocr": {"trocr_version_id": "trocr-small-printed"},
}
TEXT = ("Hello OCR world 42",)


def image_object(pixels: np.ndarray) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


HELLO = image_object(render(TEXT, 32))
BLANK = image_object(np.full((120, 200, 3), 255, dtype=np.uint8))


@pytest.mark.parametrize(("route", "version"), ROUTES.items())
def test_every_route_reads_the_text(
    client: TestClient, tenant: Tenant, route: str, version: dict[str, object]
) -> None:
    response = client.post(route, json={"image": HELLO, "api_key": tenant.key, **version})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"result", "time", "parent_id"}
    assert cer(TEXT[0], body["result"]) <= 0.02, body["result"]
    assert body["parent_id"] is None
    assert isinstance(body["time"], float)


def test_bounding_boxes_are_od_style_words(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/doctr/ocr",
        params={"api_key": tenant.key},
        json={"image": HELLO, "generate_bounding_boxes": True},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    height, width = render(TEXT, 32).shape[:2]
    assert body["image"] == {"width": width, "height": height}
    assert [p["class"] for p in body["predictions"]] == body["result"].split()
    for prediction in body["predictions"]:
        assert prediction["class_id"] == 0
        assert 0 < prediction["confidence"] <= 1
        assert 0 < prediction["x"] < width
        assert 0 < prediction["y"] < height
        assert prediction["width"] > 0
        assert prediction["height"] > 0
    xs = [p["x"] for p in body["predictions"]]
    assert xs == sorted(xs)


def test_a_list_of_images_gives_a_list_in_order(client: TestClient, tenant: Tenant) -> None:
    other = image_object(render(("second image",), 28))
    response = client.post(
        "/easy_ocr/ocr",
        headers={"Authorization": f"Bearer {tenant.key}"},
        json={"image": [HELLO, BLANK, other]},
    )
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["result"] for r in results] == [TEXT[0], "", "second image"]


def test_blank_image_gives_an_empty_result(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/ocr/pp-ocr", json={"image": BLANK, "api_key": tenant.key, "generate_bounding_boxes": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == ""
    assert body["predictions"] == []
    assert body["image"] == {"width": 200, "height": 120}


@pytest.mark.parametrize(
    ("route", "fields", "named"),
    [
        ("/doctr/ocr", {"doctr_version_id": "db_resnet50"}, "default"),
        ("/ocr/trocr", {"trocr_version_id": "trocr-base-handwritten"}, "trocr-base-printed"),
        ("/easy_ocr/ocr", {"language_codes": ["en", "ja"]}, "en"),
        ("/easy_ocr/ocr", {"easy_ocr_version_id": "japanese_g2"}, "english_g2"),
        ("/ocr/pp-ocr", {"pp_ocr_version_id": "none-none"}, "small-small"),
        ("/ocr/pp-ocr", {"pp_ocr_version_id": "huge"}, "medium"),
        ("/ocr/pp-ocr", {"text_detection": "huge"}, "tiny"),
    ],
)
def test_unsupported_versions_are_a_400_naming_the_supported_ones(
    client: TestClient, tenant: Tenant, route: str, fields: dict[str, object], named: str
) -> None:
    response = client.post(route, json={"image": HELLO, "api_key": tenant.key, **fields})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_type"] == "invalid_input"
    assert named in body["message"]
    assert named in body["supported"]


@pytest.mark.parametrize("version", ["small", "tiny-medium", None])
def test_pp_ocr_accepts_reference_version_ids(
    client: TestClient, tenant: Tenant, version: str | None
) -> None:
    response = client.post(
        "/ocr/pp-ocr", json={"image": BLANK, "api_key": tenant.key, "pp_ocr_version_id": version}
    )
    assert response.status_code == 200, response.text


PAGE_LINES = ("Invoice 2041 total", "Paid by card 17.50", "Thank you")


def _pp_ocr_boxes(
    client: TestClient, tenant: Tenant, pixels: np.ndarray, fields: dict[str, str]
) -> dict[str, Any]:
    response = client.post(
        "/ocr/pp-ocr",
        json={
            "image": image_object(pixels),
            "api_key": tenant.key,
            "generate_bounding_boxes": True,
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"text_recognition": "none"}, id="fields"),
        pytest.param({"pp_ocr_version_id": "small-none"}, id="version-id"),
    ],
)
def test_pp_ocr_detection_only_gives_boxes_without_text(
    client: TestClient, tenant: Tenant, fields: dict[str, str]
) -> None:
    page = render(PAGE_LINES, 30)
    body = _pp_ocr_boxes(client, tenant, page, fields)
    assert body["result"] == ""
    predictions = body["predictions"]
    assert [p["class"] for p in predictions] == [""] * len(PAGE_LINES)
    ys = [p["y"] for p in predictions]
    assert ys == sorted(ys)
    height, width = page.shape[:2]
    for prediction in predictions:
        assert 0 < prediction["confidence"] <= 1
        assert 0 < prediction["x"] < width
        assert 0 < prediction["y"] < height


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"text_detection": "none", "text_recognition": "tiny"}, id="fields"),
        pytest.param({"pp_ocr_version_id": "none-small"}, id="version-id"),
    ],
)
def test_pp_ocr_recognition_only_reads_the_image_as_one_line(
    client: TestClient, tenant: Tenant, fields: dict[str, str]
) -> None:
    line = np.ascontiguousarray(render(TEXT, 32)[24:-24])
    body = _pp_ocr_boxes(client, tenant, line, fields)
    assert cer(TEXT[0], body["result"]) <= 0.02, body["result"]
    height, width = line.shape[:2]
    [prediction] = body["predictions"]
    assert prediction["class"] == body["result"]
    assert (prediction["x"], prediction["y"]) == (width / 2, height / 2)
    assert (prediction["width"], prediction["height"]) == (width, height)


def test_pp_ocr_both_stages_none_is_a_400(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/ocr/pp-ocr",
        json={
            "image": HELLO,
            "api_key": tenant.key,
            "text_detection": "none",
            "text_recognition": "none",
        },
    )
    assert response.status_code == 400, response.text
    assert "cannot both be 'none'" in response.json()["message"]


def test_unknown_key_is_rejected(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/doctr/ocr", json={"image": BLANK, "api_key": "not-a-key"})
    assert response.status_code == 401, response.text


def test_bad_image_is_a_400(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/ocr/trocr", json={"image": {"type": "base64", "value": "bm90IGFuIGltYWdl"}}
    )
    assert response.status_code == 400, response.text
