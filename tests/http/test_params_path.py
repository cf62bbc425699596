"""One params path: the same request values through ``/infer/*``, the legacy route (percent
form), a workflow model block and ``visionflow infer`` reach the model as the same params object.

The models are the real fixture models of every task, loaded through a loader registered on the
services' own architecture registry that records what each ``infer`` call is given.
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import Tenant, jpeg_bytes
from tests.fixtures.task_models import write_task_models
from tests.workflows.fakes import definition
from visionflow.models.base import Model, SessionFactory
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import (
    ClassificationParams,
    DetectionParams,
    KeypointParams,
    SegmentationParams,
    SemanticParams,
    TaskParams,
)
from visionflow.service.services import Services

JPEG = jpeg_bytes()
IMAGE = {"type": "base64", "value": base64.b64encode(JPEG).decode()}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# The CLI module (the attribute ``visionflow.cli.app`` is the Typer app it defines).
CLI = importlib.import_module("visionflow.cli.app")
# `visionflow infer` builds its services in its own module.
CLI_INFER = importlib.import_module("visionflow.cli.infer")
ARCHITECTURES = ("yolov8", "yolov8-seg", "yolov8-pose", "classifier", "semantic")


class _Recording:
    """A loaded model that records the params of each call, then runs the real model (which
    checks their type)."""

    def __init__(self, model: Model, seen: list[object]) -> None:
        self._model = model
        self._seen = seen
        self.manifest: ModelManifest = model.manifest

    @property
    def task(self) -> str:
        return self._model.task

    def infer(self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: Any) -> list[Any]:
        self._seen.append(params)
        return self._model.infer(images_bgr, params)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_task_models(tmp_path_factory.mktemp("params-path-models"))


@pytest.fixture
def seen(services: Services) -> list[object]:
    calls: list[object] = []
    for name in ARCHITECTURES:
        real = services.architectures.loader(name)

        def load(package: ModelPackage, sessions: SessionFactory, real: Any = real) -> _Recording:
            return _Recording(real(package, sessions), calls)

        services.architectures.register(name, load)
    return calls


@pytest.fixture
def models(
    services: Services, tenant: Tenant, model_files: dict[str, Path], seen: list[object]
) -> Tenant:
    for model_id, path in model_files.items():
        services.models.add_from_path(tenant.workspace, model_id, path)
    return tenant


NMS_BODY = {"confidence": 0.55, "iou_threshold": 0.45}
NMS_BLOCK = {"confidence": 0.55, "iou_threshold": 0.45}
CASES = [
    pytest.param(
        "known/1",
        "/infer/object_detection",
        NMS_BODY,
        ("roboflow_object_detection_model@v2", NMS_BLOCK),
        DetectionParams(confidence=0.55, iou_threshold=0.45),
        id="object-detection",
    ),
    pytest.param(
        "seg/1",
        "/infer/instance_segmentation",
        NMS_BODY,
        ("roboflow_instance_segmentation_model@v2", NMS_BLOCK),
        SegmentationParams(confidence=0.55, iou_threshold=0.45),
        id="instance-segmentation",
    ),
    pytest.param(
        "pose/1",
        "/infer/keypoints_detection",
        NMS_BODY,
        ("roboflow_keypoint_detection_model@v2", NMS_BLOCK),
        KeypointParams(confidence=0.55, iou_threshold=0.45),
        id="keypoint-detection",
    ),
    pytest.param(
        "cls/1",
        "/infer/classification",
        {"confidence": 0.55},
        ("roboflow_classification_model@v2", {"confidence": 0.55}),
        ClassificationParams(confidence=0.55),
        id="classification",
    ),
    pytest.param(
        "sem/1",
        "/infer/semantic_segmentation",
        {"confidence": 0.55},
        (
            "roboflow_semantic_segmentation_model@v2",
            {"confidence_mode": "custom", "custom_confidence": 0.55},
        ),
        SemanticParams(confidence=0.55),
        id="semantic-segmentation",
    ),
]


def _by_infer(client: TestClient, tenant: Tenant, model_id: str, route: str, **fields: Any) -> None:
    body = {"api_key": tenant.key, "model_id": model_id, "image": IMAGE, **fields}
    response = client.post(route, json=body)
    assert response.status_code == 200, response.text


def _by_legacy(client: TestClient, tenant: Tenant, model_id: str, query: str) -> None:
    url = f"/{model_id}?api_key={tenant.key}{query}"
    response = client.post(url, content=IMAGE["value"], headers=FORM)
    assert response.status_code == 200, response.text


def _by_workflow(
    client: TestClient, tenant: Tenant, model_id: str, block: str, fields: dict[str, Any]
) -> None:
    step = {
        "type": f"roboflow_core/{block}",
        "name": "m",
        "images": "$inputs.image",
        "model_id": model_id,
        **fields,
    }
    payload = {
        "api_key": tenant.key,
        "inputs": {"image": IMAGE},
        "specification": definition([step], {"p": "$steps.m.predictions"}),
    }
    response = client.post("/workflows/run", json=payload)
    assert response.status_code == 200, response.text


def _by_cli(
    services: Services,
    tenant: Tenant,
    model_id: str,
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command builds its services from the data directory; here it gets these ones.
    monkeypatch.setattr(CLI_INFER, "services", lambda settings: services)
    image = tmp_path / "in.jpg"
    image.write_bytes(JPEG)
    result = CliRunner().invoke(
        CLI.app,
        ["infer", str(image), "--model", model_id, "--workspace", tenant.workspace, *args],
        env={"COLUMNS": "200", "VISIONFLOW_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("model_id", "route", "body", "block", "expected"), CASES)
def test_the_same_values_reach_the_model_as_the_same_params(
    client: TestClient,
    services: Services,
    models: Tenant,
    seen: list[object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_id: str,
    route: str,
    body: dict[str, Any],
    block: tuple[str, dict[str, Any]],
    expected: TaskParams,
) -> None:
    _by_infer(client, models, model_id, route, **body)
    # Percent form: 55 is 0.55, 45 is 0.45.
    _by_legacy(client, models, model_id, "&confidence=55&overlap=45")
    _by_workflow(client, models, model_id, *block)
    _by_cli(
        services,
        models,
        model_id,
        ["--confidence", "0.55", "--iou-threshold", "0.45"],
        tmp_path,
        monkeypatch,
    )

    assert seen == [expected] * 4
    assert all(type(params) is type(expected) for params in seen)


@pytest.mark.parametrize(("model_id", "route", "body", "block", "expected"), CASES)
def test_nothing_given_reaches_the_model_as_the_defaults(
    client: TestClient,
    services: Services,
    models: Tenant,
    seen: list[object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_id: str,
    route: str,
    body: dict[str, Any],
    block: tuple[str, dict[str, Any]],
    expected: TaskParams,
) -> None:
    block_type, _fields = block
    _by_infer(client, models, model_id, route)
    _by_legacy(client, models, model_id, "")
    _by_workflow(client, models, model_id, block_type, {})
    _by_cli(services, models, model_id, [], tmp_path, monkeypatch)

    assert seen == [type(expected)()] * 4
