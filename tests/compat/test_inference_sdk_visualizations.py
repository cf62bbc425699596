"""The official SDK's ``run_workflow`` on the visualizations of issue 15 against a running server,
on the public demo shapes detector: heatmap heat across two calls of one video (a
``WorkflowVideoMetadata`` parameter), then text, icon, model comparison and a grid."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.compat.conftest import RunningServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

pytestmark = pytest.mark.slow

SAMPLE = shapes.generate(seed=4203, count=1, size_wh=(640, 480))[0]
SPECIFICATION = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowImage", "name": "icon"},
        {"type": "WorkflowVideoMetadata", "name": "video"},
    ],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "shapes/1",
        },
        {
            "type": "roboflow_core/heatmap_visualization@v1",
            "name": "heat",
            "image": "$inputs.image",
            "predictions": "$steps.det.predictions",
            "metadata": "$inputs.video",
            "radius": 10,
            "kernel_size": 1,
            "opacity": 1.0,
        },
        {
            "type": "roboflow_core/model_comparison_visualization@v1",
            "name": "compare",
            "image": "$inputs.image",
            "predictions_a": "$steps.det.predictions",
            "predictions_b": "$steps.det.predictions",
            "opacity": 1.0,
        },
        {
            "type": "roboflow_core/icon_visualization@v1",
            "name": "icons",
            "image": "$steps.compare.image",
            "icon": "$inputs.icon",
            "predictions": "$steps.det.predictions",
            "position": "CENTER",
            "icon_width": 16,
            "icon_height": 16,
        },
        {
            "type": "roboflow_core/text_display@v1",
            "name": "caption",
            "image": "$steps.icons.image",
            "text": "{{ $parameters.n }} shapes",
            "text_parameters": {"n": "$steps.det.predictions"},
            "text_parameters_operations": {"n": [{"type": "SequenceLength"}]},
        },
        {
            "type": "roboflow_core/grid_visualization@v1",
            "name": "grid",
            "images": ["$inputs.image", "$steps.caption.image", "$steps.heat.image"],
            "width": 400,
            "height": 300,
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "count", "selector": "$steps.det.predictions"},
        {"type": "JsonField", "name": "heat", "selector": "$steps.heat.image"},
        {"type": "JsonField", "name": "caption", "selector": "$steps.caption.image"},
        {"type": "JsonField", "name": "grid", "selector": "$steps.grid.image"},
    ],
}

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, shapes_path, blank_path, icon_path, spec_path = sys.argv[1:7]
with open(spec_path) as spec_file:
    specification = json.load(spec_file)
client = InferenceHTTPClient(api_url=url, api_key=key)

def frame(path, number):
    video = {"video_identifier": "sdk-cam", "frame_number": number, "frame_timestamp": number}
    [out] = client.run_workflow(
        specification=specification,
        images={"image": path, "icon": icon_path},
        parameters={"video": video},
    )
    images = {}
    for name in ("heat", "caption", "grid"):
        value = out[name]
        images[name] = value["value"] if isinstance(value, dict) else value
    return {"count": len(out["count"]["predictions"]), **images}

print(json.dumps([frame(shapes_path, 0), frame(blank_path, 1)]))
"""


def _decode(value: str) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(value), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.int16)


@pytest.fixture(scope="module")
def frames(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sdk-visualizations")
    paths = {name: folder / f"{name}.png" for name in ("shapes", "blank", "icon", "spec")}
    assert cv2.imwrite(str(paths["shapes"]), SAMPLE.image_bgr)
    assert cv2.imwrite(str(paths["blank"]), np.full((480, 640, 3), 128, dtype=np.uint8))
    assert cv2.imwrite(str(paths["icon"]), np.full((16, 16, 3), (255, 0, 255), dtype=np.uint8))
    paths["spec"].write_text(json.dumps(SPECIFICATION))
    result = subprocess.run(
        [
            str(sdk_python),
            "-c",
            DRIVER,
            server.url,
            server.demo_key,
            *(str(paths[name]) for name in ("shapes", "blank", "icon", "spec")),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


def test_heat_stays_across_calls_of_a_video(frames: list[dict[str, Any]]) -> None:
    first, second = frames
    assert (first["count"], second["count"]) == (len(SAMPLE.xyxy), 0)
    heat = _decode(second["heat"])
    for x1, _y1, x2, y2 in SAMPLE.xyxy.astype(int):
        assert np.abs(heat[y2 - 3, (x1 + x2) // 2] - 128).sum() > 60


def test_caption_icons_and_grid(frames: list[dict[str, Any]]) -> None:
    caption = _decode(frames[0]["caption"])
    for x1, y1, x2, y2 in SAMPLE.xyxy.astype(int):
        assert np.abs(caption[(y1 + y2) // 2, (x1 + x2) // 2] - (255, 0, 255)).sum() < 30
    assert caption[460, 600].max() <= 5  # neither model's: tinted black
    assert (caption[10:50, 10:150].min(axis=2) > 230).any()  # "4 shapes" in white
    grid = _decode(frames[0]["grid"])
    # Three images in a 2 x 2 grid of 200 x 150 cells; the fourth cell stays black.
    assert grid.shape == (300, 400, 3)
    assert grid[160:, 210:].max() <= 5
    assert grid[:150, :200].mean() > 20
