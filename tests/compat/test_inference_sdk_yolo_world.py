"""The official SDK's ``infer_from_yolo_world`` (sync and async) against a running server, with
the tiny YOLO-World package registered as ``yolo-world/1`` (what every reference
``yolo_world_version_id`` maps to by default). Answers must equal the model run in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import pytest

from tests.compat.conftest import RunningServer
from tests.fixtures.yolo_world import reference
from tests.support.sdk import register_model, run_sdk
from visionflow.models.package import ModelPackage
from visionflow.models.yolo_world import OpenVocabularyParams, YoloWorldModel
from visionflow.runtime import OnnxSession

pytestmark = pytest.mark.slow

SCENE = reference()["image_bgr"]
THINGS = ["car", "person", "tree"]
ANIMALS = ["cat", "dog"]

DRIVER = """
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, scene, small = sys.argv[1:5]
client = InferenceHTTPClient(api_url=url, api_key=key)
out = {
    "things": client.infer_from_yolo_world(scene, ["car", "person", "tree"], confidence=0.1),
    "animals": client.infer_from_yolo_world(
        [scene, small], class_names=["cat", "dog"], model_version="v2-s", confidence=0.1
    ),
    "default": client.infer_from_yolo_world(scene, ["tree"]),
    "async": asyncio.run(
        client.infer_from_yolo_world_async(scene, ["car", "person", "tree"], "l", 0.1)
    ),
}
errors = {
    "too_many": lambda: client.infer_from_yolo_world(scene, [f"c{i}" for i in range(9)]),
    "missing": lambda: client.infer_from_yolo_world(scene, ["cat"], model_version="q"),
}
for name, call in errors.items():
    try:
        call()
    except Exception as error:
        out[name] = {"status": getattr(error, "status_code", None), "text": str(error)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def answers(
    server: RunningServer,
    sdk_python: Path,
    yolo_world_package: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    register_model(server.home, "yolo-world/1", yolo_world_package)
    folder = tmp_path_factory.mktemp("sdk-yolo-world")
    scene, small = folder / "scene.png", folder / "small.png"
    assert cv2.imwrite(str(scene), SCENE)
    assert cv2.imwrite(str(small), cv2.resize(SCENE, (320, 240)))
    answers: dict[str, Any] = run_sdk(sdk_python, DRIVER, server.url, server.key, scene, small)
    return answers


@pytest.fixture(scope="module")
def model(yolo_world_package: Path) -> YoloWorldModel:
    return YoloWorldModel.load(ModelPackage.from_folder(yolo_world_package), OnnxSession)


def _boxes(answer: dict[str, Any]) -> list[tuple[str, int, float, float, float, float]]:
    return [
        (p["class"], p["class_id"], p["x"], p["y"], p["width"], p["height"])
        for p in answer["predictions"]
    ]


def _expected(
    model: YoloWorldModel, names: list[str], confidence: float
) -> list[tuple[str, int, float, float, float, float]]:
    params = OpenVocabularyParams(class_names=tuple(names), confidence=confidence)
    found = model.infer([SCENE], params)[0]
    return [
        (
            str(name),
            int(class_id),
            float(x1 + x2) / 2,
            float(y1 + y2) / 2,
            float(x2 - x1),
            float(y2 - y1),
        )
        for (x1, y1, x2, y2), class_id, name in zip(
            found.xyxy, found.class_id, found.data["class_name"], strict=True
        )
    ]


def test_answers_equal_the_model(answers: dict[str, Any], model: YoloWorldModel) -> None:
    [things] = answers["things"]
    assert things["image"] == {"width": 640, "height": 480}
    assert _boxes(things) == _expected(model, THINGS, 0.1)
    assert len(things["predictions"]) > 0
    # The async twin, on another version id mapping to the same package.
    [again] = answers["async"]
    assert _boxes(again) == _boxes(things)


def test_lists_and_other_classes(answers: dict[str, Any], model: YoloWorldModel) -> None:
    scene, small = answers["animals"]
    assert scene["image"] == {"width": 640, "height": 480}
    assert small["image"] == {"width": 320, "height": 240}
    assert _boxes(scene) == _expected(model, ANIMALS, 0.1)
    assert {p["class"] for p in scene["predictions"]} <= set(ANIMALS)
    assert _boxes(scene) != _boxes(answers["things"][0])


def test_default_confidence_is_04(answers: dict[str, Any], model: YoloWorldModel) -> None:
    [default] = answers["default"]
    assert _boxes(default) == _expected(model, ["tree"], 0.4)
    assert all(p["confidence"] > 0.4 for p in default["predictions"])


def test_errors(answers: dict[str, Any]) -> None:
    assert answers["too_many"]["status"] == 400
    assert "at most 8 class names" in answers["too_many"]["text"]
    assert answers["missing"]["status"] == 404
    assert "VISIONFLOW_YOLO_WORLD_MODELS" in answers["missing"]["text"]
