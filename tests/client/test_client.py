"""The SDK against the real app (in-process transports, no sockets)."""

from __future__ import annotations

import asyncio
import base64
import http.server
import io
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import Tenant, jpeg_bytes
from visionflow.client import (
    ImageDecodeError,
    InferenceHTTPClient,
    InvalidApiKeyError,
    ModelNotFoundError,
)
from visionflow.client._images import encode_image


def sdk(client: TestClient, key: str | None) -> InferenceHTTPClient:
    return InferenceHTTPClient("http://testserver", key, http_client=client)


def _pil_image() -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes()))


@pytest.mark.parametrize(
    "make_image",
    [
        pytest.param(lambda tmp: tmp, id="path-str"),
        pytest.param(lambda tmp: Path(tmp), id="path"),
        pytest.param(lambda tmp: cv2.imread(tmp), id="numpy-bgr"),
        pytest.param(lambda tmp: _pil_image(), id="pil"),
        pytest.param(lambda tmp: base64.b64encode(jpeg_bytes()).decode(), id="base64"),
        pytest.param(lambda tmp: jpeg_bytes(), id="bytes"),
    ],
)
def test_infer_accepts_every_image_kind(
    client: TestClient, tenant: Tenant, tmp_path: Path, make_image: object
) -> None:
    path = tmp_path / "image.jpg"
    path.write_bytes(jpeg_bytes())
    image = make_image(str(path))  # type: ignore[operator]
    result = sdk(client, tenant.key).infer(image, model_id=tenant.model_id)
    assert result["image"] == {"width": 640, "height": 480}
    assert [p["class"] for p in result["predictions"]] == ["square"]


def test_list_input_gives_a_list(client: TestClient, tenant: Tenant) -> None:
    images = [jpeg_bytes(), np.zeros((20, 30, 3), np.uint8)]
    results = sdk(client, tenant.key).infer(images, model_id=tenant.model_id, confidence=0.5)
    assert [r["image"] for r in results] == [
        {"width": 640, "height": 480},
        {"width": 30, "height": 20},
    ]


@pytest.mark.parametrize(
    ("key", "model_id", "image", "error"),
    [
        pytest.param("vf_bad", "known/1", jpeg_bytes(), InvalidApiKeyError, id="bad-key"),
        pytest.param(None, "known/1", jpeg_bytes(), ModelNotFoundError, id="not-visible"),
        pytest.param("ok", "known/7", jpeg_bytes(), ModelNotFoundError, id="unknown-model"),
        pytest.param("ok", "known/1", b"not an image", ImageDecodeError, id="bad-image"),
    ],
)
def test_typed_errors(
    client: TestClient,
    tenant: Tenant,
    key: str | None,
    model_id: str,
    image: bytes,
    error: type[Exception],
) -> None:
    with pytest.raises(error) as caught:
        sdk(client, tenant.key if key == "ok" else key).infer(image, model_id=model_id)
    assert caught.value.http_status in {400, 401, 404}  # type: ignore[attr-defined]


def test_model_management(client: TestClient, tenant: Tenant) -> None:
    api = sdk(client, tenant.key)
    assert api.list_loaded_models()["models"] == []
    assert [m["model_id"] for m in api.load_model(tenant.model_id)["models"]] == ["known/1"]
    assert api.unload_model(tenant.model_id)["models"] == []
    api.load_model(tenant.model_id)
    assert api.unload_all_models()["models"] == []
    assert set(api.get_server_info()) == {"name", "version", "uuid", "deployment"}


def test_async_infer(client: TestClient, tenant: Tenant) -> None:
    async def run() -> list[object]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = InferenceHTTPClient(
                "http://testserver", tenant.key, http_client=client, async_http_client=http
            )
            return list(
                await asyncio.gather(
                    api.infer_async(jpeg_bytes(), model_id=tenant.model_id),
                    api.infer_async([jpeg_bytes(), jpeg_bytes()], model_id=tenant.model_id),
                )
            )

    single, batch = asyncio.run(run())
    assert isinstance(single, dict)
    assert single["predictions"][0]["class"] == "square"
    assert isinstance(batch, list)
    assert len(batch) == 2


BLOCKER = """
import sys
blocked = {"fastapi", "starlette", "onnxruntime", "sqlalchemy", "cv2", "numpy", "PIL",
           "supervision", "pydantic", "uvicorn", "alembic"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"blocked {name}")
        return None
sys.meta_path.insert(0, Block())
import visionflow.client
client = visionflow.client.InferenceHTTPClient("http://127.0.0.1:1", "k")
print("imported", sorted(visionflow.client.__all__)[0])
"""


def test_sdk_imports_without_server_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout


def test_all_is_sorted_and_complete() -> None:
    import visionflow.client as sdk_module

    assert sdk_module.__all__ == sorted(sdk_module.__all__)
    assert all(hasattr(sdk_module, name) for name in sdk_module.__all__)


def test_url_images_are_downloaded_following_redirects() -> None:
    image = jpeg_bytes(32, 24)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/image.jpg")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *_args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/moved"
            assert encode_image(url) == base64.b64encode(image).decode("ascii")
        finally:
            server.shutdown()
            thread.join()
