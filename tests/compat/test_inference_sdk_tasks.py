"""The official inference-sdk drives every task of the shipped demo models."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.compat.conftest import ROOT, RunningServer

pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT / "scripts"))
import shapes  # noqa: E402


@pytest.fixture(scope="module")
def answers(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    sample = shapes.generate(seed=4242, count=1, size_wh=(640, 480))[0]
    image = tmp_path_factory.mktemp("sdk-tasks") / "shapes.jpg"
    cv2.imwrite(str(image), sample.image_bgr)
    driver = Path(__file__).with_name("sdk_tasks_driver.py")
    result = subprocess.run(
        [str(sdk_python), str(driver), server.url, server.demo_key, str(image)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_instance_segmentation_polygons(answers: dict[str, object]) -> None:
    body = answers["instance-segmentation"]
    assert isinstance(body, dict)
    assert body["predictions"]
    for prediction in body["predictions"]:
        assert prediction["class"] in shapes.CLASS_NAMES
        assert len(prediction["points"]) >= 3
        assert prediction["mask_format"] == "polygon"


def test_instance_segmentation_rle(answers: dict[str, object]) -> None:
    body = answers["instance-segmentation-rle"]
    assert isinstance(body, dict)
    assert body["predictions"]
    for prediction in body["predictions"]:
        assert prediction["rle"]["size"] == [480, 640]
        assert prediction["mask_format"] == "rle"


def test_keypoints(answers: dict[str, object]) -> None:
    body = answers["keypoint-detection"]
    assert isinstance(body, dict)
    assert body["predictions"]
    assert any(p["keypoints"] for p in body["predictions"])
    for prediction in body["predictions"]:
        for keypoint in prediction["keypoints"]:
            assert set(keypoint) == {"x", "y", "confidence", "class_id", "class"}


def test_classification(answers: dict[str, object]) -> None:
    body = answers["classification"]
    assert isinstance(body, dict)
    assert body["top"] in shapes.CLASS_NAMES
    assert body["predictions"][0]["class"] == body["top"]


def test_semantic_segmentation_through_v0(answers: dict[str, object]) -> None:
    body = answers["semantic-segmentation"]
    assert isinstance(body, dict)
    predictions = body["predictions"]
    assert predictions["class_map"] == {"0": "background", "1": "person"}
    mask = cv2.imdecode(
        np.frombuffer(base64.b64decode(predictions["segmentation_mask"]), np.uint8),
        cv2.IMREAD_UNCHANGED,
    )
    assert mask.shape == (480, 640)
    assert set(np.unique(mask).tolist()) <= {0, 1}


def test_registry_reports_each_task(answers: dict[str, object]) -> None:
    registry = dict(answers["registry"])  # type: ignore[call-overload]
    assert registry["shapes-seg/1"] == "instance-segmentation"
    assert registry["keypoints/1"] == "keypoint-detection"
    assert registry["shapes-cls/1"] == "classification"
