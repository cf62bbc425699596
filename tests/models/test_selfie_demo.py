"""The shipped MediaPipe selfie segmenter (``visionflow/demo/models/selfie-seg``) on real images.

Person image: ``tests/fixtures/images/grace_hopper.jpg`` (512x600 portrait of Grace Hopper, a
US Navy photograph in the public domain; the copy matplotlib ships as sample data). Measured
with this package: person covers 0.5786 of the pixels; the face, the cap and the jacket are
person, the flag on the left and the blue backdrop on the right are background.

No-person images: a flat colour (0.0 person) and ten ``scripts/shapes.py`` images (seed 0,
640x480): mean 0.017, median 0.0 — the model does fire on some busy synthetic backgrounds
(0.136 on the first image), so the bound is on the set, not on each image.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from visionflow.core.results import SemanticSegmentationResult
from visionflow.http.app import create_app
from visionflow.models.package import ModelPackage
from visionflow.models.params import SemanticParams
from visionflow.models.semantic import SemanticSegmentationModel
from visionflow.runtime import OnnxSession
from visionflow.service.services import Services

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import shapes  # noqa: E402

PACKAGE_DIR = ROOT / "src" / "visionflow" / "demo" / "models" / "selfie-seg"
PERSON_JPEG = ROOT / "tests" / "fixtures" / "images" / "grace_hopper.jpg"
WEIGHTS_SHA256 = "c0e4160cdc6e01f9c7f82cf4273b04b2ac8282156f29eed7dc391375623a3a36"

# (x, y) in the 512x600 portrait.
PERSON_POINTS = {
    "face (between the eyes and the mouth)": (265, 250),
    "forehead under the cap": (265, 200),
    "cap": (260, 90),
    "tie": (256, 450),
    "jacket, bottom edge": (256, 590),
}
BACKGROUND_POINTS = {
    "top-left corner (flag)": (0, 0),
    "top-right corner (backdrop)": (511, 0),
    "flag, left edge": (20, 300),
    "backdrop, right of the head": (480, 250),
    "bottom-left corner (flag)": (0, 599),
}
PERSON_FRACTION = 0.5786  # measured; the margin allows for runtime/decoder differences


@pytest.fixture(scope="module")
def model() -> SemanticSegmentationModel:
    package = ModelPackage.from_folder(PACKAGE_DIR)  # also verifies the weights' sha256
    return SemanticSegmentationModel.load(package, OnnxSession)


@pytest.fixture(scope="module")
def person_bgr() -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(PERSON_JPEG.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (600, 512, 3)
    return np.asarray(image, dtype=np.uint8)


@pytest.fixture(scope="module")
def person_result(
    model: SemanticSegmentationModel, person_bgr: np.ndarray
) -> SemanticSegmentationResult:
    [result] = model.infer([person_bgr], SemanticParams())
    return result


def _flat() -> np.ndarray:
    return np.full((480, 640, 3), (200, 140, 90), dtype=np.uint8)


def test_package_manifest() -> None:
    package = ModelPackage.from_folder(PACKAGE_DIR)
    manifest = package.manifest
    assert manifest.task == "semantic-segmentation"
    assert manifest.architecture == "semantic"
    assert manifest.class_names == ("background", "person")
    assert manifest.extra == {"output": "probability"}
    spec = manifest.input
    assert (spec.width, spec.height, spec.layout, spec.batch_size) == (256, 256, "nhwc", 1)
    assert (spec.resize_mode, spec.color_mode, spec.scaling_factor) == ("stretch", "rgb", 255.0)
    assert manifest.weights["model"].sha256 == WEIGHTS_SHA256
    assert manifest.source["license"] == "Apache-2.0"
    assert package.weight_path().stat().st_size < 1_000_000


def test_graph_io() -> None:
    session = OnnxSession(ModelPackage.from_folder(PACKAGE_DIR).weight_path())
    assert session.input.shape == (1, 256, 256, 3)
    assert session.input.element_type == "tensor(float)"
    [probability] = session.run({session.input.name: np.zeros((1, 256, 256, 3), np.float32)})
    assert probability.shape == (1, 256, 256, 1)


def test_person_image_fraction(person_result: SemanticSegmentationResult) -> None:
    ids = person_result.class_ids
    assert ids.shape == (600, 512)
    assert set(np.unique(ids).tolist()) == {0, 1}
    fraction = float(np.mean(ids == 1))
    assert fraction == pytest.approx(PERSON_FRACTION, abs=0.08)


def test_person_image_location(person_result: SemanticSegmentationResult) -> None:
    ids = person_result.class_ids
    for name, (x, y) in PERSON_POINTS.items():
        assert ids[y, x] == 1, name
    for name, (x, y) in BACKGROUND_POINTS.items():
        assert ids[y, x] == 0, name
    # Head band (rows 150..300): person is a central column, the sides are background.
    band = ids[150:300]
    assert band[:, 200:330].mean() > 0.95
    assert band[:, :100].mean() < 0.05
    assert band[:, 420:].mean() < 0.05
    # Confident where it matters: the face is person with p > 0.9.
    assert person_result.confidence[250, 265] > 0.9


def test_no_person_images(model: SemanticSegmentationModel) -> None:
    [flat] = model.infer([_flat()], SemanticParams())
    assert float(np.mean(flat.class_ids == 1)) < 0.01
    samples = shapes.generate(seed=0, count=10, size_wh=(640, 480))
    fractions = [
        float(np.mean(r.class_ids == 1))
        for r in model.infer([s.image_bgr for s in samples], SemanticParams())
    ]
    assert np.mean(fractions) < 0.05, fractions
    assert np.median(fractions) < 0.01, fractions


def _png(data: str) -> np.ndarray:
    plane = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_UNCHANGED)
    assert plane is not None
    return np.asarray(plane)


def _post(client: TestClient, image_bytes: bytes) -> dict[str, Any]:
    body = {
        "model_id": "semantic/1",
        "image": {"type": "base64", "value": base64.b64encode(image_bytes).decode()},
    }
    response = client.post("/infer/semantic_segmentation", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_http_route_matches_in_process(
    services: Services, person_result: SemanticSegmentationResult
) -> None:
    services.registry.ensure_workspace("demo")  # the public demo workspace: no key needed
    services.models.add_from_path("demo", "semantic/1", PACKAGE_DIR)
    ok, flat_jpeg = cv2.imencode(".jpg", _flat())
    assert ok
    with TestClient(create_app(services)) as client:
        person = _post(client, PERSON_JPEG.read_bytes())
        flat = _post(client, flat_jpeg.tobytes())

    assert (person["image"]["width"], person["image"]["height"]) == (512, 600)
    predictions = person["predictions"]
    assert predictions["class_map"] == {"0": "background", "1": "person"}
    assert predictions["present_class_ids"] == [0, 1]
    mask = _png(predictions["segmentation_mask"])
    assert mask.shape == (600, 512)
    np.testing.assert_array_equal(mask, person_result.class_ids)
    confidence = _png(predictions["confidence_mask"]).astype(np.float32) / 255
    np.testing.assert_allclose(confidence, person_result.confidence, atol=1 / 255 + 1e-6)

    assert flat["predictions"]["present_class_ids"] == [0]
    assert not _png(flat["predictions"]["segmentation_mask"]).any()
