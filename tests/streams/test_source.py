"""A video source over a live stream — HTTP MJPEG, and RTSP (H.264) from the ``rtsp-rs`` server —
served by the test on 127.0.0.1: the camera goes away and comes back on the same port; the
pipeline notices (a closed connection, or no data for ``VISIONFLOW_PIPELINE_STREAM_TIMEOUT_S``),
reopens it after a pause that doubles up to ``VISIONFLOW_PIPELINE_RECONNECT_MAX_S``, says so in
``status``, and frames go on with increasing ids."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.mjpeg import MjpegCamera
from tests.support.pipelines import pipeline_status, start_pipeline
from tests.support.rtsp import RtspCamera
from tests.support.videos import moving_square_frames
from visionflow.config import Settings
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

RECONNECT_MAX_S = 2.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        register_demo_models=False,
        allow_private_urls=True,  # the camera is on loopback
        pipeline_reconnect_max_s=RECONNECT_MAX_S,
        pipeline_stream_timeout_s=1.0,
    )


@pytest.fixture
def shapes(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, "shapes/1", demo_model_path("shapes-det.onnx"))
    return tenant


@pytest.fixture(params=[MjpegCamera, RtspCamera], ids=["mjpeg", "rtsp"])
def camera(request: pytest.FixtureRequest) -> Iterator[MjpegCamera | RtspCamera]:
    started: MjpegCamera | RtspCamera = request.param(list(moving_square_frames(50)), fps=25)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _events(report: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    return [e for e in report["video_source_status_updates"] if e["event_type"] == event_type]


def _consume_all(client: TestClient, key: str, pipeline_id: str) -> list[int]:
    frame_ids: list[int] = []
    while True:
        answer = client.request(
            "GET", f"/inference_pipelines/{pipeline_id}/consume", json={"api_key": key}
        ).json()
        if not answer["outputs"]:
            return frame_ids
        frame_ids.extend(f["frame_id"] for f in answer["frames_metadata"])


def test_a_lost_stream_is_reopened_with_backoff(
    client: TestClient, shapes: Tenant, camera: MjpegCamera | RtspCamera
) -> None:
    pipeline_id = start_pipeline(client, shapes.key, camera.url)

    def status() -> dict[str, Any]:
        return pipeline_status(client, shapes.key, pipeline_id)

    def processed() -> int:
        return int(status()["frames_processed"])

    assert status()["sources_metadata"][0]["source_reference"] == camera.url
    _until(lambda: processed() >= 10, "10 frames from the camera")
    running = status()
    assert running["sources_metadata"][0]["state"] == "RUNNING"
    assert running["sources_metadata"][0]["source_properties"]["is_reconnectable"] is True
    before = _consume_all(client, shapes.key, pipeline_id)

    camera.stop()
    _until(
        lambda: len(_events(status(), "SOURCE_CONNECTION_ATTEMPT_FAILED")) >= 2,
        "two failed reconnection attempts",
        timeout_s=30,
    )
    down = status()
    assert down["pipeline_state"] == "RUNNING"  # a lost stream does not end the pipeline
    assert down["sources_metadata"][0]["state"] == "RESTARTING"
    [lost] = _events(down, "SOURCE_CONNECTION_LOST")
    assert lost["severity"] == 30
    assert lost["payload"]["retry_in_s"] == 0.5
    retries = [
        e["payload"]["retry_in_s"] for e in _events(down, "SOURCE_CONNECTION_ATTEMPT_FAILED")
    ]
    assert retries[:2] == [1.0, RECONNECT_MAX_S]  # 0.5 s doubled, then capped
    assert max(retries) == RECONNECT_MAX_S
    stalled = processed()

    camera.start()
    _until(lambda: processed() >= stalled + 10, "10 frames after the camera came back")
    back = status()
    assert back["sources_metadata"][0]["state"] == "RUNNING"
    assert len(_events(back, "VIDEO_CONSUMPTION_STARTED")) == 2
    after = _consume_all(client, shapes.key, pipeline_id)
    # Frame ids go on counting across the reconnection, strictly increasing.
    frame_ids = before + after
    assert frame_ids == sorted(set(frame_ids))
    assert after
    assert after[0] > before[-1]
    assert client.post(
        f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key}
    ).is_success
