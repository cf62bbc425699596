"""The official SDK's ``run_workflow`` against a running server with issue 15's text and JSON
inputs: a model's answer parsed by ``vlm_as_detector`` / ``vlm_as_classifier``, detections sent
as JSON to a ``WorkflowBatchInput`` of kind ``object_detection_prediction`` and offset by a
detections block, and a reference block visionflow does not run refused by name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.compat.conftest import RunningServer

pytestmark = pytest.mark.slow

DETECTIONS = {
    "image": {"width": 640, "height": 480},
    "predictions": [
        {
            "x": 100.0,
            "y": 80.0,
            "width": 40.0,
            "height": 20.0,
            "confidence": 0.75,
            "class": "car",
            "class_id": 0,
            "detection_id": "given-1",
        }
    ],
}
ANSWER = '```json\n[{"box_2d": [0, 0, 500, 500], "label": "dog", "confidence": 0.9}]\n```'
SPECIFICATION = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "answer"},
        {"type": "WorkflowParameter", "name": "label"},
        {"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
    ],
    "steps": [
        {
            "type": "roboflow_core/vlm_as_detector@v2",
            "name": "parse",
            "image": "$inputs.image",
            "vlm_output": "$inputs.answer",
            "classes": ["cat", "dog"],
            "model_type": "google-gemini",
            "task_type": "object-detection",
        },
        {
            "type": "roboflow_core/vlm_as_classifier@v2",
            "name": "classify",
            "image": "$inputs.image",
            "vlm_output": "$inputs.label",
            "classes": ["cat", "dog"],
        },
        {
            "type": "roboflow_core/detection_offset@v1",
            "name": "grow",
            "predictions": "$inputs.dets",
            "offset_width": 10,
            "offset_height": 10,
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "parsed", "selector": "$steps.parse.predictions"},
        {"type": "JsonField", "name": "top", "selector": "$steps.classify.predictions"},
        {"type": "JsonField", "name": "grown", "selector": "$steps.grow.predictions"},
    ],
}
UNSUPPORTED = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [{"type": "roboflow_core/sam3@v1", "name": "sam", "images": "$inputs.image"}],
    "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.sam.*"}],
}

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
from inference_sdk.http.errors import HTTPCallErrorError
url, key, image_path, spec_path, unsupported_path, dets_path, answer = sys.argv[1:8]
client = InferenceHTTPClient(api_url=url, api_key=key)
with open(dets_path) as f:
    dets = json.load(f)
[out] = client.run_workflow(
    specification=json.load(open(spec_path)),
    images={"image": image_path},
    parameters={
        "answer": answer,
        "label": '{"class_name": "cat", "confidence": 0.6}',
        "dets": dets,
    },
)
try:
    client.run_workflow(
        specification=json.load(open(unsupported_path)), images={"image": image_path}
    )
    refused = None
except HTTPCallErrorError as error:
    refused = {"status": error.status_code, "message": error.api_message}
print(json.dumps({"out": out, "refused": refused}))
"""


@pytest.fixture(scope="module")
def answers(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sdk-vlm-inputs")
    files = {
        "image": folder / "image.png",
        "spec": folder / "spec.json",
        "unsupported": folder / "unsupported.json",
        "dets": folder / "dets.json",
    }
    assert cv2.imwrite(str(files["image"]), np.full((480, 640, 3), 90, dtype=np.uint8))
    files["spec"].write_text(json.dumps(SPECIFICATION))
    files["unsupported"].write_text(json.dumps(UNSUPPORTED))
    files["dets"].write_text(json.dumps(DETECTIONS))
    result = subprocess.run(
        [str(sdk_python), "-c", DRIVER, server.url, server.key, *map(str, files.values()), ANSWER],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_model_answers_become_predictions(answers: dict[str, Any]) -> None:
    out = answers["out"]
    [dog] = out["parsed"]["predictions"]
    assert (dog["class"], dog["class_id"], dog["x"], dog["y"], dog["width"], dog["height"]) == (
        "dog",
        1,
        160.0,
        120.0,
        320.0,
        240.0,
    )
    assert out["top"]["top"] == "cat"
    assert out["top"]["confidence"] == 0.6


def test_detections_sent_as_json_run_a_detections_block(answers: dict[str, Any]) -> None:
    [grown] = answers["out"]["grown"]["predictions"]
    assert (grown["x"], grown["y"], grown["width"], grown["height"]) == (100.0, 80.0, 50.0, 30.0)
    assert grown["parent_id"] == "given-1"
    assert grown["confidence"] == 0.75


def test_unsupported_block_is_refused_by_name(answers: dict[str, Any]) -> None:
    refused = answers["refused"]
    assert refused["status"] == 400
    assert (
        "'roboflow_core/sam3@v1' (SAM 3) is a reference block visionflow does not run"
        in (refused["message"])
    )
