from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from visionflow.errors import InvalidModelPackageError
from visionflow.models.architectures import ENTRY_POINT_GROUP, ArchitectureRegistry
from visionflow.models.base import SessionFactory
from visionflow.models.detection import ObjectDetectionModel
from visionflow.models.manifest import InputSpec, ModelManifest, WeightFile
from visionflow.models.package import ModelPackage


def _package(architecture: str) -> ModelPackage:
    manifest = ModelManifest(
        task="classification",
        architecture=architecture,
        class_names=("cat", "dog"),
        input=InputSpec(width=32, height=32),
        weights={"model": WeightFile(file="weights.onnx", sha256="0" * 64)},
    )
    return ModelPackage(manifest=manifest, files={"model": Path("weights.onnx")})


class FakeModel:
    def __init__(self, manifest: ModelManifest) -> None:
        self.manifest = manifest

    @property
    def task(self) -> str:
        return "classification"

    def infer(self, images_bgr: Sequence[Any], params: Any) -> list[Any]:
        return ["cat" for _ in images_bgr]


def test_entry_point_group_name() -> None:
    assert ENTRY_POINT_GROUP == "visionflow.architectures"


@pytest.mark.parametrize(
    "name", [pytest.param("yolov8", id="yolov8"), pytest.param("yolov5", id="yolov5")]
)
def test_builtins_are_discovered_through_entry_points(name: str) -> None:
    registry = ArchitectureRegistry()

    assert name in registry.names()
    assert registry.loader(name) == ObjectDetectionModel.load


def test_names_are_sorted() -> None:
    names = ArchitectureRegistry().names()

    assert names == sorted(names)
    assert {"yolov5", "yolov8"} <= set(names)


@pytest.mark.parametrize(
    ("name", "suggestions"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("yolov9", ["yolov8", "yolov5"], id="near-both"),
        pytest.param("yolo8", ["yolov8"], id="missing-letter"),
        pytest.param("resnet50", [], id="unrelated"),
    ],
)
def test_unknown_architecture(name: str, suggestions: list[str]) -> None:
    registry = ArchitectureRegistry()

    with pytest.raises(InvalidModelPackageError) as caught:
        registry.loader(name)

    message = caught.value.message
    assert f"unknown model architecture {name!r}" in message
    assert f"known: {', '.join(registry.names())}." in message
    if suggestions:
        hint = message.split("Did you mean ", 1)[1]
        assert all(s in hint for s in suggestions)
    else:
        assert "Did you mean" not in message
    assert caught.value.status_code == 400


def test_register_a_fake_loader() -> None:
    registry = ArchitectureRegistry()
    seen: list[tuple[ModelPackage, SessionFactory]] = []

    def load_fake(package: ModelPackage, sessions: SessionFactory) -> FakeModel:
        seen.append((package, sessions))
        return FakeModel(package.manifest)

    def no_sessions(path: Path) -> Any:
        raise AssertionError("the fake loader opens no session")

    registry.register("fake-arch", load_fake)
    package = _package("fake-arch")

    model = registry.load(package, no_sessions)

    assert isinstance(model, FakeModel)
    assert model.infer([object(), object()], None) == ["cat", "cat"]
    assert seen == [(package, no_sessions)]
    assert "fake-arch" in registry.names()
    assert {"yolov5", "yolov8"} <= set(registry.names())  # registering keeps the built-ins


def test_register_can_override_a_builtin_on_one_registry_only() -> None:
    patched = ArchitectureRegistry()

    def load_fake(package: ModelPackage, sessions: SessionFactory) -> FakeModel:
        return FakeModel(package.manifest)

    patched.register("yolov8", load_fake)

    assert patched.loader("yolov8") is load_fake
    assert ArchitectureRegistry().loader("yolov8") == ObjectDetectionModel.load


def test_load_unknown_architecture_of_a_package() -> None:
    def no_sessions(path: Path) -> Any:
        raise AssertionError("no session is opened for an unknown architecture")

    with pytest.raises(InvalidModelPackageError, match=r"'yolov7'.*Did you mean"):
        ArchitectureRegistry().load(_package("yolov7"), no_sessions)
