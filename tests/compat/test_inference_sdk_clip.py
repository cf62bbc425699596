"""The official SDK's CLIP calls against a running server, with the tiny CLIP registered as
``clip/1`` (what ``ViT-B-16``, the default ``clip_version_id``, maps to)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.compat.conftest import RunningServer
from tests.fixtures.clip_tiny import (
    CLIP_TINY,
    PORTRAIT,
    SQUARE,
    cosine,
    image_embedding,
    text_embedding,
)
from tests.support.sdk import register_model, run_sdk

pytestmark = pytest.mark.slow

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, square, portrait = sys.argv[1:5]
client = InferenceHTTPClient(api_url=url, api_key=key)
out = {
    "image": client.get_clip_image_embeddings(square),
    "images": client.get_clip_image_embeddings([square, portrait], clip_version="ViT-B-16"),
    "text": client.get_clip_text_embeddings("a photo of a cat"),
    "texts": client.get_clip_text_embeddings(["a photo of a cat", "a photo of a dog"]),
    "compare": client.clip_compare(square, ["a photo of a cat", "a photo of a dog"]),
    "compare_images": client.clip_compare(
        "a photo of a cat", [square, portrait], subject_type="text", prompt_type="image"
    ),
}
try:
    client.get_clip_text_embeddings("a", clip_version="ViT-made-up-99")
except Exception as error:
    out["missing"] = {"status": getattr(error, "status_code", None), "text": str(error)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def answers(server: RunningServer, sdk_python: Path) -> dict[str, Any]:
    register_model(server.home, "clip/1", CLIP_TINY)
    answers: dict[str, Any] = run_sdk(sdk_python, DRIVER, server.url, server.key, SQUARE, PORTRAIT)
    return answers


def test_image_embeddings(answers: dict[str, Any]) -> None:
    image = answers["image"]
    assert image["frame_id"] is None
    np.testing.assert_allclose(image["embeddings"][0], image_embedding(SQUARE), atol=1e-5)
    square, portrait = answers["images"]
    np.testing.assert_allclose(square["embeddings"][0], image_embedding(SQUARE), atol=1e-5)
    np.testing.assert_allclose(portrait["embeddings"][0], image_embedding(PORTRAIT), atol=1e-5)


def test_text_embeddings(answers: dict[str, Any]) -> None:
    cat = text_embedding("a photo of a cat")
    np.testing.assert_allclose(answers["text"]["embeddings"][0], cat, atol=1e-5)
    rows = answers["texts"]["embeddings"]
    np.testing.assert_allclose(rows[1], text_embedding("a photo of a dog"), atol=1e-5)


def test_compare(answers: dict[str, Any]) -> None:
    square = image_embedding(SQUARE)
    wanted = [cosine(square, text_embedding(t)) for t in ("a photo of a cat", "a photo of a dog")]
    np.testing.assert_allclose(answers["compare"]["similarity"], wanted, atol=1e-6)
    cat = text_embedding("a photo of a cat")
    wanted = [cosine(cat, image_embedding(p)) for p in (SQUARE, PORTRAIT)]
    np.testing.assert_allclose(answers["compare_images"]["similarity"], wanted, atol=1e-6)


def test_an_unmapped_version_is_a_404(answers: dict[str, Any]) -> None:
    assert answers["missing"]["status"] == 404
    assert "VISIONFLOW_CLIP_MODELS" in answers["missing"]["text"]
