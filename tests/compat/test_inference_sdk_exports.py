"""The official SDK's ``infer`` on every modern export layout (YOLO26/YOLOv10 end-to-end,
embedded NMS, RT-DETR, RF-DETR, their segmentation and keypoint variants) registered in a
running server: the same answers as ``/infer/*`` gives in-process (tests/http/test_infer_exports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import RunningServer
from tests.conftest import jpeg_bytes
from tests.fixtures.export_graphs import write_export_models
from tests.support.sdk import register_model, run_sdk

pytestmark = pytest.mark.slow

YOLO_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0}
DETR_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 96.0}
EXPECTED = {
    "yolo26-e2e/1": ("square", YOLO_BOX),
    "yolov10-e2e/1": ("square", YOLO_BOX),
    "yolov8-nms/1": ("square", YOLO_BOX),
    "yolo26-o2m/1": ("square", YOLO_BOX),
    "rtdetr/1": ("square", DETR_BOX),
    "rfdetr/1": ("square", DETR_BOX),
    "rfdetr-seg/1": ("square", DETR_BOX),
    "yolo26-seg-e2e/1": ("square", YOLO_BOX),
    "yolo26-pose-e2e/1": ("person", YOLO_BOX),
}

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, image, *model_ids = sys.argv[1:]
client = InferenceHTTPClient(api_url=url, api_key=key)
print(json.dumps({model_id: client.infer(image, model_id=model_id) for model_id in model_ids}))
"""


@pytest.fixture(scope="module")
def answers(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sdk-exports")
    models = write_export_models(folder / "models")
    for model_id, (_task, path) in models.items():
        register_model(server.home, model_id, path)
    image = folder / "image.jpg"
    image.write_bytes(jpeg_bytes())
    answers: dict[str, Any] = run_sdk(sdk_python, DRIVER, server.url, server.key, image, *models)
    return answers


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_sdk_infer(answers: dict[str, Any], model_id: str) -> None:
    body = answers[model_id]
    name, box = EXPECTED[model_id]

    assert body["image"] == {"width": 640, "height": 480}
    [prediction] = body["predictions"]
    assert prediction["class"] == name
    assert {k: prediction[k] for k in box} == box
    assert prediction["confidence"] == pytest.approx(0.9, abs=1e-6)
    if "seg" in model_id:
        assert len(prediction["points"]) >= 4
    if "pose" in model_id:
        assert [k["class_id"] for k in prediction["keypoints"]] == [0, 2]
