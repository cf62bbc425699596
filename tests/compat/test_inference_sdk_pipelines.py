"""The official ``inference-sdk`` 1.8.3, unchanged, drives the stream API of a running visionflow
server (a subprocess with ``VISIONFLOW_VIDEO_FOLDER`` set): start a pipeline with an inline
workflow on a generated video, list it, read its status, pause, resume, consume every result,
terminate it; a file outside the video folder is refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipelines import TRACKING
from tests.support.server import serve
from tests.support.videos import moving_square_frames, write_video
from visionflow.config import Settings
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

pytestmark = pytest.mark.slow

FRAMES = 120


@pytest.fixture(scope="module")
def results(sdk_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("sdk-pipelines")
    home, videos = root / "home", root / "videos"
    videos.mkdir()
    write_video(videos / "square.mp4", moving_square_frames(FRAMES))
    services = Services.build(Settings(home=home, register_demo_models=False))
    try:
        services.registry.create_workspace("acme")
        services.models.add_from_path("acme", "shapes/1", demo_model_path("shapes-det.onnx"))
        _record, key = services.registry.create_api_key("acme")
    finally:
        services.close()
    spec = root / "specification.json"
    spec.write_text(json.dumps(TRACKING))
    driver = Path(__file__).with_name("sdk_pipelines_driver.py")
    with serve(home, {"VISIONFLOW_VIDEO_FOLDER": str(videos)}) as server:
        result = subprocess.run(
            [str(sdk_python), str(driver), server.url, key, "square.mp4", str(spec)],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:] + server.log()[-4000:]
        yield json.loads(result.stdout)


def test_start_and_list(results: dict[str, Any]) -> None:
    assert results["initialise"] == {"status": "success", "has_id": True}
    assert results["listed"] is True


def test_status_while_running_reports_fps(results: dict[str, Any]) -> None:
    running = results["running"]
    assert running["pipeline_state"] == "RUNNING"
    assert running["source_state"] == "RUNNING"
    assert running["inference_throughput"] > 0


def test_pause_stops_frames_and_resume_restarts_them(results: dict[str, Any]) -> None:
    assert results["pause"] == "success"
    assert results["paused"] == {"pipeline_state": "PAUSED", "stalled": True}
    assert results["resume"] == "success"
    assert results["resumed_state"] == "RUNNING"


def test_every_frame_arrives_in_order_with_one_tracker_id(results: dict[str, Any]) -> None:
    got = results["results"]
    # WAIT + LAZY and a results buffer larger than the video: no frame lost, pause included.
    assert [r["frame_id"] for r in got] == list(range(1, FRAMES + 1))
    assert {r["source_id"] for r in got} == {0}
    assert all(r["has_timestamp"] for r in got)
    assert {tuple(r["keys"]) for r in got} == {("tracked",)}  # excluded_fields honoured
    # The square moves 4 px a frame (bouncing at the edge); the tracker keeps its id.
    assert [r["tracker_ids"] for r in got] == [[1]] * FRAMES
    xs = [r["x"][0] for r in got]
    assert max(xs) - min(xs) > 150


def test_end_of_file_ends_and_terminate_removes(results: dict[str, Any]) -> None:
    assert results["ended"] == {
        "pipeline_state": "ENDED",
        "frames_processed": FRAMES,
        "source_state": "ENDED",
    }
    assert results["terminate"] == "success"
    assert results["listed_after"] == []
    assert results["gone"] == {"status": 404}


def test_a_file_outside_the_video_folder_is_refused(results: dict[str, Any]) -> None:
    outside = results["outside"]
    assert outside["status"] == 400
    assert "VISIONFLOW_VIDEO_FOLDER" in outside["message"]
