"""The playground's stream page in headless Chromium against a real server whose
``VISIONFLOW_VIDEO_FOLDER`` holds a generated video (a square moving on grey, as
``tests/http/test_pipelines.py`` uses): start a pipeline from pasted JSON or a stored workflow,
see its results arrive and its status, pause, resume and terminate it; a refused start shows the
server's message."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium, open_playground, opened_page, screenshot
from tests.support.server import RunningProcess, serve
from tests.support.videos import moving_square_frames, write_video

# Long enough that the pipeline is still running when the test pauses it.
FRAMES = 900
DETECT = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.4},
    ],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "shapes/1",
            "confidence": "$inputs.confidence",
        }
    ],
    "outputs": [{"type": "JsonField", "name": "found", "selector": "$steps.det.predictions"}],
}
ANNOTATE = {
    **DETECT,
    "steps": [
        *DETECT["steps"],
        {
            "type": "roboflow_core/bounding_box_visualization@v1",
            "name": "viz",
            "image": "$inputs.image",
            "predictions": "$steps.det.predictions",
        },
    ],
    "outputs": [
        *DETECT["outputs"],
        {"type": "JsonField", "name": "annotated", "selector": "$steps.viz.image"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "square.mp4", moving_square_frames(FRAMES))
    env = {"VISIONFLOW_REGISTER_DEMO_MODELS": "1", "VISIONFLOW_VIDEO_FOLDER": str(folder)}
    with serve(tmp_path_factory.mktemp("stream-home"), env) as running:
        yield running


@pytest.fixture(scope="module")
def key(server: RunningProcess) -> str:
    return (server.home / "demo-api-key").read_text().strip()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, server: RunningProcess) -> Iterator[Any]:
    with opened_page(browser) as opened:
        yield opened


def _call(server: RunningProcess, key: str, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kwargs)


def _running(server: RunningProcess, key: str) -> list[str]:
    answer = _call(server, key, "GET", "/inference_pipelines/list")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["pipelines"])


def _stream_page(page: Any, server: RunningProcess, key: str) -> None:
    open_playground(page, server.url, key)
    page.get_by_test_id("tab-stream").click()


def _start(page: Any) -> str:
    """Press start; the id of the pipeline the server started."""
    with page.expect_response(lambda r: r.url.endswith("/inference_pipelines/initialise")) as got:
        page.get_by_test_id("stream-start").click()
    answer = got.value
    assert answer.status == 200, answer.text()
    pipeline_id = str(answer.json()["context"]["pipeline_id"])
    page.get_by_test_id("stream-watching").filter(has_text=pipeline_id).wait_for()
    return pipeline_id


# What the live view shows, read in one go (a poll every 250 ms may change it between reads).
SNAPSHOT = """() => {
  const text = (id) => document.getElementById(id).textContent;
  return {json: text("stream-result-json"), frame: text("stream-frame-id"),
          count: text("stream-prediction-count"), classes: text("stream-classes"),
          canvas_width: document.getElementById("stream-canvas").width,
          corner_rgb: Array.from(document.getElementById("stream-canvas").getContext("2d")
            .getImageData(2, 2, 1, 1).data.slice(0, 3))};
}"""


def _wait_for_results(page: Any) -> dict[str, Any]:
    """The live view, once results with predictions have arrived; ``shown`` is its JSON."""
    page.wait_for_function(
        "Number(document.getElementById('stream-result-count').textContent) > 0"
        " && Number(document.getElementById('stream-prediction-count').textContent) > 0"
    )
    view: dict[str, Any] = page.evaluate(SNAPSHOT)
    view["shown"] = json.loads(view.pop("json"))
    return view


def _row(page: Any, pipeline_id: str) -> Any:
    row = page.locator(f'[data-testid="pipeline-row"][data-pipeline-id="{pipeline_id}"]')
    row.wait_for()
    return row


def _state_becomes(row: Any, *states: str) -> str:
    cell = row.get_by_test_id("pipeline-state")
    pattern = "|".join(states)
    cell.filter(has_text=re.compile(f"^({pattern})$")).wait_for()
    return str(cell.inner_text())


def test_pipeline_from_pasted_json_shows_results_and_obeys_its_buttons(
    page: Any, server: RunningProcess, key: str
) -> None:
    _stream_page(page, server, key)
    page.get_by_test_id("stream-video").fill("square.mp4")
    page.get_by_test_id("stream-spec").fill(json.dumps(DETECT))
    page.get_by_test_id("stream-params").fill('{"confidence": 0.5}')
    pipeline_id = _start(page)
    assert pipeline_id in _running(server, key)

    view = _wait_for_results(page)
    predictions = view["shown"]["outputs"]["found"]["predictions"]
    assert view["count"] == str(len(predictions))
    assert {p["class"] for p in predictions} == {"square"}
    assert all(p["confidence"] >= 0.5 for p in predictions)
    assert view["shown"]["frame"]["frame_id"] >= 1
    assert view["frame"] == str(view["shown"]["frame"]["frame_id"])
    assert view["classes"] == f"square × {len(predictions)}"
    assert max(view["corner_rgb"]) < 60, "no output image: boxes drawn on a dark canvas"

    row = _row(page, pipeline_id)
    assert _state_becomes(row, "RUNNING") == "RUNNING", "the video ended before the pause"
    row.get_by_test_id("pipeline-pause").click()
    _state_becomes(row, "PAUSED")
    status = _call(server, key, "GET", f"/inference_pipelines/{pipeline_id}/status").json()
    assert status["report"]["pipeline_state"] == "PAUSED"
    assert int(row.get_by_test_id("pipeline-frames").inner_text()) > 0
    screenshot(page, "playground-stream.png")

    row.get_by_test_id("pipeline-resume").click()
    _state_becomes(row, "RUNNING", "ENDED")
    row.get_by_test_id("pipeline-terminate").click()
    row.wait_for(state="detached")
    assert pipeline_id not in _running(server, key)
    assert "terminated" in page.get_by_test_id("stream-watching").inner_text()


def test_pipeline_of_a_stored_workflow_draws_its_annotated_frames(
    page: Any, server: RunningProcess, key: str
) -> None:
    pushed = _call(server, key, "POST", "/demo/workflows/stream-boxes/versions", json=ANNOTATE)
    assert pushed.status_code == 201, pushed.text
    _stream_page(page, server, key)
    select = page.get_by_test_id("stream-workflow")
    select.locator("option", has_text="demo/stream-boxes").wait_for(state="attached")
    select.select_option("demo/stream-boxes")
    assert page.get_by_test_id("stream-spec").is_hidden()
    page.get_by_test_id("stream-video").fill("square.mp4")
    page.get_by_test_id("stream-max-fps").fill("5")
    pipeline_id = _start(page)
    view = _wait_for_results(page)
    annotated = view["shown"]["outputs"]["annotated"]
    assert annotated["type"] == "base64"
    assert annotated["value"].endswith("characters>"), "base64 shortened in the JSON shown"
    assert view["canvas_width"] == 320, "the canvas has the frame's size (320 x 240)"
    assert min(view["corner_rgb"]) > 150, "the canvas shows the annotated frame (light grey)"
    _row(page, pipeline_id).get_by_test_id("pipeline-terminate").click()
    _row(page, pipeline_id).wait_for(state="detached")
    assert pipeline_id not in _running(server, key)


def test_a_pipeline_started_elsewhere_is_listed_and_watched_until_it_is_gone(
    page: Any, server: RunningProcess, key: str
) -> None:
    body = {
        "video_configuration": {
            "type": "VideoConfiguration",
            "video_reference": "square.mp4",
            "source_buffer_filling_strategy": "WAIT",
            "source_buffer_consumption_strategy": "LAZY",
        },
        "processing_configuration": {
            "type": "WorkflowConfiguration",
            "workflow_specification": DETECT,
        },
    }
    started = _call(server, key, "POST", "/inference_pipelines/initialise", json=body)
    assert started.status_code == 200, started.text
    pipeline_id = started.json()["context"]["pipeline_id"]
    _stream_page(page, server, key)
    row = _row(page, pipeline_id)
    row.get_by_test_id("pipeline-watch").click()
    page.get_by_test_id("stream-watching").filter(has_text=pipeline_id).wait_for()
    _wait_for_results(page)
    assert "watched" in (row.get_attribute("class") or "")
    assert row.get_by_test_id("pipeline-sources").inner_text().startswith("square.mp4: ")
    gone = _call(server, key, "POST", f"/inference_pipelines/{pipeline_id}/terminate")
    assert gone.status_code == 200, gone.text
    row.wait_for(state="detached")
    page.get_by_test_id("stream-watching").filter(has_text="is gone").wait_for()
    assert page.get_by_test_id("stream-error").count() == 0


@pytest.mark.parametrize(
    ("video", "spec"),
    [
        pytest.param("missing.mp4", DETECT, id="missing-video"),
        pytest.param("square.mp4", {**DETECT, "inputs": []}, id="no-image-input"),
    ],
)
def test_a_refused_start_shows_the_server_message(
    page: Any, server: RunningProcess, key: str, video: str, spec: dict[str, Any]
) -> None:
    body = {
        "video_configuration": {"type": "VideoConfiguration", "video_reference": video},
        "processing_configuration": {
            "type": "WorkflowConfiguration",
            "workflow_specification": spec,
        },
    }
    answer = _call(server, key, "POST", "/inference_pipelines/initialise", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    before = _running(server, key)
    _stream_page(page, server, key)
    page.get_by_test_id("stream-video").fill(video)
    page.get_by_test_id("stream-spec").fill(json.dumps(spec))
    page.get_by_test_id("stream-start").click()
    error = page.get_by_test_id("stream-error")
    error.wait_for()
    assert error.inner_text() == answer.json()["message"]
    assert _running(server, key) == before
