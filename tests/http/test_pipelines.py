"""The stream API (``/inference_pipelines/*``) end to end in the app, on generated videos and the
demo shapes detector: results in order, a tracker's id kept on a moving square, pause / resume /
terminate, status, two pipelines with separate tracker state, refusals and isolation, metrics,
and every pipeline stopped with the app."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.pipelines import TRACKING
from tests.support.pipelines import drain as _drain
from tests.support.pipelines import pipeline_status as _status
from tests.support.pipelines import start_pipeline as _start
from tests.support.videos import moving_square_frames, write_video
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services
from visionflow.streams import PipelineManager, PipelineState

FRAMES = 30


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "square.mp4", moving_square_frames(FRAMES))
    write_video(folder / "long.mp4", moving_square_frames(400))
    return Settings(
        home=tmp_path / "home", register_demo_models=False, video_folder=folder, max_pipelines=3
    )


@pytest.fixture
def shapes(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, "shapes/1", demo_model_path("shapes-det.onnx"))
    return tenant


def _tracker_ids(output: dict[str, Any]) -> list[int]:
    return [p["tracker_id"] for p in output["tracked"]["predictions"]]


def test_a_file_runs_in_order_and_the_tracker_keeps_its_id(
    client: TestClient, shapes: Tenant
) -> None:
    pipeline_id = _start(client, shapes.key)
    listed = client.request("GET", "/inference_pipelines/list", json={"api_key": shapes.key})
    assert listed.json()["pipelines"] == [pipeline_id]
    results = _drain(client, shapes.key, pipeline_id)
    frame_ids = [frame["frame_id"] for _output, frame in results]
    assert frame_ids == list(range(1, FRAMES + 1))  # WAIT + LAZY: every frame, in order
    assert {frame["source_id"] for _o, frame in results} == {0}
    # The square moves 4 px a frame; the tracker follows it under one id the whole video.
    assert [_tracker_ids(output) for output, _f in results] == [[1]] * FRAMES
    xs = [output["tracked"]["predictions"][0]["x"] for output, _f in results]
    assert xs[-1] - xs[0] > 80
    metadata = results[3][0]["metadata"]
    assert (metadata["video_identifier"], metadata["frame_number"]) == ("0", 4)
    assert metadata["comes_from_video_file"] is True
    assert metadata["fps"] == 25.0
    report = _status(client, shapes.key, pipeline_id)
    assert report["pipeline_state"] == "ENDED"
    assert report["frames_processed"] == FRAMES
    assert report["sources_metadata"][0]["state"] == "ENDED"
    assert report["sources_metadata"][0]["source_properties"]["total_frames"] == FRAMES
    assert report["completion_statistics"]["sources"][0]["last_frame_id"] == FRAMES
    assert report["latency_reports"][0]["inference_latency"] > 0
    events = [e["event_type"] for e in report["video_source_status_updates"]]
    assert "VIDEO_CONSUMPTION_FINISHED" in events
    # An ended pipeline still answers pause / resume, and leaves the list once terminated.
    for action in ("pause", "resume", "terminate"):
        answer = client.post(
            f"/inference_pipelines/{pipeline_id}/{action}", json={"api_key": shapes.key}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["context"]["pipeline_id"] == pipeline_id
    listed = client.request("GET", "/inference_pipelines/list", json={"api_key": shapes.key})
    assert listed.json()["pipelines"] == []
    gone = client.request(
        "GET", f"/inference_pipelines/{pipeline_id}/consume", json={"api_key": shapes.key}
    )
    assert gone.status_code == 404


def test_pause_resume_and_terminate_a_running_pipeline(client: TestClient, shapes: Tenant) -> None:
    pipeline_id = _start(client, shapes.key, "long.mp4", max_fps=1000)
    deadline = time.monotonic() + 20
    while _status(client, shapes.key, pipeline_id)["frames_processed"] < 5:
        assert time.monotonic() < deadline, "no frames processed"
        time.sleep(0.05)
    assert client.post(f"/inference_pipelines/{pipeline_id}/pause?api_key={shapes.key}").is_success
    time.sleep(0.3)  # a batch that was running when paused finishes
    paused = _status(client, shapes.key, pipeline_id)
    assert paused["pipeline_state"] == "PAUSED"
    assert paused["sources_metadata"][0]["state"] == "MUTED"
    time.sleep(0.5)
    assert (
        _status(client, shapes.key, pipeline_id)["frames_processed"] == paused["frames_processed"]
    )
    resumed = client.post(
        f"/inference_pipelines/{pipeline_id}/resume",
        headers={"Authorization": f"Bearer {shapes.key}"},
    )
    assert resumed.status_code == 200
    deadline = time.monotonic() + 20
    while (
        _status(client, shapes.key, pipeline_id)["frames_processed"] <= paused["frames_processed"]
    ):
        assert time.monotonic() < deadline, "no frames after resume"
        time.sleep(0.05)
    report = _status(client, shapes.key, pipeline_id)
    assert report["pipeline_state"] == "RUNNING"
    assert report["inference_throughput"] > 0
    assert client.post(
        f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key}
    ).is_success
    assert client.get(f"/inference_pipelines/list?api_key={shapes.key}").json()["pipelines"] == []


def test_two_pipelines_keep_separate_tracker_state(client: TestClient, shapes: Tenant) -> None:
    first, second = _start(client, shapes.key), _start(client, shapes.key)
    one, two = _drain(client, shapes.key, first), _drain(client, shapes.key, second)
    # Shared state would give the second pipeline's square a new id (2) or mix the frames.
    assert [_tracker_ids(o) for o, _f in one] == [[1]] * FRAMES
    assert [_tracker_ids(o) for o, _f in two] == [[1]] * FRAMES
    for pipeline_id in (first, second):
        client.post(f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key})


def test_two_sources_in_one_pipeline_are_batched_and_tracked_apart(
    client: TestClient, shapes: Tenant
) -> None:
    pipeline_id = _start(client, shapes.key, ["square.mp4", "square.mp4"])
    results = [(o, f) for o, f in _drain(client, shapes.key, pipeline_id) if f is not None]
    report = _status(client, shapes.key, pipeline_id)
    errors = [e for e in report["video_source_status_updates"] if e["severity"] >= 30]
    assert errors == []
    assert len(results) == 2 * FRAMES
    for source_id in (0, 1):
        mine = [(o, f) for o, f in results if f["source_id"] == source_id]
        assert [f["frame_id"] for _o, f in mine] == list(range(1, FRAMES + 1))
        # Each source is its own video for the tracker: id 1 in both.
        assert {tuple(_tracker_ids(o)) for o, _f in mine} == {(1,)}
    client.post(f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key})


def _initialise(client: TestClient, key: str, video: Any, **processing: Any) -> Any:
    return client.post(
        "/inference_pipelines/initialise",
        json={
            "api_key": key,
            "video_configuration": {"type": "VideoConfiguration", "video_reference": video},
            "processing_configuration": {
                "type": "WorkflowConfiguration",
                "workflow_specification": TRACKING,
                **processing,
            },
        },
    )


@pytest.mark.parametrize(
    ("video", "status", "names"),
    [
        pytest.param("../outside.mp4", 400, "VISIONFLOW_VIDEO_FOLDER", id="outside-folder"),
        pytest.param("/etc/hostname", 400, "VISIONFLOW_VIDEO_FOLDER", id="absolute-outside"),
        pytest.param("missing.mp4", 400, "no such file", id="missing-file"),
        pytest.param(0, 400, "camera device", id="camera-index"),
        pytest.param(
            "rtsp://127.0.0.1:8554/live", 400, "VISIONFLOW_ALLOW_PRIVATE_URLS", id="rtsp-loopback"
        ),
        pytest.param("http://10.0.0.7/cam.mjpg", 400, "non-public", id="private-http"),
        pytest.param("file:///etc/passwd", 400, "scheme", id="file-scheme"),
        pytest.param([], 400, "names no video", id="empty-list"),
        pytest.param(
            ["square.mp4"] * 5, 400, "VISIONFLOW_MAX_PIPELINE_SOURCES", id="too-many-sources"
        ),
    ],
)
def test_video_references_refused(
    client: TestClient, shapes: Tenant, video: Any, status: int, names: str
) -> None:
    response = _initialise(client, shapes.key, video)
    assert response.status_code == status, response.text
    assert names in response.json()["message"]


def test_workflow_problems_are_400s(client: TestClient, shapes: Tenant) -> None:
    wrong_input = _initialise(client, shapes.key, "square.mp4", image_input_name="frame")
    assert wrong_input.status_code == 400
    assert "image_input_name" in wrong_input.json()["message"]
    neither = client.post(
        "/inference_pipelines/initialise",
        json={
            "api_key": shapes.key,
            "video_configuration": {"type": "VideoConfiguration", "video_reference": "x.mp4"},
            "processing_configuration": {"type": "WorkflowConfiguration"},
        },
    )
    assert neither.status_code == 400
    missing = _initialise(
        client,
        shapes.key,
        "square.mp4",
        workflow_specification=None,
        workspace_name=shapes.workspace,
        workflow_id="nope",
    )
    assert missing.status_code == 404


def test_too_many_pipelines_is_a_429_naming_the_setting(client: TestClient, shapes: Tenant) -> None:
    started = [_start(client, shapes.key, "long.mp4") for _ in range(3)]
    response = _initialise(client, shapes.key, "square.mp4")
    assert response.status_code == 429
    assert "VISIONFLOW_MAX_PIPELINES" in response.json()["message"]
    # The server stays responsive with three pipelines decoding and running.
    began = time.monotonic()
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/inference_pipelines/list?api_key={shapes.key}").status_code == 200
    assert time.monotonic() - began < 2.0
    client.post(f"/inference_pipelines/{started[0]}/terminate", json={"api_key": shapes.key})
    assert _initialise(client, shapes.key, "square.mp4").status_code == 200


def test_a_pipeline_is_invisible_to_other_workspaces(
    client: TestClient, services: Services, shapes: Tenant
) -> None:
    pipeline_id = _start(client, shapes.key)
    services.registry.create_workspace("rival")
    _record, rival = services.registry.create_api_key("rival", "tests")
    listed = client.request("GET", "/inference_pipelines/list", json={"api_key": rival})
    assert listed.json()["pipelines"] == []
    for method, action in (
        ("GET", "status"),
        ("GET", "consume"),
        ("POST", "pause"),
        ("POST", "resume"),
        ("POST", "terminate"),
    ):
        response = client.request(
            method, f"/inference_pipelines/{pipeline_id}/{action}", json={"api_key": rival}
        )
        assert response.status_code == 404, (action, response.text)
    # Untouched by the rival's attempts. Keys are optional on this loopback server: a caller
    # without one is anonymous, not of workspace acme, and sees no such pipeline either.
    assert _status(client, shapes.key, pipeline_id)["pipeline_state"] in {"RUNNING", "ENDED"}
    assert client.get(f"/inference_pipelines/{pipeline_id}/status").status_code == 404
    assert client.get("/inference_pipelines/list").json()["pipelines"] == []


def test_metrics_count_pipelines_and_frames(client: TestClient, shapes: Tenant) -> None:
    pipeline_id = _start(client, shapes.key)
    _drain(client, shapes.key, pipeline_id)
    text = client.get("/metrics", headers={"Authorization": f"Bearer {shapes.key}"}).text
    assert 'visionflow_pipelines_running{state="ENDED"} 1.0' in text
    assert f'visionflow_pipeline_frames_total{{outcome="processed"}} {float(FRAMES)}' in text
    assert f'visionflow_pipeline_fps{{pipeline_id="{pipeline_id}"}}' in text
    client.post(f"/inference_pipelines/{pipeline_id}/terminate", json={"api_key": shapes.key})
    text = client.get("/metrics", headers={"Authorization": f"Bearer {shapes.key}"}).text
    assert 'visionflow_pipelines_running{state="ENDED"} 0.0' in text
    assert f'visionflow_pipeline_frames_total{{outcome="processed"}} {float(FRAMES)}' in text


def test_file_sources_need_the_video_folder(tmp_path: Path, fixture_onnx: Path) -> None:
    services = Services.build(Settings(home=tmp_path / "bare", register_demo_models=False))
    try:
        services.registry.create_workspace("acme")
        _record, key = services.registry.create_api_key("acme", "tests")
        with TestClient(create_app(services)) as client:
            response = _initialise(client, key, "square.mp4")
        assert response.status_code == 400
        assert "set VISIONFLOW_VIDEO_FOLDER" in response.json()["message"]
    finally:
        services.close()


def test_shutdown_terminates_every_pipeline(services: Services, shapes: Tenant) -> None:
    app = create_app(services)
    with TestClient(app) as client:
        _start(client, shapes.key, "long.mp4")
        manager: PipelineManager = app.state.pipelines
        [pipeline] = manager.running()
    assert pipeline.state is PipelineState.TERMINATED
    assert not any(s._thread is not None and s._thread.is_alive() for s in pipeline.sources)
    assert manager.running() == []
