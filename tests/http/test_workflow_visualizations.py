"""The visualizations of issue 15 end to end through ``POST /workflows/run`` on the shipped demo
shapes detector: heatmap heat kept across requests of one video (and not of another) and over a
video file run by the stream API (``/inference_pipelines``), and a chain of icon, reference path,
model comparison, rich label, text display and grid, each checked where it draws on the rendered
image's known shapes."""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.videos import moving_square_frames, write_video
from visionflow.config import Settings
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

# Four shapes on a 640 x 480 image; the lower right (y > 400, x > 300) holds none.
SAMPLE = shapes.generate(seed=4203, count=1, size_wh=(640, 480))[0]
BOXES = [box.astype(int) for box in SAMPLE.xyxy]


def _encode(image_bgr: np.ndarray) -> dict[str, str]:
    ok, png = cv2.imencode(".png", image_bgr)
    assert ok
    return {"type": "base64", "value": base64.b64encode(png.tobytes()).decode()}


def _decode(body: dict[str, Any]) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(body["value"]), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.int16)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "videos"
    folder.mkdir()
    # A 70 px blue square moving right 4 px a frame from x = 20 (its bottom edge at y = 150).
    write_video(folder / "square.mp4", moving_square_frames(30))
    return settings.with_overrides(video_folder=folder)


@pytest.fixture
def demo(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, "shapes/1", demo_model_path("shapes-det.onnx"))
    return tenant


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


DETECTOR = step(
    "roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="shapes/1"
)


def _workflow(steps: list[dict[str, Any]], outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowImage", "name": "icon"},
        ],
        "steps": [DETECTOR, *steps],
        "outputs": [{"type": "JsonField", "name": n, "selector": s} for n, s in outputs.items()],
    }


def _run(client: TestClient, key: str, workflow: dict[str, Any], **inputs: Any) -> Any:
    response = client.post(
        "/workflows/run", json={"api_key": key, "specification": workflow, "inputs": inputs}
    )
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    return output


HEATMAP = _workflow(
    [
        step(
            "heatmap_visualization@v1",
            "heat",
            image="$inputs.image",
            predictions="$steps.det.predictions",
            radius=10,
            kernel_size=1,
            opacity=1.0,
        )
    ],
    {"image": "$steps.heat.image", "predictions": "$steps.det.predictions"},
)
BLANK = np.full((480, 640, 3), 128, dtype=np.uint8)


def test_heatmap_keeps_heat_across_requests_of_a_video(client: TestClient, demo: Tenant) -> None:
    def frame(pixels: np.ndarray, video: str, number: int) -> Any:
        image = {
            **_encode(pixels),
            "video_metadata": {
                "video_identifier": video,
                "frame_number": number,
                "frame_timestamp": f"2024-05-01T10:00:0{number}+00:00",
            },
        }
        return _run(client, demo.key, HEATMAP, image=image, icon=image)

    first = frame(SAMPLE.image_bgr, "cam", 0)
    assert len(first["predictions"]["predictions"]) == len(BOXES)
    # The next frame of the same video has no shapes, yet shows their heat at each box's bottom
    # centre; the first frame of another video shows none.
    later = _decode(frame(BLANK, "cam", 1)["image"])
    other = _decode(frame(BLANK, "door", 0)["image"])
    for x1, _y1, x2, y2 in BOXES:
        assert np.abs(later[y2 - 3, (x1 + x2) // 2] - 128).sum() > 60
    assert np.abs(other - 128).max() <= 2


def _icon() -> dict[str, str]:
    icon = np.zeros((16, 16, 3), dtype=np.uint8)
    icon[:, :] = (255, 0, 255)
    return _encode(icon)


CHAIN = _workflow(
    [
        step(
            "model_comparison_visualization@v1",
            "compare",
            image="$inputs.image",
            predictions_a="$steps.det.predictions",
            predictions_b="$steps.det.predictions",
            opacity=1.0,
        ),
        step(
            "reference_path_visualization@v1",
            "path",
            image="$steps.compare.image",
            reference_path=[[300, 440], [630, 440]],
            color="#FFFFFF",
            thickness=3,
        ),
        step(
            "icon_visualization@v1",
            "icons",
            image="$steps.path.image",
            icon="$inputs.icon",
            predictions="$steps.det.predictions",
            icon_width=16,
            icon_height=16,
            position="CENTER",
        ),
        step(
            "rich_label_visualization@v1",
            "labels",
            image="$steps.icons.image",
            predictions="$steps.det.predictions",
            text="Class and Confidence",
        ),
        step(
            "text_display@v1",
            "caption",
            image="$steps.labels.image",
            text="{{ $parameters.count }} shapes",
            text_parameters={"count": "$steps.det.predictions"},
            text_parameters_operations={"count": [{"type": "SequenceLength"}]},
            anchor="bottom_left",
        ),
        step(
            "grid_visualization@v1",
            "grid",
            images=["$inputs.image", "$steps.caption.image"],
            width=640,
            height=240,
        ),
    ],
    {
        "compare": "$steps.compare.image",
        "caption": "$steps.caption.image",
        "grid": "$steps.grid.image",
    },
)


def test_chain_of_overlays_and_captions(client: TestClient, demo: Tenant) -> None:
    output = _run(client, demo.key, CHAIN, image=_encode(SAMPLE.image_bgr), icon=_icon())
    source = SAMPLE.image_bgr.astype(np.int16)
    compare = _decode(output["compare"])
    # Both "models" agree: the shapes are untouched, everything else is tinted black.
    for x1, y1, x2, y2 in BOXES:
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        assert np.abs(compare[cy, cx] - source[cy, cx]).sum() < 30  # JPEG output
    assert compare[450, 600].max() <= 2
    caption = _decode(output["caption"])
    for x1, y1, x2, y2 in BOXES:
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        assert np.abs(caption[cy, cx] - (255, 0, 255)).sum() < 30  # the icon
    assert caption[440, 500].min() >= 240  # the white reference path
    # "4 shapes" in white on a black box at the bottom left.
    box = caption[400:470, 10:150]
    assert (box.max(axis=2) < 20).any()
    assert (box.min(axis=2) > 230).any()
    grid = _decode(output["grid"])
    # Two images make a 2 x 2 grid of 320 x 120 cells: each image fitted to 160 x 120 in the
    # middle of its cell, the input first, then the caption; the second row empty.
    assert grid.shape == (240, 640, 3)
    small = cv2.resize(SAMPLE.image_bgr, (160, 120), interpolation=cv2.INTER_AREA)
    assert np.abs(grid[:120, 80:240] - small).mean() < 3
    assert np.abs(grid[:120, 400:560] - small).mean() > 20  # the caption's tinted copy
    assert grid[:, :70].max() <= 5  # (JPEG output: a margin off the edges)
    assert grid[130:].max() <= 5


TRACKED_HEAT = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        DETECTOR,
        step(
            "byte_tracker@v3",
            "track",
            image="$inputs.image",
            detections="$steps.det.predictions",
        ),
        step(
            "heatmap_visualization@v1",
            "heat",
            image="$inputs.image",
            predictions="$steps.track.tracked_detections",
            radius=8,
            kernel_size=1,
            opacity=1.0,
        ),
    ],
    "outputs": [
        {"type": "JsonField", "name": "image", "selector": "$steps.heat.image"},
        {"type": "JsonField", "name": "tracked", "selector": "$steps.track.tracked_detections"},
    ],
}


def _pipeline_outputs(client: TestClient, key: str) -> list[dict[str, Any]]:
    body = {
        "api_key": key,
        "video_configuration": {
            "type": "VideoConfiguration",
            "video_reference": "square.mp4",
            "source_buffer_filling_strategy": "WAIT",
            "source_buffer_consumption_strategy": "LAZY",
        },
        "processing_configuration": {
            "type": "WorkflowConfiguration",
            "workflow_specification": TRACKED_HEAT,
        },
        "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": 64},
    }
    response = client.post("/inference_pipelines/initialise", json=body)
    assert response.status_code == 200, response.text
    pipeline = response.json()["context"]["pipeline_id"]
    outputs: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(outputs) < 30 and time.monotonic() < deadline:
        answer = client.request(
            "GET", f"/inference_pipelines/{pipeline}/consume", json={"api_key": key}
        ).json()
        outputs.extend(answer["outputs"])
        time.sleep(0 if answer["outputs"] else 0.05)
    client.post(f"/inference_pipelines/{pipeline}/terminate", json={"api_key": key})
    assert len(outputs) == 30
    return outputs


def test_heatmap_over_a_video_in_the_stream_api(client: TestClient, demo: Tenant) -> None:
    outputs = _pipeline_outputs(client, demo.key)
    assert {p["tracker_id"] for o in outputs for p in o["tracked"]["predictions"]} == {1}
    first, last = _decode(outputs[0]["image"]), _decode(outputs[-1]["image"])
    bottom = [o["tracked"]["predictions"][0] for o in outputs]
    row = round(bottom[0]["y"] + bottom[0]["height"] / 2)
    # The track's first frame adds no heat; by the last frame the moving square has left heat
    # along its path, every time it had moved 25 px, but none where it started. (Rows just
    # under the square, inside the 8 px heat circles: grey 215 where there is no heat.)
    below = slice(row + 3, row + 6)
    assert np.abs(first[below] - 215).max() < 25
    heated = (np.abs(last[below] - 215).sum(axis=2) > 60).all(axis=0)
    start_x = round(bottom[0]["x"])
    assert not heated[start_x - 3 : start_x + 4].any()
    columns = np.nonzero(heated)[0]
    spots = 1 + int((np.diff(columns) > 1).sum())  # runs of heated columns
    # 116 px travelled: a spot at 25-30 px steps (about 4; detection jitter moves them a bit).
    assert 3 <= spots <= 5
    assert columns.min() >= start_x + 15
