"""``embedding_model@v1`` and ``cosine_similarity@v1`` end to end through ``/workflows/run`` with
the tiny CLIP registered as ``clip/1`` (what ``ViT-B-16`` maps to): embeddings equal the PyTorch
reference, similarities equal the cosines of the reference vectors, and what this server cannot
embed is a 400 that says so."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.clip_tiny import (
    PORTRAIT,
    SQUARE,
    cosine,
    image_embedding,
    image_object,
    text_embedding,
)
from tests.workflows.fakes import definition

IMAGE_AND_TEXT = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "text"},
]


COSINE_OF_A_AND_B = definition(
    [
        {
            "type": "roboflow_core/cosine_similarity@v1",
            "name": "cos",
            "embedding_1": "$inputs.a",
            "embedding_2": "$inputs.b",
        }
    ],
    {"similarity": "$steps.cos.similarity"},
    inputs=[
        {"type": "WorkflowParameter", "name": "a"},
        {"type": "WorkflowParameter", "name": "b"},
    ],
)


def post(client: TestClient, tenant: Tenant, workflow: dict[str, Any], **inputs: Any) -> Any:
    return client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": inputs, "specification": workflow},
    )


def embedding_step(model_id: str, data: str = "$inputs.image", **extra: Any) -> dict[str, Any]:
    return {
        "type": "roboflow_core/embedding_model@v1",
        "name": "embed",
        "data": data,
        "model_id": model_id,
        **extra,
    }


@pytest.mark.parametrize("model_id", ["clip/ViT-B-16", "clip/1"])
def test_embedding_model_embeds_each_image(
    client: TestClient, clip_tenant: Tenant, model_id: str
) -> None:
    workflow = definition([embedding_step(model_id)], {"out": "$steps.embed.*"})
    response = post(
        client, clip_tenant, workflow, image=[image_object(SQUARE), image_object(PORTRAIT)]
    )
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    for output, path in zip(outputs, (SQUARE, PORTRAIT), strict=True):
        wanted = image_embedding(path)
        np.testing.assert_allclose(output["out"]["embedding"], wanted, rtol=0, atol=1e-5)
        assert output["out"]["embedding_info"] == {
            "model_id": model_id,
            "feature_definition": "clip-image-embedding",
            "output_type": "feature_vector",
            "dimension": len(wanted),
            "normalization": "none",
            "space_id": f"clip:{model_id}",
        }


def test_cosine_similarity_of_image_and_text_embeddings(
    client: TestClient, clip_tenant: Tenant
) -> None:
    text = "a photo of a cat"
    workflow = definition(
        [
            embedding_step("clip/ViT-B-16"),
            embedding_step("clip/ViT-B-16", data="$inputs.text") | {"name": "embed_text"},
            {
                "type": "roboflow_core/clip@v1",
                "name": "clip_text",
                "data": "$inputs.text",
                "version": "ViT-B-16",
            },
            {
                "type": "roboflow_core/cosine_similarity@v1",
                "name": "image_vs_text",
                "embedding_1": "$steps.embed.embedding",
                "embedding_2": "$steps.clip_text.embedding",
            },
            {
                "type": "roboflow_core/cosine_similarity@v1",
                "name": "same_text",
                "embedding_1": "$steps.embed_text.embedding",
                "embedding_2": "$steps.clip_text.embedding",
            },
        ],
        {
            "image_vs_text": "$steps.image_vs_text.similarity",
            "same_text": "$steps.same_text.similarity",
            "text_info": "$steps.embed_text.embedding_info",
        },
        inputs=IMAGE_AND_TEXT,
    )
    response = post(client, clip_tenant, workflow, image=image_object(SQUARE), text=text)
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    wanted = cosine(image_embedding(SQUARE), text_embedding(text))
    assert output["image_vs_text"] == pytest.approx(wanted, abs=1e-5)
    assert output["same_text"] == pytest.approx(1.0, abs=1e-6)
    assert output["text_info"]["feature_definition"] == "clip-text-embedding"


@pytest.mark.parametrize(
    ("first", "second", "wanted"),
    [
        pytest.param([1.0, 0.0], [0.0, 2.0], 0.0, id="orthogonal"),
        pytest.param([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0, id="parallel"),
        pytest.param([1.0, 1.0], [-1.0, -1.0], -1.0, id="opposite"),
        pytest.param([0.0, 0.0], [1.0, 1.0], 0.0, id="zero-vector"),
    ],
)
def test_cosine_similarity_of_parameters(
    client: TestClient, tenant: Tenant, first: list[float], second: list[float], wanted: float
) -> None:
    response = post(client, tenant, COSINE_OF_A_AND_B, a=first, b=second)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["similarity"] == pytest.approx(wanted, abs=1e-9)


@pytest.mark.parametrize(
    ("first", "second", "field", "message"),
    [
        pytest.param([1.0, 2.0], [1.0, 2.0, 3.0], "embedding_2", "has 3 values", id="sizes"),
        pytest.param([], [1.0], "embedding_1", "non-empty list", id="empty"),
        pytest.param("abc", [1.0], "embedding_1", "non-empty list", id="not-numbers"),
    ],
)
def test_cosine_similarity_rejects_mismatched_embeddings(
    client: TestClient, tenant: Tenant, first: Any, second: Any, field: str, message: str
) -> None:
    response = post(client, tenant, COSINE_OF_A_AND_B, a=first, b=second)
    assert response.status_code == 400, response.text
    body = response.json()
    assert message in body["message"]
    [error] = body["blocks_errors"]
    assert (error["block_id"], error["property_name"]) == ("cos", field)


@pytest.mark.parametrize(
    ("model_id", "status", "message"),
    [
        pytest.param("resnet101", 400, "CLIP only", id="pretrained-resnet"),
        pytest.param("perception_encoder", 400, "clip/<version>", id="other-family"),
        pytest.param("known/1", 400, "not a CLIP model", id="registered-detector"),
        pytest.param("my-project/3", 404, "my-project/3", id="unregistered"),
    ],
)
def test_embedding_model_rejects_what_is_not_clip(
    client: TestClient, clip_tenant: Tenant, model_id: str, status: int, message: str
) -> None:
    workflow = definition(
        [embedding_step("$inputs.model")],
        {"embedding": "$steps.embed.embedding"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "model"},
        ],
    )
    response = post(client, clip_tenant, workflow, image=image_object(SQUARE), model=model_id)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_logits_are_a_400_naming_feature_vector(client: TestClient, clip_tenant: Tenant) -> None:
    workflow = definition(
        [embedding_step("clip/ViT-B-16", output_type="logits")],
        {"embedding": "$steps.embed.embedding"},
    )
    response = post(client, clip_tenant, workflow, image=image_object(SQUARE))
    assert response.status_code == 400, response.text
    body = response.json()
    assert "supported is feature_vector" in body["message"]
    [error] = body["blocks_errors"]
    assert (error["block_id"], error["property_name"]) == ("embed", "output_type")
