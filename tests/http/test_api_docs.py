"""The API documentation: every operation says what it does, the legacy route documents its
query string and bodies, and ``/docs`` and ``/redoc`` load nothing from outside the server."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from visionflow.errors import NotFoundError
from visionflow.http.routes.playground import STATIC_DIR, _file

LEGACY_QUERY = {
    "api_key",
    "image",
    "image_type",
    "confidence",
    "overlap",
    "max_detections",
    "class_agnostic_nms",
    "mask_decode_mode",
    "tradeoff_factor",
    "response_mask_format",
    "keypoint_confidence",
    "format",
    "labels",
    "stroke",
}


def test_every_operation_has_a_summary_and_a_description(client: TestClient) -> None:
    """Written by hand: FastAPI would make a summary from the function name, which says nothing.
    A new route without ``summary=`` and a description (or docstring) fails here."""
    undocumented = [
        f"{sorted(route.methods)} {route.path}"
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        and route.include_in_schema
        and not (route.summary and route.description.strip())
    ]
    assert undocumented == []
    schema = client.get("/openapi.json").json()
    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert len(operations) > 30
    assert all(op["summary"] and op["description"] for op in operations)


@pytest.mark.parametrize("method", ["get", "post"])
def test_legacy_route_documents_its_query_and_bodies(client: TestClient, method: str) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/{project}/{version}"][method]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == LEGACY_QUERY
    assert all(p.get("description") for p in operation["parameters"] if p["in"] == "query")
    if method == "post":
        content = operation["requestBody"]["content"]
        assert {"application/x-www-form-urlencoded", "multipart/form-data", "image/*"} <= set(
            content
        )
        assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    else:
        assert "requestBody" not in operation


@pytest.mark.parametrize(
    ("page", "marker"),
    [
        pytest.param("/docs", "SwaggerUIBundle", id="swagger-ui"),
        pytest.param("/redoc", "<redoc", id="redoc"),
    ],
)
def test_docs_pages_load_only_local_assets(client: TestClient, page: str, marker: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert marker in html
    assert "/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads no assets"
    assert [a for a in assets if not a.startswith("/")] == [], "assets from outside the server"
    assert "fonts.googleapis" not in html
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset


def test_vendored_assets_keep_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    assert (vendor / "LICENSE-swagger-ui").read_text().lstrip().startswith("Apache License")
    assert "MIT License" in (vendor / "LICENSE-redoc").read_text()


def test_swagger_oauth2_redirect_page(client: TestClient) -> None:
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/static/%2e%2e/app.py", id="encoded-dot-dot"),
        pytest.param("/static/nope.js", id="missing"),
        pytest.param("/static/", id="empty"),
    ],
)
def test_static_files_stay_in_their_folder(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text


def test_static_file_resolution_refuses_escapes() -> None:
    # Clients normalise ``..`` away before sending; the route must refuse it all the same.
    for relative in ("../routes/docs.py", "/etc/hostname", "vendor/../../app.py", ""):
        with pytest.raises(NotFoundError):
            _file(relative)
    assert _file("vendor/swagger-ui.css").is_file()
