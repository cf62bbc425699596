"""The model-execution seam: routes and workflow blocks run models through the executor the
InferenceService holds, so swapping it (local → Ray Serve) changes no route and no block."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from visionflow.models.params import TaskParams
from visionflow.service.executor import DeploymentInfo, LoadedInfo, LocalExecutor, ModelRun
from visionflow.service.services import Services
from visionflow.store import ModelVersionRecord

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}


class RecordingExecutor:
    """Runs through the local executor and records each call, as a remote one would see it."""

    def __init__(self, inner: LocalExecutor) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str, int]] = []

    @property
    def engine(self) -> str:
        return "recording"

    def prepare(self, record: ModelVersionRecord) -> ModelRun:
        self.calls.append(("prepare", record.model_id, 0))
        return self.inner.prepare(record)

    def run(
        self,
        record: ModelVersionRecord,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]:
        self.calls.append(("run", record.model_id, len(images_bgr)))
        return self.inner.run(record, images_bgr, params)

    def deployment(self) -> DeploymentInfo:
        return DeploymentInfo("recording", replicas=3, healthy_replicas=2)

    def loaded(self) -> list[LoadedInfo]:
        return self.inner.loaded()

    def unload(self, selected: Callable[[str], bool]) -> int:
        self.calls.append(("unload", "", 0))
        return self.inner.unload(selected)


def _recording(services: Services) -> RecordingExecutor:
    local = services.inference.executor
    assert isinstance(local, LocalExecutor)
    recording = RecordingExecutor(local)
    services.inference.use_executor(recording)
    return recording


def test_info_reports_the_local_engine(client: TestClient) -> None:
    deployment = client.get("/info").json()["deployment"]
    assert deployment == {"engine": "local", "replicas": 1, "healthy_replicas": 1}


def test_info_reports_the_executors_deployment(services: Services, client: TestClient) -> None:
    _recording(services)
    deployment = client.get("/info").json()["deployment"]
    assert deployment == {"engine": "recording", "replicas": 3, "healthy_replicas": 2}


def test_routes_and_workflow_blocks_run_models_through_the_executor(
    services: Services, client: TestClient, tenant: Tenant
) -> None:
    recording = _recording(services)
    infer = {"model_id": tenant.model_id, "api_key": tenant.key, "image": [IMAGE, IMAGE]}
    assert client.post("/infer/object_detection", json=infer).status_code == 200
    legacy = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}",
        content=IMAGE["value"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert legacy.status_code == 200, legacy.text
    added = client.post("/model/add", json={"model_id": tenant.model_id, "api_key": tenant.key})
    assert added.status_code == 200
    workflow = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {
                "type": "roboflow_core/roboflow_object_detection_model@v2",
                "name": "det",
                "images": "$inputs.image",
                "model_id": tenant.model_id,
            }
        ],
        "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.det.predictions"}],
    }
    ran = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "specification": workflow, "inputs": {"image": IMAGE}},
    )
    assert ran.status_code == 200, ran.text
    assert recording.calls == [
        ("run", "known/1", 2),
        ("run", "known/1", 1),
        ("prepare", "known/1", 0),
        ("run", "known/1", 1),
    ]


def test_the_local_executor_loads_once_and_reports_the_cold_start(
    services: Services, client: TestClient, tenant: Tenant
) -> None:
    infer = {"model_id": tenant.model_id, "api_key": tenant.key, "image": IMAGE}
    first = client.post("/infer/object_detection", json=infer)
    second = client.post("/infer/object_detection", json=infer)
    assert first.headers["X-Model-Cold-Start"] == "true"
    assert second.headers["X-Model-Cold-Start"] == "false"
    assert [entry.key for entry in services.manager.loaded()] == ["acme/known/1"]


def test_model_registry_and_remove_go_through_the_executor(
    services: Services, client: TestClient, tenant: Tenant
) -> None:
    recording = _recording(services)
    body = {"model_id": tenant.model_id, "api_key": tenant.key}
    listed = client.post("/model/add", json=body).json()["models"]
    assert [m["model_id"] for m in listed] == ["known/1"]
    assert client.post("/model/remove", json=body).json()["models"] == []
    assert recording.calls == [("prepare", "known/1", 0), ("unload", "", 0)]
