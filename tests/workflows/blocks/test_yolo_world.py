"""``yolo_world_model@v1`` on the real tiny YOLO-World model (ORT): class names from the step or
from inputs, confidence, versions, grouping of a batch into calls, lineage, bad fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.fixtures.yolo_world import reference, write_yolo_world_package
from tests.workflows.blocks.helpers import Pixels, ScriptedModels, run, step
from visionflow.core.detections import CLASS_NAME, PARENT_ID
from visionflow.errors import InvalidInputError
from visionflow.models.package import ModelPackage
from visionflow.models.yolo_world import OpenVocabularyParams, YoloWorldModel
from visionflow.runtime import OnnxSession
from visionflow.workflows import RunContext
from visionflow.workflows.errors import (
    ClientCausedStepExecutionError,
    InvalidInputTypeError,
    WorkflowDefinitionError,
)

SCENE = reference()["image_bgr"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> YoloWorldModel:
    folder = write_yolo_world_package(tmp_path_factory.mktemp("yolo-world") / "package")
    return YoloWorldModel.load(ModelPackage.from_folder(folder), OnnxSession)


@dataclass
class WorldModels(ScriptedModels):
    """The real YOLO-World model behind ``ModelRunner.yolo_world``; records each call."""

    model: YoloWorldModel | None = None
    world_calls: list[tuple[str | None, int, OpenVocabularyParams]] = field(default_factory=list)

    def yolo_world(
        self, version: str | None, images_bgr: Sequence[Pixels], params: OpenVocabularyParams
    ) -> Sequence[sv.Detections]:
        assert self.model is not None
        self.world_calls.append((version, len(images_bgr), params))
        return self.model.infer(images_bgr, params)


def world_run(
    models: WorldModels,
    images: dict[str, Pixels] | None = None,
    inputs: dict[str, Any] | None = None,
    declared: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    return run(
        [step("yolo_world_model@v1", "world", images="$inputs.image", **fields)],
        {"predictions": "$steps.world.predictions"},
        images or {"scene": SCENE},
        inputs or {"image": "scene"},
        declared=declared,
        context=RunContext(models=models),
    )


def test_detects_the_step_classes(model: YoloWorldModel) -> None:
    models = WorldModels(model=model)
    [out] = world_run(models, class_names=["car", "person", "tree"], confidence=0.1)
    found = out["predictions"]
    assert isinstance(found, sv.Detections)
    direct = model.infer(
        [SCENE], OpenVocabularyParams(class_names=("car", "person", "tree"), confidence=0.1)
    )[0]
    assert len(found) == len(direct) > 0
    np.testing.assert_allclose(found.xyxy, direct.xyxy)
    np.testing.assert_allclose(found.confidence, direct.confidence)
    assert list(found.data[CLASS_NAME]) == list(direct.data[CLASS_NAME])
    assert PARENT_ID in found.data
    # The reference block's defaults: version v2-s, confidence 0.005 when not given.
    [(version, _count, _params)] = models.world_calls
    assert version == "v2-s"


def test_defaults_and_null_confidence(model: YoloWorldModel) -> None:
    models = WorldModels(model=model)
    world_run(models, class_names=["tree"])
    world_run(models, class_names=["tree"], confidence=None, version="l")
    assert [(v, p.confidence) for v, _n, p in models.world_calls] == [("v2-s", 0.005), ("l", 0.4)]


def test_class_names_from_inputs_change_the_answer(model: YoloWorldModel) -> None:
    declared = [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "classes"},
        {"type": "WorkflowParameter", "name": "threshold"},
    ]
    answers = {}
    for classes in (["cat", "dog"], ["car", "person", "tree"]):
        [out] = world_run(
            WorldModels(model=model),
            inputs={"image": "scene", "classes": classes, "threshold": 0.1},
            declared=declared,
            class_names="$inputs.classes",
            confidence="$inputs.threshold",
        )
        answers[tuple(classes)] = out["predictions"]
    animals, things = answers.values()
    assert set(animals.data[CLASS_NAME]) <= {"cat", "dog"}
    assert set(things.data[CLASS_NAME]) <= {"car", "person", "tree"}
    assert len(animals) > 0
    assert len(things) > 0


def test_a_batch_with_one_setting_is_one_call(model: YoloWorldModel) -> None:
    models = WorldModels(model=model)
    declared = [{"type": "WorkflowImage", "name": "image"}]
    flipped = np.ascontiguousarray(SCENE[:, ::-1])
    outputs = world_run(
        models,
        images={"a": SCENE, "b": flipped},
        inputs={"image": ["a", "b"]},
        declared=declared,
        class_names=["tree"],
        confidence=0.1,
    )
    assert len(outputs) == 2
    assert [(v, n) for v, n, _p in models.world_calls] == [("v2-s", 2)]


def test_more_classes_than_k_fail_with_k(model: YoloWorldModel) -> None:
    with pytest.raises(ClientCausedStepExecutionError, match="at most 8 class names") as caught:
        world_run(WorldModels(model=model), class_names=[f"c{i}" for i in range(9)])
    assert isinstance(caught.value.inner, InvalidInputError)
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"class_names": ["a"], "version": "v3-q"}, id="unknown-version"),
        pytest.param({"class_names": ["a"], "confidence": 1.5}, id="confidence-above-1"),
        pytest.param({}, id="no-class-names"),
    ],
)
def test_bad_fields_fail_at_compile_time(model: YoloWorldModel, fields: dict[str, Any]) -> None:
    with pytest.raises(WorkflowDefinitionError):
        world_run(WorldModels(model=model), **fields)


def test_empty_class_list_is_a_step_error(model: YoloWorldModel) -> None:
    with pytest.raises(InvalidInputTypeError, match="'class_names': expected a non-empty list"):
        world_run(WorldModels(model=model), class_names=[])
