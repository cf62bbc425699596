"""``YoloWorldService``: version ids → model ids (settings, environment), and the checks it makes
before any image is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.yolo_world import reference, write_yolo_world_package
from visionflow.config import Settings
from visionflow.errors import InvalidInputError, ModelNotFoundError
from visionflow.models.yolo_world import OpenVocabularyParams
from visionflow.service.auth import Principal
from visionflow.service.images import ImageRef
from visionflow.service.services import Services
from visionflow.service.yolo_world import YoloWorldService

REFERENCE_IDS = ("s", "m", "l", "x", "v2-s", "v2-m", "v2-l", "v2-x")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, dict.fromkeys(REFERENCE_IDS, "yolo-world/1"), id="defaults"),
        pytest.param(
            {"VISIONFLOW_YOLO_WORLD_MODELS": "v2-s=small/2, custom=mine/1"},
            {**dict.fromkeys(REFERENCE_IDS, "yolo-world/1"), "v2-s": "small/2", "custom": "mine/1"},
            id="entries-override-one-by-one",
        ),
    ],
)
def test_version_map_from_env(environ: dict[str, str], expected: dict[str, str]) -> None:
    assert dict(Settings.from_env(environ).yolo_world_models) == expected


def test_a_bad_env_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_YOLO_WORLD_MODELS"):
        Settings.from_env({"VISIONFLOW_YOLO_WORLD_MODELS": "v2-s"})


@pytest.fixture
def world(services: Services, tmp_path: Path) -> YoloWorldService:
    services.registry.create_workspace("acme")
    services.models.add_from_path("acme", "yolo-world/1", write_yolo_world_package(tmp_path / "p"))
    return YoloWorldService(services.inference, services.images)


ACME = Principal("acme", ("acme",))


@pytest.mark.parametrize(
    ("version", "model_id"),
    [
        pytest.param(None, "yolo-world/1", id="default-is-l"),
        pytest.param("", "yolo-world/1", id="blank-is-default"),
        pytest.param("v2-x", "yolo-world/1", id="reference-id"),
        pytest.param("other/4", "other/4", id="model-id"),
    ],
)
def test_model_ids(world: YoloWorldService, version: str | None, model_id: str) -> None:
    assert world.model_id(version) == model_id


def test_unmapped_version_says_how_to_map_it(world: YoloWorldService) -> None:
    with pytest.raises(ModelNotFoundError, match="VISIONFLOW_YOLO_WORLD_MODELS='q=") as caught:
        world.model_id("q")
    assert caught.value.details["yolo_world_version_id"] == "q"


def test_detect_names_detections_by_the_classes(world: YoloWorldService) -> None:
    image = reference()["image_bgr"]
    params = OpenVocabularyParams(confidence=0.1, class_names=("ignored",))
    view, [found] = world.detect(ACME, "l", [image], ["car", "tree"], params)
    assert view.record.model_id == "yolo-world/1"
    assert len(found) > 0
    assert set(found.data["class_name"]) <= {"car", "tree"}


def test_class_list_is_checked_before_images_load(world: YoloWorldService) -> None:
    # The image reference is garbage: the class list error must come first.
    refs = [ImageRef(type="base64", value="not an image")]
    with pytest.raises(InvalidInputError, match="at most 8 class names"):
        world.predict(ACME, None, refs, [str(i) for i in range(9)])
    with pytest.raises(InvalidInputError, match="no image given"):
        world.predict(ACME, None, [], ["cat"])
