"""More reference blocks over ``POST /workflows/run``, end to end on the shipped demo segmentation
model (``shapes-seg``) and freshly drawn shapes images: instance segmentation v4, per-class
confidence filtering, merging and combining detections, the string template, label v2, zone and
line visualizations, morphology and contrast equalization, a trace drawn across requests
of one video, and QR codes generated (and refused with 400s)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.workflows.blocks.helpers import step
from tests.workflows.fakes import definition
from visionflow.core.boxes import box_iou_xyxy
from visionflow.service.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

DEMO_SEG = Path(__file__).resolve().parents[2] / "src/visionflow/demo/models/shapes-seg.onnx"
MODEL = "shapes-seg/1"


@pytest.fixture
def seg(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, MODEL, DEMO_SEG)
    return tenant


def _upload(image_bgr: np.ndarray, **extra: Any) -> dict[str, Any]:
    ok, png = cv2.imencode(".png", image_bgr)
    assert ok
    return {"type": "base64", "value": base64.b64encode(png.tobytes()).decode(), **extra}


def _decode(body: dict[str, Any]) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(body["value"]), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels)


def _run(client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any) -> Any:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def _xyxy(predictions: list[dict[str, Any]]) -> np.ndarray:
    centres = np.array([[p["x"], p["y"]] for p in predictions], dtype=np.float32).reshape(-1, 2)
    sizes = np.array([[p["width"], p["height"]] for p in predictions], dtype=np.float32)
    return np.hstack([centres - sizes.reshape(-1, 2) / 2, centres + sizes.reshape(-1, 2) / 2])


SEGMENT = {"images": "$inputs.image", "model_id": MODEL}
ZONE = [[0, 0], [100, 0], [100, 80], [0, 80]]


def test_reference_blocks_on_the_demo_segmentation_model(client: TestClient, seg: Tenant) -> None:
    sample = shapes.generate(seed=9701, count=1, size_wh=(640, 480))[0]
    workflow = definition(
        [
            step("roboflow_instance_segmentation_model@v4", "v4", **SEGMENT),
            step("roboflow_instance_segmentation_model@v3", "v3", **SEGMENT),
            step(
                "per_class_confidence_filter@v1",
                "squares",
                predictions="$steps.v4.predictions",
                class_thresholds={"circle": 1.0, "triangle": 1.0},
                default_threshold=0.0,
            ),
            step(
                "detections_combine@v1",
                "both",
                prediction_one="$steps.v4.predictions",
                prediction_two="$steps.v3.predictions",
            ),
            step("detections_merge@v1", "merged", predictions="$steps.v4.predictions"),
            step(
                "string_template@v1",
                "summary",
                template="{count} shapes: {names}",
                data={"count": "$steps.v4.predictions", "names": "$steps.v4.predictions"},
                data_operations={
                    "count": [{"type": "SequenceLength"}],
                    "names": [
                        {"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                        {"type": "SequenceJoin", "separator": ","},
                    ],
                },
            ),
            step(
                "label_visualization@v2",
                "labels",
                image="$inputs.image",
                predictions="$steps.v4.predictions",
                text_size_mode="Automatic",
            ),
            step("polygon_zone_visualization@v1", "zone", image="$inputs.image", zone=ZONE),
            step(
                "line_counter_visualization@v1",
                "line",
                image="$steps.zone.image",
                zone=[[20, 460], [620, 460]],
                count_in=4,
            ),
            step("morphological_transformation@v2", "morph", image="$inputs.image"),
            step(
                "contrast_equalization@v1",
                "contrast",
                image="$inputs.image",
                equalization_type="Adaptive Equalization",
            ),
        ],
        {
            "v4": "$steps.v4.predictions",
            "v3": "$steps.v3.predictions",
            "squares": "$steps.squares.predictions",
            "both": "$steps.both.predictions",
            "merged": "$steps.merged.predictions",
            "summary": "$steps.summary.output",
            "labels": "$steps.labels.image",
            "zone": "$steps.line.image",
            "morph": "$steps.morph.image",
            "contrast": "$steps.contrast.image",
        },
    )
    [result] = _run(client, seg, workflow, _upload(sample.image_bgr))

    # v4 runs the v3 code path: the same shapes, with polygons, and they are the drawn ones.
    v4, v3 = result["v4"]["predictions"], result["v3"]["predictions"]
    assert len(v4) == len(sample.xyxy) >= 2
    assert [p["class"] for p in v4] == [p["class"] for p in v3]
    np.testing.assert_allclose(_xyxy(v4), _xyxy(v3), atol=0.5)
    assert all(len(p["points"]) >= 3 for p in v4)
    assert box_iou_xyxy(_xyxy(v4), sample.xyxy).max(axis=1).min() > 0.8

    squares = result["squares"]["predictions"]
    assert [p["class"] for p in squares] == [p["class"] for p in v4 if p["class"] == "square"]
    assert len(result["both"]["predictions"]) == 2 * len(v4)

    [merged] = result["merged"]["predictions"]
    union = _xyxy(v4)
    around = [*union[:, :2].min(axis=0), *union[:, 2:].max(axis=0)]
    assert _xyxy([merged])[0].tolist() == pytest.approx(around, abs=0.5)
    assert merged["confidence"] == pytest.approx(min(p["confidence"] for p in v4), abs=1e-4)
    assert (merged["class"], merged["class_id"]) == ("merged_detection", 0)
    assert "parent_id" not in merged  # as the reference: the merged box belongs to no image
    assert result["merged"]["image"] == {"width": None, "height": None}

    names = ",".join(p["class"] for p in v4)
    assert result["summary"] == f"{len(v4)} shapes: {names}"

    image = sample.image_bgr.astype(int)
    labelled = _decode(result["labels"]).astype(int)
    assert np.abs(labelled - image).max() > 100  # labels drawn

    zoned = _decode(result["zone"]).astype(int)
    # Inside the zone the image gets 0.3 of #5bb573 (BGR 115, 181, 91) added, saturating;
    # compared through the response's JPEG (a few levels of noise on this textured image).
    expected = np.clip(image[10:70, 10:90] + [34.5, 54.3, 27.3], 0, 255)
    assert np.median(np.abs(zoned[10:70, 10:90] - expected)) < 4
    outside = (zoned[200:400, 200:400] - image[200:400, 200:400]).reshape(-1, 3)
    assert np.abs(np.median(outside, axis=0)).max() < 3
    assert np.abs(zoned[455:465, 300:320] - image[455:465, 300:320]).mean() > 10  # the line

    assert _decode(result["morph"]).shape == sample.image_bgr.shape
    contrast = _decode(result["contrast"])
    assert contrast.std() > sample.image_bgr.std()


def _shifted(image: np.ndarray, dx: int) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    height, width = image.shape[:2]
    return np.asarray(
        cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    )


def test_trace_follows_tracked_shapes_across_requests(client: TestClient, seg: Tenant) -> None:
    sample = shapes.generate(seed=9702, count=1, size_wh=(640, 480))[0]
    workflow = definition(
        [
            step("roboflow_instance_segmentation_model@v4", "seg", **SEGMENT),
            step(
                "byte_tracker@v3",
                "track",
                image="$inputs.image",
                detections="$steps.seg.predictions",
            ),
            step(
                "trace_visualization@v1",
                "trace",
                image="$inputs.image",
                predictions="$steps.track.tracked_detections",
                thickness=4,
                color_palette="CUSTOM",
                custom_colors=["#FF00FF"],
            ),
        ],
        {"trace": "$steps.trace.image", "tracked": "$steps.track.tracked_detections"},
    )
    changed = []
    for frame in range(4):
        frame_bgr = _shifted(sample.image_bgr, 6 * frame)
        metadata = {"video_identifier": "demo-cam", "frame_number": frame, "frame_timestamp": frame}
        [result] = _run(client, seg, workflow, _upload(frame_bgr, video_metadata=metadata))
        assert all("tracker_id" in p for p in result["tracked"]["predictions"])
        drawn = _decode(result["trace"]).astype(int)
        magenta = (drawn[..., 0] > 180) & (drawn[..., 1] < 80) & (drawn[..., 2] > 180)
        moved = np.abs(drawn - frame_bgr).sum(axis=2) > 150
        changed.append(int((magenta & moved).sum()))
    # The first frame has one point per track (nothing drawn); then 6 px of path per frame.
    assert changed[0] == 0
    assert 0 < changed[1] < changed[2] < changed[3]


QR_INPUTS = [{"type": "WorkflowParameter", "name": "text"}]


def _qr_request(client: TestClient, tenant: Tenant, text: str, **fields: Any) -> Any:
    workflow = definition(
        [step("qr_code_generator@v1", "qr", text="$inputs.text", **fields)],
        {"qr": "$steps.qr.qr_code"},
        inputs=QR_INPUTS,
    )
    return client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"text": text}, "specification": workflow},
    )


def test_qr_code_generator_makes_a_readable_image(client: TestClient, tenant: Tenant) -> None:
    response = _qr_request(client, tenant, "https://roboflow.com", border=2)
    assert response.status_code == 200, response.text
    [result] = response.json()["outputs"]
    assert result["qr"]["video_metadata"]["video_identifier"].startswith("qr_code.")
    pixels = _decode(result["qr"])
    assert pixels.shape == (290, 290, 3)  # version 2 (25 modules) + 2 x 2, 10 px each
    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(pixels)
    assert text == "https://roboflow.com"


@pytest.mark.parametrize(
    ("text", "fields", "field"),
    [
        pytest.param("x" * 2332, {}, "text", id="past-version-40"),
        pytest.param("9" * 100_000, {}, "text", id="huge"),
        pytest.param("a", {"fill_color": "no-such-colour"}, "fill_color", id="colour"),
        pytest.param("a", {"border": -4}, "border", id="negative-border"),
        pytest.param("a", {"border": 1000}, "border", id="image-too-large"),
    ],
)
def test_qr_code_generator_refusals_are_400s(
    client: TestClient, tenant: Tenant, text: str, fields: dict[str, Any], field: str
) -> None:
    """Where the reference answers 500 (the qrcode package's ValueError), a 400 naming the
    field."""
    response = _qr_request(client, tenant, text, **fields)
    assert response.status_code == 400, response.text
    body = response.json()
    [error] = body["blocks_errors"]
    assert (error["block_id"], error["property_name"]) == ("qr", field)
