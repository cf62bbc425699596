"""The SDK's CLIP calls against the real app, with the tiny CLIP registered as ``clip/1``."""

from __future__ import annotations

import asyncio
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.clip_tiny import (
    PORTRAIT,
    SQUARE,
    cosine,
    image_embedding,
    text_embedding,
)
from visionflow.client import InferenceHTTPClient, InvalidInputError, ModelNotFoundError


@pytest.fixture
def api(client: TestClient, clip_tenant: Tenant) -> InferenceHTTPClient:
    return InferenceHTTPClient("http://testserver", clip_tenant.key, http_client=client)


def test_image_embeddings_single_and_list(api: InferenceHTTPClient) -> None:
    single = api.get_clip_image_embeddings(str(SQUARE))
    assert isinstance(single, dict)
    np.testing.assert_allclose(single["embeddings"][0], image_embedding(SQUARE), atol=1e-5)
    # PNG paths travel losslessly; numpy arrays are JPEG-encoded, so only their shape is checked.
    several = api.get_clip_image_embeddings([SQUARE, PORTRAIT], clip_version="ViT-B-16")
    assert isinstance(several, list)
    assert [set(item) for item in several] == [{"frame_id", "time", "embeddings"}] * 2
    np.testing.assert_allclose(several[1]["embeddings"][0], image_embedding(PORTRAIT), atol=1e-5)
    from_array = api.get_clip_image_embeddings(cv2.imread(str(SQUARE)))
    assert isinstance(from_array, dict)
    assert len(from_array["embeddings"][0]) == 512


def test_more_images_than_one_request_takes_go_in_several(
    client: TestClient, api: InferenceHTTPClient
) -> None:
    """The server takes 8 images a request (VISIONFLOW_CLIP_MAX_BATCH_SIZE): 11 go in 2 calls."""
    seen: list[str] = []
    client.event_hooks["request"] = [lambda request: seen.append(request.url.path)]
    paths = [SQUARE, PORTRAIT] * 5 + [PORTRAIT]
    several = api.get_clip_image_embeddings(paths)
    assert seen == ["/clip/embed_image"] * 2
    assert isinstance(several, list)
    assert len(several) == 11
    for item, path in zip(several, paths, strict=True):
        np.testing.assert_allclose(item["embeddings"][0], image_embedding(path), atol=1e-5)
    assert api.get_clip_image_embeddings([]) == []
    assert len(seen) == 2


def test_text_embeddings(api: InferenceHTTPClient) -> None:
    result = api.get_clip_text_embeddings(["a photo of a cat", "a photo of a dog"])
    np.testing.assert_allclose(
        result["embeddings"][1], text_embedding("a photo of a dog"), atol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "wanted"),
    [
        pytest.param(
            {"subject": SQUARE, "prompt": ["a photo of a cat", "a photo of a dog"]},
            [
                cosine(image_embedding(SQUARE), text_embedding("a photo of a cat")),
                cosine(image_embedding(SQUARE), text_embedding("a photo of a dog")),
            ],
            id="image-vs-texts",
        ),
        pytest.param(
            {
                "subject": "a photo of a cat",
                "subject_type": "text",
                "prompt": [SQUARE, PORTRAIT],
                "prompt_type": "image",
            },
            [
                cosine(text_embedding("a photo of a cat"), image_embedding(SQUARE)),
                cosine(text_embedding("a photo of a cat"), image_embedding(PORTRAIT)),
            ],
            id="text-vs-images",
        ),
    ],
)
def test_compare(api: InferenceHTTPClient, kwargs: dict[str, Any], wanted: list[float]) -> None:
    result = api.clip_compare(**kwargs)
    np.testing.assert_allclose(result["similarity"], wanted, atol=1e-6)


def test_bad_types_and_missing_models_raise(api: InferenceHTTPClient) -> None:
    with pytest.raises(InvalidInputError):
        api.clip_compare("a", "b", subject_type="audio")
    with pytest.raises(ModelNotFoundError, match="VISIONFLOW_CLIP_MODELS"):
        api.get_clip_text_embeddings("a", clip_version="ViT-made-up-99")


def test_async_twins(client: TestClient, api: InferenceHTTPClient) -> None:
    async def run() -> tuple[Any, Any, Any, Any]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async_api = InferenceHTTPClient(
                "http://testserver", api.api_key, http_client=client, async_http_client=http
            )
            return await asyncio.gather(
                async_api.get_clip_image_embeddings_async(SQUARE),
                async_api.get_clip_image_embeddings_async([PORTRAIT] * 9 + [SQUARE]),
                async_api.get_clip_text_embeddings_async("a photo of a cat"),
                async_api.clip_compare_async("a", "a", subject_type="text"),
            )

    image, images, text, compared = asyncio.run(run())
    np.testing.assert_allclose(image["embeddings"][0], image_embedding(SQUARE), atol=1e-5)
    assert len(images) == 10
    np.testing.assert_allclose(images[8]["embeddings"][0], image_embedding(PORTRAIT), atol=1e-5)
    np.testing.assert_allclose(images[9]["embeddings"][0], image_embedding(SQUARE), atol=1e-5)
    np.testing.assert_allclose(text["embeddings"][0], text_embedding("a photo of a cat"), atol=1e-5)
    assert compared["similarity"] == pytest.approx([1.0], abs=1e-6)
