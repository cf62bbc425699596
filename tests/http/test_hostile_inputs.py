"""Bad input always gets a 4xx with a message that says what was wrong — never a 500."""

from __future__ import annotations

import base64
import io
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import Tenant, jpeg_bytes
from visionflow.http.app import create_app
from visionflow.service.services import Services


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """A few-hundred-kB PNG that would decode to ``width * height`` grey pixels."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * width
    raw = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def infer(client: TestClient, tenant: Tenant, image: object) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/infer/object_detection",
        json={"model_id": tenant.model_id, "api_key": tenant.key, "image": image},
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("image", "status", "fragment"),
    [
        pytest.param({"type": "base64", "value": "%%%not base64%%%"}, 400, "base64", id="bad-b64"),
        pytest.param({"type": "base64", "value": ""}, 400, "empty", id="empty-b64"),
        pytest.param(
            {"type": "base64", "value": base64.b64encode(b"hello, not an image").decode()},
            400,
            "not an image",
            id="undecodable",
        ),
        pytest.param({"type": "base64", "value": 12}, 400, "string", id="number-value"),
        pytest.param({"type": "numpy", "value": "x"}, 400, "not accepted", id="numpy"),
        pytest.param({"type": "file", "value": "/etc/passwd"}, 400, "not accepted", id="file"),
        pytest.param({"type": "weird", "value": "x"}, 400, "not recognised", id="unknown-type"),
        pytest.param(
            {"type": "url", "value": "http://127.0.0.1:9/x.jpg"}, 400, "non-public", id="loopback"
        ),
        pytest.param(
            {"type": "url", "value": "http://169.254.169.254/latest"},
            400,
            "non-public",
            id="link-local",
        ),
        pytest.param(
            {"type": "url", "value": "http://10.0.0.1/a.jpg"}, 400, "non-public", id="private"
        ),
        pytest.param({"type": "url", "value": "file:///etc/passwd"}, 400, "scheme", id="file-url"),
        pytest.param([], 400, "no image", id="empty-list"),
    ],
)
def test_bad_images_are_4xx_with_a_message(
    client: TestClient, tenant: Tenant, image: object, status: int, fragment: str
) -> None:
    code, payload = infer(client, tenant, image)
    assert code == status, payload
    assert fragment in str(payload["message"])


def test_decompression_bomb_is_refused_before_decoding(client: TestClient, tenant: Tenant) -> None:
    bomb = png_bomb()
    assert len(bomb) < 2_000_000
    code, payload = infer(
        client, tenant, {"type": "base64", "value": base64.b64encode(bomb).decode()}
    )
    assert code == 413
    assert "10000x10000" in str(payload["message"])


def test_body_over_the_limit_is_413(services: Services, tenant: Tenant) -> None:
    small = Services.build(services.settings.with_overrides(max_body_bytes=10_000))
    try:
        with TestClient(create_app(small)) as limited:
            big = base64.b64encode(jpeg_bytes() + b"\0" * 20_000).decode()
            response = limited.post(
                "/infer/object_detection",
                json={"model_id": tenant.model_id, "image": {"type": "base64", "value": big}},
            )
            assert response.status_code == 413
            assert "10000 bytes" in response.json()["message"]

            def chunks() -> object:
                for _ in range(20):
                    yield b"A" * 1000

            streamed = limited.post(
                f"/{tenant.model_id}?api_key={tenant.key}",
                content=chunks(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert streamed.status_code == 413
    finally:
        small.close()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated-json"),
        pytest.param(b"[]", id="json-list"),
        pytest.param(b'{"model_id": 3}', id="wrong-types"),
        pytest.param(b'{"model_id": "known/1"}', id="missing-image"),
        pytest.param(b'{"model_id": "known/1", "image": "abc"}', id="image-not-object"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
    ],
)
def test_malformed_bodies_are_422_not_500(client: TestClient, tenant: Tenant, raw: bytes) -> None:
    response = client.post(
        "/infer/object_detection",
        content=raw,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("Invalid request")


def test_grayscale_and_rgba_pngs_are_accepted(client: TestClient, tenant: Tenant) -> None:
    for mode in ("L", "RGBA", "P"):
        buffer = io.BytesIO()
        Image.new(mode, (64, 48)).save(buffer, format="PNG")
        code, payload = infer(
            client,
            tenant,
            {"type": "base64", "value": base64.b64encode(buffer.getvalue()).decode()},
        )
        assert code == 200, payload
        assert payload["image"] == {"width": 64, "height": 48}


def test_server_survives_and_keeps_data_after_bad_requests(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    for raw in (b"", b"\x00" * 100, b"not json"):
        client.post("/infer/object_detection", content=raw)
        client.post(f"/{tenant.model_id}", content=raw)
    assert services.registry.find_model_version("acme", "known", 1) is not None
    code, _ = infer(
        client, tenant, {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}
    )
    assert code == 200
