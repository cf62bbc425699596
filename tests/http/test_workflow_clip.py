"""CLIP workflow blocks end to end through ``/workflows/run`` with the tiny CLIP registered as
``clip/1`` (what ``ViT-B-16`` maps to by default): results equal the PyTorch reference."""

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
from visionflow.workflows.blocks.clip import MAX_CLASSES

CLASSES = ["a photo of a cat", "a photo of a dog", "A Diagram!! of 2 dogs, 3 cats & a café."]


def run(client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any) -> Any:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def expected(path: Any) -> list[float]:
    return [cosine(image_embedding(path), text_embedding(text)) for text in CLASSES]


def test_clip_comparison_v2(client: TestClient, clip_tenant: Tenant) -> None:
    workflow = definition(
        [
            {
                "type": "roboflow_core/clip_comparison@v2",
                "name": "clip",
                "images": "$inputs.image",
                "classes": CLASSES,
            }
        ],
        [{"type": "JsonField", "name": "all", "selector": "$steps.clip.*"}],
    )
    outputs = run(client, clip_tenant, workflow, [image_object(SQUARE), image_object(PORTRAIT)])
    for output, path in zip(outputs, (SQUARE, PORTRAIT), strict=True):
        result = output["all"]
        wanted = expected(path)
        np.testing.assert_allclose(result["similarities"], wanted, rtol=0, atol=1e-6)
        best, worst = int(np.argmax(wanted)), int(np.argmin(wanted))
        assert result["most_similar_class"] == CLASSES[best]
        assert result["least_similar_class"] == CLASSES[worst]
        assert result["max_similarity"] == pytest.approx(wanted[best], abs=1e-6)
        assert result["min_similarity"] == pytest.approx(wanted[worst], abs=1e-6)
        predictions = result["classification_predictions"]
        assert [p["class"] for p in predictions["predictions"]] == CLASSES
        assert [p["class_id"] for p in predictions["predictions"]] == [0, 1, 2]
        assert predictions["top"] == CLASSES[best]
        assert result["parent_id"] == result["root_parent_id"] == predictions["parent_id"]


def test_clip_comparison_v1_with_texts_from_inputs(client: TestClient, clip_tenant: Tenant) -> None:
    workflow = definition(
        [
            {
                "type": "ClipComparison",
                "name": "clip",
                "images": "$inputs.image",
                "texts": "$inputs.texts",
            }
        ],
        {"similarity": "$steps.clip.similarity", "kind": "$steps.clip.prediction_type"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "texts"},
        ],
    )
    response = client.post(
        "/workflows/run",
        json={
            "api_key": clip_tenant.key,
            "inputs": {"image": image_object(SQUARE), "texts": CLASSES},
            "specification": workflow,
        },
    )
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    np.testing.assert_allclose(output["similarity"], expected(SQUARE), rtol=0, atol=1e-6)
    assert output["kind"] == "embeddings-comparison"


@pytest.mark.parametrize(
    ("data", "wanted"),
    [
        pytest.param("$inputs.image", image_embedding(SQUARE), id="image"),
        pytest.param("a photo of a cat", text_embedding("a photo of a cat"), id="text"),
    ],
)
def test_clip_embedding(
    client: TestClient, clip_tenant: Tenant, data: str, wanted: np.ndarray
) -> None:
    workflow = definition(
        [{"type": "roboflow_core/clip@v1", "name": "clip", "data": data, "version": "ViT-B-16"}],
        {"embedding": "$steps.clip.embedding"},
    )
    (output,) = run(client, clip_tenant, workflow, image_object(SQUARE))
    np.testing.assert_allclose(output["embedding"], wanted, rtol=0, atol=1e-5)


def test_clip_v1_default_version_runs_on_a_default_install(
    client: TestClient, clip_tenant: Tenant
) -> None:
    """``clip@v1`` defaults to ``ViT-B-32``, which maps to ``clip/1`` like every reference id."""
    workflow = definition(
        [{"type": "roboflow_core/clip@v1", "name": "clip", "data": "$inputs.image"}],
        {"embedding": "$steps.clip.embedding"},
    )
    (output,) = run(client, clip_tenant, workflow, image_object(SQUARE))
    np.testing.assert_allclose(output["embedding"], image_embedding(SQUARE), rtol=0, atol=1e-5)


def test_an_unmapped_version_says_how_to_add_it(client: TestClient, clip_tenant: Tenant) -> None:
    workflow = definition(
        [
            {
                "type": "roboflow_core/clip@v1",
                "name": "clip",
                "data": "$inputs.image",
                "version": "$inputs.version",
            }
        ],
        {"embedding": "$steps.clip.embedding"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "version"},
        ],
    )
    response = client.post(
        "/workflows/run",
        json={
            "api_key": clip_tenant.key,
            "inputs": {"image": image_object(SQUARE), "version": "ViT-made-up-99"},
            "specification": workflow,
        },
    )
    assert response.status_code == 404, response.text
    assert "'ViT-made-up-99' is not mapped" in response.json()["message"]


def comparison(classes: Any) -> dict[str, Any]:
    return definition(
        [
            {
                "type": "roboflow_core/clip_comparison@v2",
                "name": "clip",
                "images": "$inputs.image",
                "classes": "$inputs.classes",
            }
        ],
        {"s": "$steps.clip.similarities"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "classes"},
        ],
    )


def test_many_more_classes_than_the_clip_batch_size(
    client: TestClient, clip_tenant: Tenant
) -> None:
    """/clip/compare takes 8 prompts; a step embeds 30 classes in chunks, same numbers."""
    classes = CLASSES * 10
    response = client.post(
        "/workflows/run",
        json={
            "api_key": clip_tenant.key,
            "inputs": {"image": image_object(SQUARE), "classes": classes},
            "specification": comparison(classes),
        },
    )
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    np.testing.assert_allclose(output["s"], expected(SQUARE) * 10, rtol=0, atol=1e-6)


def test_more_than_max_classes_is_a_400_naming_step_and_field(
    client: TestClient, clip_tenant: Tenant
) -> None:
    classes = [f"class {i}" for i in range(MAX_CLASSES + 1)]
    response = client.post(
        "/workflows/run",
        json={
            "api_key": clip_tenant.key,
            "inputs": {"image": image_object(SQUARE), "classes": classes},
            "specification": comparison(classes),
        },
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "'clip'" in message
    assert "'classes'" in message
    assert f"has {MAX_CLASSES + 1} classes" in message
    assert f"at most {MAX_CLASSES}" in message


def test_empty_classes_are_refused(client: TestClient, clip_tenant: Tenant) -> None:
    workflow = definition(
        [
            {
                "type": "roboflow_core/clip_comparison@v2",
                "name": "clip",
                "images": "$inputs.image",
                "classes": [],
            }
        ],
        {"s": "$steps.clip.similarities"},
    )
    response = client.post(
        "/workflows/run",
        json={
            "api_key": clip_tenant.key,
            "inputs": {"image": image_object(SQUARE)},
            "specification": workflow,
        },
    )
    assert response.status_code == 400, response.text
    assert "at least one class" in response.text
