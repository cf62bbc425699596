"""The CLIP package: manifest round trip, loading through the architecture registry, and
embeddings equal to the PyTorch model's (recorded by scripts/export_clip.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fixtures.clip_tiny import (
    CLIP_TINY,
    PORTRAIT,
    SQUARE,
    image_embedding,
    reference,
    reference_texts,
    text_embedding,
)
from visionflow.errors import InvalidModelPackageError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.clip import (
    ClipModel,
    ClipTextEncoder,
    ClipTokenizer,
    clip_pixels,
    cosine_similarity,
)
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.runtime import OnnxSession

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model() -> ClipModel:
    loaded = ArchitectureRegistry().load(ModelPackage.from_folder(CLIP_TINY), OnnxSession)
    assert isinstance(loaded, ClipModel)
    return loaded


def test_manifest_round_trip() -> None:
    manifest = ModelManifest.read(CLIP_TINY / "model.json")
    assert manifest.task == "embedding"
    assert manifest.class_names == ()
    assert set(manifest.weights) == {"image_encoder", "text_encoder", "tokenizer"}
    assert ModelManifest.from_json_bytes(manifest.to_json_bytes()) == manifest


def test_only_embedding_packages_may_have_no_classes() -> None:
    raw = json.loads((CLIP_TINY / "model.json").read_text())
    raw["task"] = "classification"
    with pytest.raises(InvalidModelPackageError, match="class_names"):
        ModelManifest.from_json_bytes(json.dumps(raw).encode())


def test_text_embeddings_equal_pytorch(model: ClipModel) -> None:
    texts = reference_texts()
    got = model.text.embed(texts)
    assert got.shape == (len(texts), 512)
    assert got.dtype == np.float32
    wanted = np.stack([text_embedding(t) for t in texts])
    np.testing.assert_allclose(got, wanted, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "path", [pytest.param(SQUARE, id="224"), pytest.param(PORTRAIT, id="240x280")]
)
def test_preprocessing_is_open_clips_bit_for_bit(model: ClipModel, path: Path) -> None:
    pixels = clip_pixels([cv2.imread(str(path))], model.manifest.input)
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    assert digest == reference()["images"][path.name]["pixel_values_sha256"]


def test_image_embeddings_equal_pytorch(model: ClipModel) -> None:
    got = model.image.embed([cv2.imread(str(SQUARE)), cv2.imread(str(PORTRAIT))])
    np.testing.assert_allclose(got[0], image_embedding(SQUARE), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(got[1], image_embedding(PORTRAIT), rtol=0, atol=TOLERANCE)
    assert [e.shape for e in model.infer([cv2.imread(str(SQUARE))])] == [(512,)]


def test_text_encoder_from_parts_and_empty_input() -> None:
    tokenizer = ClipTokenizer.from_file(CLIP_TINY / "tokenizer.json")
    encoder = ClipTextEncoder(OnnxSession(CLIP_TINY / "text_encoder.onnx"), tokenizer)
    assert encoder.dim == 512
    assert encoder.embed([]).shape == (0, 512)


@pytest.mark.parametrize(
    ("a", "b", "wanted"),
    [
        pytest.param(
            [[1.0, 0.0]], [[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]], [[1.0, 0.0, -1.0]], id="axes"
        ),
        pytest.param([[0.0, 0.0]], [[1.0, 1.0]], [[0.0]], id="zero-vector"),
        pytest.param(np.zeros((0, 2)), [[1.0, 1.0]], np.zeros((0, 1)), id="empty"),
    ],
)
def test_cosine_similarity(a: object, b: object, wanted: object) -> None:
    got = cosine_similarity(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(got, np.asarray(wanted), atol=1e-12)


def test_a_wrong_task_is_refused(tmp_path: Path) -> None:
    package = ModelPackage.from_folder(CLIP_TINY)
    raw = json.loads(package.manifest.to_json_bytes())
    raw["input"]["resize_mode"] = "letterbox"
    bad = ModelPackage(ModelManifest.model_validate(raw), package.files)
    with pytest.raises(InvalidModelPackageError, match="center-crop"):
        ClipModel.load(bad, OnnxSession)
