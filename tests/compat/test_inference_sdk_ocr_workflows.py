"""The official SDK's ``run_workflow`` on OCR workflows (``ocr_model@v1``, ``pp_ocr@v1``) against
a running server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.compat.conftest import RunningServer
from tests.support.ocr_images import cer, render

pytestmark = pytest.mark.slow

LINES = ("Workflow OCR check", "Lot 5521 passed")
SPECIFICATION = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        {"type": "roboflow_core/ocr_model@v1", "name": "words", "images": "$inputs.image"},
        {
            "type": "roboflow_core/pp_ocr@v1",
            "name": "lines",
            "images": "$inputs.image",
            "text_detection": "medium",
            "text_recognition": "small",
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "text", "selector": "$steps.words.result"},
        {"type": "JsonField", "name": "words", "selector": "$steps.words.predictions"},
        {"type": "JsonField", "name": "lines", "selector": "$steps.lines.*"},
    ],
}

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, text_path, blank_path, spec_path = sys.argv[1:6]
with open(spec_path) as spec_file:
    specification = json.load(spec_file)
client = InferenceHTTPClient(api_url=url, api_key=key)
out = {
    "one": client.run_workflow(specification=specification, images={"image": text_path}),
    "batch": client.run_workflow(
        specification=specification, images={"image": [blank_path, text_path]}
    ),
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def answers(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("sdk-ocr-workflows")
    text, blank, spec = folder / "text.png", folder / "blank.png", folder / "spec.json"
    assert cv2.imwrite(str(text), render(LINES, 30))
    assert cv2.imwrite(str(blank), np.full((120, 240, 3), 255, dtype=np.uint8))
    spec.write_text(json.dumps(SPECIFICATION))
    result = subprocess.run(
        [str(sdk_python), "-c", DRIVER, server.url, server.key, str(text), str(blank), str(spec)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return parsed


def test_run_workflow_reads_words_and_lines(answers: dict[str, list[dict[str, Any]]]) -> None:
    [outputs] = answers["one"]
    assert cer(" ".join(LINES), outputs["text"]) <= 0.02, outputs["text"]
    words = outputs["words"]["predictions"]
    assert [w["class"] for w in words] == outputs["text"].split()
    lines = outputs["lines"]
    names = [p["class"] for p in lines["predictions"]["predictions"]]
    assert len(names) == len(LINES)
    assert " ".join(names) == lines["result"]
    assert lines["prediction_type"] == "ocr"
    assert lines["parent_id"] == "image"


def test_run_workflow_on_a_batch_with_a_blank_image(
    answers: dict[str, list[dict[str, Any]]],
) -> None:
    blank, text = answers["batch"]
    assert blank["text"] == ""
    assert blank["words"]["predictions"] == []
    assert blank["lines"]["result"] == ""
    assert cer(" ".join(LINES), text["text"]) <= 0.02
    assert text["lines"]["parent_id"] == "image.[1]"
