"""The CLIP routes (wire reference §3.9, §4.9) against the tiny CLIP's PyTorch reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.clip_tiny import (
    DIAGRAM_TEXT,
    PORTRAIT,
    REFERENCE_VERSION_IDS,
    SQUARE,
    cosine,
    image_embedding,
    image_object,
    reference_texts,
    text_embedding,
)
from visionflow.service.services import Services

TOLERANCE = 1e-5


def post(client: TestClient, route: str, tenant: Tenant, **body: Any) -> Any:
    response = client.post(route, params={"api_key": tenant.key}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_embed_image_equals_pytorch(client: TestClient, clip_tenant: Tenant) -> None:
    body = post(client, "/clip/embed_image", clip_tenant, image=image_object(SQUARE))
    assert set(body) == {"inference_id", "frame_id", "time", "embeddings"}
    assert body["frame_id"] is None
    assert isinstance(body["time"], float)
    (embedding,) = body["embeddings"]
    assert len(embedding) == 512
    np.testing.assert_allclose(embedding, image_embedding(SQUARE), rtol=0, atol=TOLERANCE)


def test_embed_image_list_keeps_order_and_resizes_like_open_clip(
    client: TestClient, clip_tenant: Tenant
) -> None:
    body = post(
        client,
        "/clip/embed_image",
        clip_tenant,
        image=[image_object(PORTRAIT), image_object(SQUARE)],
        clip_version_id="ViT-B-16",
    )
    portrait, square = body["embeddings"]
    np.testing.assert_allclose(portrait, image_embedding(PORTRAIT), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(square, image_embedding(SQUARE), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "text",
    [pytest.param(DIAGRAM_TEXT, id="single"), pytest.param(reference_texts()[:6], id="list")],
)
def test_embed_text_equals_pytorch(
    client: TestClient, clip_tenant: Tenant, text: str | list[str]
) -> None:
    body = post(client, "/clip/embed_text", clip_tenant, text=text)
    texts = text if isinstance(text, list) else [text]
    assert len(body["embeddings"]) == len(texts)
    for got, wanted in zip(body["embeddings"], texts, strict=True):
        np.testing.assert_allclose(got, text_embedding(wanted), rtol=0, atol=TOLERANCE)


def test_text_longer_than_the_context_is_truncated(client: TestClient, clip_tenant: Tenant) -> None:
    long_text = reference_texts()[-1]
    body = post(client, "/clip/embed_text", clip_tenant, text=[long_text])
    np.testing.assert_allclose(
        body["embeddings"][0], text_embedding(long_text), rtol=0, atol=TOLERANCE
    )


def test_compare_image_with_text_list_is_cosine(client: TestClient, clip_tenant: Tenant) -> None:
    prompts = ["a photo of a cat", "a photo of a dog", DIAGRAM_TEXT]
    body = post(client, "/clip/compare", clip_tenant, subject=image_object(SQUARE), prompt=prompts)
    assert set(body) == {"inference_id", "frame_id", "time", "similarity", "parent_id"}
    wanted = [cosine(image_embedding(SQUARE), text_embedding(p)) for p in prompts]
    np.testing.assert_allclose(body["similarity"], wanted, rtol=0, atol=1e-6)


def test_compare_dict_prompts_answer_a_dict(client: TestClient, clip_tenant: Tenant) -> None:
    body = post(
        client,
        "/clip/compare",
        clip_tenant,
        subject="a photo of a cat",
        subject_type="text",
        prompt={"square": image_object(SQUARE), "portrait": image_object(PORTRAIT)},
        prompt_type="image",
    )
    cat = text_embedding("a photo of a cat")
    assert list(body["similarity"]) == ["square", "portrait"]
    assert body["similarity"]["square"] == pytest.approx(
        cosine(cat, image_embedding(SQUARE)), abs=1e-6
    )
    assert body["similarity"]["portrait"] == pytest.approx(
        cosine(cat, image_embedding(PORTRAIT)), abs=1e-6
    )


def test_compare_single_prompt_and_image_to_image(client: TestClient, clip_tenant: Tenant) -> None:
    body = post(
        client,
        "/clip/compare",
        clip_tenant,
        subject=image_object(SQUARE),
        prompt=image_object(PORTRAIT),
        prompt_type="image",
    )
    wanted = cosine(image_embedding(SQUARE), image_embedding(PORTRAIT))
    assert body["similarity"] == pytest.approx([wanted], abs=1e-6)
    same = post(
        client, "/clip/compare", clip_tenant, subject="a dog", subject_type="text", prompt="a dog"
    )
    assert same["similarity"] == pytest.approx([1.0], abs=1e-6)


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        pytest.param("/clip/embed_text", {"text": ""}, "'text' is empty", id="empty-text"),
        pytest.param("/clip/embed_text", {"text": []}, "empty list", id="empty-text-list"),
        pytest.param("/clip/embed_text", {}, "must be a string", id="missing-text"),
        pytest.param("/clip/embed_text", {"text": 3}, "must be a string", id="number"),
        pytest.param(
            "/clip/embed_text", {"text": ["a", None]}, "'text[1]' must be a string", id="none"
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "video", "prompt": "b"},
            "unknown subject_type 'video'",
            id="subject-type",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "text", "prompt": "b", "prompt_type": "audio"},
            "unknown prompt_type",
            id="prompt-type",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a cat", "prompt": "b"},
            "type is 'image'",
            id="text-as-image",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "text", "prompt": []},
            "'prompt' is an empty list",
            id="no-prompts",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "text", "prompt": {}},
            "empty object",
            id="empty-dict",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "text", "prompt": ["b", ""]},
            "'prompt[1]' is empty",
            id="empty-prompt",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": ["a"], "subject_type": "text", "prompt": "b"},
            "not a list",
            id="subject-list",
        ),
        pytest.param(
            "/clip/compare",
            {"subject_type": "text", "prompt": "b"},
            "'subject' is required",
            id="no-subject",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": {"type": "base64", "value": "bm90IGFuIGltYWdl"}, "prompt": "b"},
            "Could not load input image",
            id="bad-image",
        ),
        pytest.param(
            "/clip/embed_text",
            {"text": "a", "clip_version_id": "ViT-made-up-99"},
            "VISIONFLOW_CLIP_MODELS",
            id="unmapped-version",
        ),
        pytest.param("/clip/embed_image", {"image": []}, "no image given", id="no-image"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, clip_tenant: Tenant, route: str, body: dict[str, Any], message: str
) -> None:
    response = client.post(route, params={"api_key": clip_tenant.key}, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["message"]


NOT_AN_IMAGE = {"type": "base64", "value": "bm90IGFuIGltYWdl"}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        pytest.param("/clip/embed_text", {"text": [f"text {i}" for i in range(9)]}, id="texts"),
        # Undecodable images: the count is checked before any image loads.
        pytest.param("/clip/embed_image", {"image": [NOT_AN_IMAGE] * 9}, id="images"),
        pytest.param(
            "/clip/compare",
            {"subject": "a", "subject_type": "text", "prompt": [f"p{i}" for i in range(9)]},
            id="prompt-list",
        ),
        pytest.param(
            "/clip/compare",
            {"subject": NOT_AN_IMAGE, "prompt": {f"name{i}": "p" for i in range(9)}},
            id="prompt-dict",
        ),
        pytest.param(
            "/clip/compare",
            {
                "subject": "a",
                "subject_type": "text",
                "prompt": [NOT_AN_IMAGE] * 9,
                "prompt_type": "image",
            },
            id="image-prompts",
        ),
    ],
)
def test_more_than_the_batch_size_is_a_400_naming_the_limit(
    client: TestClient, clip_tenant: Tenant, route: str, body: dict[str, Any]
) -> None:
    response = client.post(route, params={"api_key": clip_tenant.key}, json=body)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "has 9 items" in message
    assert "at most 8" in message
    assert "VISIONFLOW_CLIP_MAX_BATCH_SIZE" in message


def test_the_batch_size_itself_is_accepted(client: TestClient, clip_tenant: Tenant) -> None:
    texts = [t for t in reference_texts() if t] + ["a photo of a bird"]
    assert len(texts) == 8
    body = post(client, "/clip/embed_text", clip_tenant, text=texts)
    assert len(body["embeddings"]) == 8
    np.testing.assert_allclose(
        body["embeddings"][1], text_embedding(texts[1]), rtol=0, atol=TOLERANCE
    )
    compared = post(
        client, "/clip/compare", clip_tenant, subject=image_object(SQUARE), prompt=texts
    )
    assert len(compared["similarity"]) == 8


@pytest.mark.parametrize("version", REFERENCE_VERSION_IDS)
def test_every_reference_version_maps_to_clip_1_by_default(
    client: TestClient, clip_tenant: Tenant, version: str
) -> None:
    body = post(
        client, "/clip/embed_text", clip_tenant, text="a photo of a cat", clip_version_id=version
    )
    np.testing.assert_allclose(
        body["embeddings"][0], text_embedding("a photo of a cat"), rtol=0, atol=TOLERANCE
    )


def test_unregistered_model_is_a_404_that_says_how_to_add_it(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/clip/embed_text", params={"api_key": tenant.key}, json={"text": "a cat"}
    )
    assert response.status_code == 404, response.text
    message = response.json()["message"]
    assert "scripts/export_clip.py" in message
    assert "visionflow models add clip/1" in message


def test_a_non_clip_model_is_refused(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/clip/embed_text",
        params={"api_key": tenant.key},
        json={"text": "a cat", "clip_version_id": tenant.model_id},
    )
    assert response.status_code == 400, response.text
    assert "not a CLIP model" in response.json()["message"]


def test_model_ids_are_accepted_as_version_and_sessions_are_cached(
    client: TestClient, services: Services, clip_tenant: Tenant
) -> None:
    post(client, "/clip/embed_text", clip_tenant, text="a", clip_version_id="clip/1")
    post(client, "/clip/embed_text", clip_tenant, text="b")
    assert [entry.key for entry in services.manager.loaded()] == ["acme/clip/1"]


def test_a_key_is_needed_where_keys_are_required(
    client: TestClient, services: Services, clip_tenant: Tenant
) -> None:
    services.settings = services.settings.with_overrides(require_api_key=True)
    services.authorizer = type(services.authorizer)(services.registry, services.settings)
    response = client.post("/clip/embed_text", json={"text": "a"})
    assert response.status_code == 401
