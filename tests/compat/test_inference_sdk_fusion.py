"""The official SDK's ``run_workflow`` on issue 15's fusion, zone and image blocks against a running
server, on the public demo shapes models: dynamic zones, a before/after difference, mask-vs-box
overlaps, a roll-up of crop results, camera calibration and a stitched panorama, four images
uploaded by the SDK in one call."""

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
from tests.support.panorama import LEFT, RIGHT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

pytestmark = pytest.mark.slow

SAMPLE = shapes.generate(seed=9715, count=1, size_wh=(640, 480))[0]
IMAGES = ("image", "after", "left", "right")


def _step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    kind = f"roboflow_core/{block}" if "@" in block else block  # an alias as it is
    return {"type": kind, "name": name, **fields}


SPECIFICATION = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": name} for name in IMAGES],
    "steps": [
        _step(
            "roboflow_instance_segmentation_model@v2",
            "seg",
            images="$inputs.image",
            model_id="shapes-seg/1",
        ),
        _step(
            "roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="shapes/1"
        ),
        _step(
            "roboflow_object_detection_model@v2",
            "det_after",
            images="$inputs.after",
            model_id="shapes/1",
        ),
        _step(
            "dynamic_zone@v1",
            "zone",
            predictions="$steps.seg.predictions",
            required_number_of_vertices=4,
        ),
        _step(
            "DetectionsDifference",  # by its alias
            "diff",
            reference_predictions="$steps.det.predictions",
            candidate_predictions="$steps.det_after.predictions",
        ),
        _step(
            "overlap_analysis@v1",
            "overlap",
            reference_predictions="$steps.seg.predictions",
            candidate_predictions="$steps.det.predictions",
            min_overlap=0.5,
        ),
        _step(
            "dynamic_crop@v1", "crop", images="$inputs.image", predictions="$steps.det.predictions"
        ),
        _step(
            "roboflow_object_detection_model@v2",
            "det_crop",
            images="$steps.crop.crops",
            model_id="shapes/1",
        ),
        _step("dimension_collapse@v1", "collapse", data="$steps.det_crop.predictions"),
        _step(
            "detections_list_rollup@v1",
            "rollup",
            parent_detection="$steps.det.predictions",
            child_detections="$steps.collapse.output",
        ),
        _step("stitch_images@v1", "stitch", image1="$inputs.left", image2="$inputs.right"),
        _step(
            "camera-calibration@v1",
            "calib",
            image="$inputs.left",
            fx=300.0,
            fy=300.0,
            cx=120.0,
            cy=100.0,
            k1=-0.2,
            k2=0.0,
            k3=0.0,
            p1=0.0,
            p2=0.0,
        ),
    ],
    "outputs": [
        {"type": "JsonField", "name": name, "selector": selector}
        for name, selector in {
            "seg": "$steps.seg.predictions",
            "det": "$steps.det.predictions",
            "zones": "$steps.zone.zones",
            "removed": "$steps.diff.removed_count",
            "verified": "$steps.diff.verified",
            "overlaps": "$steps.overlap.overlaps",
            "rolled": "$steps.rollup.rolled_up_detections",
            "panorama": "$steps.stitch.stitched_image",
            "calibrated": "$steps.calib.calibrated_image",
        }.items()
    ],
}

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, spec_path, *paths = sys.argv[1:]
with open(spec_path) as spec_file:
    specification = json.load(spec_file)
client = InferenceHTTPClient(api_url=url, api_key=key)
names = ("image", "after", "left", "right")
[out] = client.run_workflow(specification=specification, images=dict(zip(names, paths)))
for name in ("panorama", "calibrated"):
    out[name] = out[name]["value"] if isinstance(out[name], dict) else out[name]
print(json.dumps(out))
"""


def _decode(value: str) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(value), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels)


@pytest.fixture(scope="module")
def outputs(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sdk-fusion")
    pictures = {
        "image": SAMPLE.image_bgr,
        "after": np.full((480, 640, 3), 127, dtype=np.uint8),
        "left": LEFT,
        "right": RIGHT,
    }
    paths = []
    for name in IMAGES:
        path = folder / f"{name}.png"
        assert cv2.imwrite(str(path), pictures[name])
        paths.append(str(path))
    spec = folder / "spec.json"
    spec.write_text(json.dumps(SPECIFICATION))
    result = subprocess.run(
        [str(sdk_python), "-c", DRIVER, server.url, server.demo_key, str(spec), *paths],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_zones_difference_and_overlaps(outputs: dict[str, Any]) -> None:
    found = outputs["seg"]["predictions"]
    assert len(outputs["zones"]) == len(found) > 0
    assert all(len(zone) == 4 for zone in outputs["zones"])
    count = len(outputs["det"]["predictions"])
    assert (outputs["removed"], outputs["verified"]) == (count, True)  # the "after" is blank
    assert len(outputs["overlaps"]) >= 1
    assert all(o["overlap_ratio"] >= 0.5 for o in outputs["overlaps"])


def test_rolled_up_crop_results_are_in_the_image(outputs: dict[str, Any]) -> None:
    rolled = outputs["rolled"]
    assert rolled["image"] == {"width": 640, "height": 480}
    for prediction in rolled["predictions"]:
        assert 0 <= prediction["x"] <= 640
        assert 0 <= prediction["y"] <= 480


def test_panorama_and_calibrated_image(outputs: dict[str, Any]) -> None:
    assert _decode(outputs["panorama"]).shape == (200, 400, 3)
    assert _decode(outputs["calibrated"]).shape == LEFT.shape
