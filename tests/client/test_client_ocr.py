"""``ocr_image`` (sync and async) against the real app: rendered text is read back through each
OCR model's route (in-process transports, no sockets)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.ocr_images import cer, render
from visionflow.client import InferenceHTTPClient, InvalidInputError

TEXT = "Hello OCR world 42"
SECOND = "second image"


@pytest.fixture
def api(client: TestClient, tenant: Tenant) -> InferenceHTTPClient:
    return InferenceHTTPClient("http://testserver", tenant.key, http_client=client)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    """A lossless PNG file: the SDK sends a path's bytes as they are."""
    path = tmp_path / "hello.png"
    assert cv2.imwrite(str(path), render((TEXT,), 32))
    return path


@pytest.mark.parametrize(
    ("kwargs", "route"),
    [
        pytest.param({}, "/doctr/ocr", id="doctr-default"),
        pytest.param({"model": "DocTR", "version": "default"}, "/doctr/ocr", id="doctr-case"),
        pytest.param(
            {"model": "trocr", "version": "trocr-small-printed"}, "/ocr/trocr", id="trocr"
        ),
        pytest.param(
            {"model": "easy_ocr", "language_codes": ["en"], "quantize": False},
            "/easy_ocr/ocr",
            id="easy-ocr",
        ),
        pytest.param({"model": "pp_ocr", "version": "small-small"}, "/ocr/pp-ocr", id="pp-ocr"),
    ],
)
def test_one_image_gives_one_dict_with_the_text(
    client: TestClient, tenant: Tenant, hello: Path, kwargs: dict[str, Any], route: str
) -> None:
    seen: list[str] = []
    client.event_hooks["request"] = [lambda request: seen.append(request.url.path)]
    api = InferenceHTTPClient("http://testserver", tenant.key, http_client=client)
    result = api.ocr_image(hello, **kwargs)
    assert seen == [route]
    assert isinstance(result, dict)
    assert set(result) == {"result", "time", "parent_id"}
    assert cer(TEXT, result["result"]) <= 0.02, result["result"]


def test_a_list_gives_a_list_in_order_and_a_list_of_one_gives_a_dict(
    api: InferenceHTTPClient, hello: Path
) -> None:
    blank = np.full((120, 200, 3), 255, dtype=np.uint8)
    results = api.ocr_image([hello, blank, render((SECOND,), 28)], model="easy_ocr")
    assert isinstance(results, list)
    assert [r["result"] for r in results] == [TEXT, "", SECOND]
    single = api.ocr_image([hello], model="pp_ocr")
    assert isinstance(single, dict)
    assert single["result"] == TEXT
    assert api.ocr_image([]) == []


def test_version_and_boxes_reach_the_route(api: InferenceHTTPClient, hello: Path) -> None:
    boxed = api.ocr_image(hello, generate_bounding_boxes=True)
    assert isinstance(boxed, dict)
    assert [p["class"] for p in boxed["predictions"]] == boxed["result"].split()
    height, width = render((TEXT,), 32).shape[:2]
    assert boxed["image"] == {"width": width, "height": height}
    # 'small-none' is pp_ocr_version_id for detection only: boxes, no text.
    detected = api.ocr_image(
        hello, model="pp_ocr", version="small-none", generate_bounding_boxes=True
    )
    assert isinstance(detected, dict)
    assert detected["result"] == ""
    assert detected["predictions"]


def test_errors_are_typed(api: InferenceHTTPClient, hello: Path) -> None:
    with pytest.raises(InvalidInputError, match="trocr_version_id 'trocr-huge'") as bad_version:
        api.ocr_image(hello, model="trocr", version="trocr-huge")
    assert bad_version.value.http_status == 400
    with pytest.raises(InvalidInputError, match="OCR model 'tesseract' is not supported"):
        api.ocr_image(hello, model="tesseract")


def test_async_twin(client: TestClient, api: InferenceHTTPClient, hello: Path) -> None:
    async def run() -> tuple[Any, Any]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async_api = InferenceHTTPClient(
                "http://testserver", api.api_key, http_client=client, async_http_client=http
            )
            return await asyncio.gather(
                async_api.ocr_image_async([hello, render((SECOND,), 28)], model="trocr"),
                async_api.ocr_image_async(hello, model="pp_ocr", version="small"),
            )

    several, one = asyncio.run(run())
    assert [r["result"] for r in several] == [TEXT, SECOND]
    assert isinstance(one, dict)
    assert one["result"] == TEXT
