"""``VISIONFLOW_PIPELINE_ENDED_TTL_S``: an ended pipeline nobody names for that long is terminated
(its slot freed) the next time a pipeline is started or listed; a call resets its clock, a running
pipeline is never reaped, and without the setting ended pipelines stay until terminated."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.pipelines import drain, pipeline_status, start_pipeline
from tests.support.videos import moving_square_frames, write_video
from visionflow.config import Settings
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

TTL_S = 1.5


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "square.mp4", moving_square_frames(10))
    write_video(folder / "long.mp4", moving_square_frames(2000))
    ttl = getattr(request, "param", TTL_S)
    return Settings(
        home=tmp_path / "home",
        register_demo_models=False,
        video_folder=folder,
        max_pipelines=2,
        pipeline_ended_ttl_s=ttl,
    )


@pytest.fixture
def shapes(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, "shapes/1", demo_model_path("shapes-det.onnx"))
    return tenant


def _listed(client: TestClient, key: str) -> list[str]:
    response = client.request("GET", "/inference_pipelines/list", json={"api_key": key})
    return list(response.json()["pipelines"])


def test_an_unnamed_ended_pipeline_is_terminated_after_the_ttl(
    client: TestClient, shapes: Tenant
) -> None:
    ended = start_pipeline(client, shapes.key, "square.mp4")
    drain(client, shapes.key, ended)  # to the end of the file
    running = start_pipeline(client, shapes.key, "long.mp4")
    time.sleep(TTL_S / 2)
    assert pipeline_status(client, shapes.key, ended)["pipeline_state"] == "ENDED"  # a call
    time.sleep(TTL_S / 2 + 0.1)
    assert sorted(_listed(client, shapes.key)) == sorted([ended, running])  # the call counted
    time.sleep(TTL_S + 0.1)
    assert _listed(client, shapes.key) == [running]  # running pipelines are never reaped
    gone = client.request(
        "GET", f"/inference_pipelines/{ended}/status", json={"api_key": shapes.key}
    )
    assert gone.status_code == 404
    # Its slot is free again: a second pipeline starts under VISIONFLOW_MAX_PIPELINES=2.
    start_pipeline(client, shapes.key, "square.mp4")
    for pipeline_id in _listed(client, shapes.key):
        client.post(f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key})


@pytest.mark.parametrize("settings", [None], indirect=True)
def test_without_the_setting_ended_pipelines_stay(client: TestClient, shapes: Tenant) -> None:
    ended = start_pipeline(client, shapes.key, "square.mp4")
    drain(client, shapes.key, ended)
    time.sleep(TTL_S + 0.1)
    assert _listed(client, shapes.key) == [ended]
    client.post(f"/inference_pipelines/{ended}/terminate", json={"api_key": shapes.key})
