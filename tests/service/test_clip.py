"""``ClipService``: the per-request batch limit (``clip_max_batch_size``), the chunks ``embed``
runs the model in, and the default version map."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from tests.fixtures.clip_tiny import (
    CLIP_TINY,
    REFERENCE_VERSION_IDS,
    SQUARE,
    image_embedding,
    text_embedding,
)
from visionflow.config import Settings
from visionflow.errors import InvalidInputError
from visionflow.service.auth import Principal
from visionflow.service.clip import ClipService
from visionflow.service.images import ImageRef
from visionflow.service.services import Services
from visionflow.workflows.blocks.clip import ClipVersion

ACME = Principal("acme", ("acme",))
TEXTS = ["a photo of a cat", "a photo of a dog"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, dict.fromkeys(REFERENCE_VERSION_IDS, "clip/1"), id="defaults"),
        pytest.param(
            {"VISIONFLOW_CLIP_MODELS": "RN50=clip-rn50/1, custom=mine/2"},
            {
                **dict.fromkeys(REFERENCE_VERSION_IDS, "clip/1"),
                "RN50": "clip-rn50/1",
                "custom": "mine/2",
            },
            id="entries-override-one-by-one",
        ),
    ],
)
def test_version_map_from_env(environ: dict[str, str], expected: dict[str, str]) -> None:
    assert dict(Settings.from_env(environ).clip_models) == expected


def test_clip_blocks_take_the_versions_the_service_maps() -> None:
    """The blocks' ``ClipVersion`` (a Literal, for the schema) lists the same ids as the
    defaults of ``Settings.clip_models``."""
    assert set(get_args(ClipVersion)) == set(REFERENCE_VERSION_IDS)
    assert {version for version, _model in Settings().clip_models} == set(REFERENCE_VERSION_IDS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", register_demo_models=False, clip_max_batch_size=3)


@pytest.fixture
def clip(services: Services) -> ClipService:
    services.registry.create_workspace("acme")
    services.models.add_from_path("acme", "clip/1", CLIP_TINY)
    return ClipService(services.inference, services.images)


def _image_ref() -> ImageRef:
    return ImageRef(type="base64", value=base64.b64encode(SQUARE.read_bytes()).decode())


@pytest.mark.parametrize(
    ("count", "allowed"),
    [
        pytest.param(0, False, id="empty"),
        pytest.param(1, True, id="one"),
        pytest.param(3, True, id="at-the-limit"),
        pytest.param(4, False, id="over-the-limit"),
    ],
)
def test_text_requests_hold_one_to_max_batch_size(
    clip: ClipService, count: int, allowed: bool
) -> None:
    texts = (TEXTS * 2)[:count]
    if allowed:
        found = clip.text_embeddings(ACME, None, texts)
        assert found.shape == (count, 512)
        return
    with pytest.raises(InvalidInputError) as caught:
        clip.text_embeddings(ACME, None, texts)
    assert caught.value.http_status == 400
    wanted = "empty list" if count == 0 else "at most 3 (VISIONFLOW_CLIP_MAX_BATCH_SIZE=3"
    assert wanted in caught.value.message


def test_image_requests_are_counted_before_images_load(clip: ClipService) -> None:
    not_an_image = ImageRef(type="base64", value="bm90IGFuIGltYWdl")
    with pytest.raises(InvalidInputError, match="'image' has 4 items"):
        clip.image_embeddings(ACME, None, [not_an_image] * 4)
    with pytest.raises(InvalidInputError, match="no image given"):
        clip.image_embeddings(ACME, None, [])
    found = clip.image_embeddings(ACME, "RN50", [_image_ref()] * 3)
    np.testing.assert_allclose(found[2], image_embedding(SQUARE), rtol=0, atol=1e-5)


def test_embed_runs_the_model_in_chunks_of_the_batch_size(
    clip: ClipService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workflow blocks embed more than one request may carry: in chunks, same numbers."""
    model = clip.model(ACME, None)
    sizes: dict[str, list[int]] = {"image": [], "text": []}
    embed_text, embed_image = model.text.embed, model.image.embed

    def text(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        sizes["text"].append(len(texts))
        return embed_text(texts)

    def image(images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        sizes["image"].append(len(images))
        return embed_image(images)

    monkeypatch.setattr(model.text, "embed", text)
    monkeypatch.setattr(model.image, "embed", image)
    square = np.asarray(cv2.imread(str(SQUARE)), dtype=np.uint8)
    values: list[npt.NDArray[np.uint8] | str] = [square, *TEXTS * 4, square]
    found = clip.embed(ACME, None, values)
    assert sizes == {"image": [2], "text": [3, 3, 2]}
    assert found.shape == (10, 512)
    for row, value in zip(found, values, strict=True):
        wanted = text_embedding(value) if isinstance(value, str) else image_embedding(SQUARE)
        np.testing.assert_allclose(row, wanted, rtol=0, atol=1e-5)


def test_the_limit_comes_from_the_environment() -> None:
    assert Settings().clip_max_batch_size == 8
    assert Settings.from_env({"VISIONFLOW_CLIP_MAX_BATCH_SIZE": "32"}).clip_max_batch_size == 32
    with pytest.raises(ValueError, match="VISIONFLOW_CLIP_MAX_BATCH_SIZE must be >= 1"):
        Settings.from_env({"VISIONFLOW_CLIP_MAX_BATCH_SIZE": "0"})
