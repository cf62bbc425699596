"""Phase-2 workflow blocks over HTTP, end to end: transformations and visualizations on the known
fixture detector (one "square", centre (320, 240), 128 x 128 on a 640 x 480 image), a QR code
read from an uploaded image, formatters, and sinks (no side effects unless the server injects
them)."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from tests.workflows.fakes import definition

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


DETECTOR = step(
    "roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="known/1"
)


def run(client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any = IMAGE) -> Any:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def _decode(body: dict[str, Any]) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(body["value"]), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels)


def test_transformations_and_visualizations(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [
            DETECTOR,
            step(
                "detection_offset@v1",
                "grow",
                predictions="$steps.det.predictions",
                offset_width=20,
                offset_height=40,
            ),
            step(
                "detections_transformation@v1",
                "renamed",
                predictions="$steps.grow.predictions",
                operations=[{"type": "DetectionsRename", "class_map": {"square": "box"}}],
            ),
            step(
                "absolute_static_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=320,
                y_center=240,
                width=100,
                height=50,
            ),
            step(
                "color_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.renamed.predictions",
                opacity=1.0,
                color_palette="CUSTOM",
                custom_colors=["#FF0000"],
            ),
        ],
        {
            "renamed": "$steps.renamed.predictions",
            "crop": "$steps.crop.crops",
            "viz": "$steps.viz.image",
        },
    )
    [result] = run(client, tenant, workflow)
    [box] = result["renamed"]["predictions"]
    assert (box["class"], box["width"], box["height"]) == ("box", 148.0, 168.0)
    assert box["parent_id"] != "image"  # the id of the detection it was grown from
    assert result["crop"]["root_parent_origin"]["offset_x"] == 270
    pixels = _decode(result["viz"])
    assert pixels[240, 320].tolist()[2] > 200
    assert pixels[240, 320].tolist()[0] < 60
    assert abs(int(pixels[20, 20, 2]) - 90) < 10  # outside the box: the gray input


def test_qr_code_detector_reads_an_uploaded_image(client: TestClient, tenant: Tenant) -> None:
    code = cv2.QRCodeEncoder.create().encode("visionflow")
    image = np.full((240, 320), 255, np.uint8)
    big = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    image[20 : 20 + big.shape[0], 40 : 40 + big.shape[1]] = big
    ok, png = cv2.imencode(".png", image)
    assert ok
    upload = {"type": "base64", "value": base64.b64encode(png.tobytes()).decode()}
    workflow = definition(
        [step("qr_code_detector@v1", "qr", images="$inputs.image")],
        {"codes": "$steps.qr.predictions"},
    )
    [result] = run(client, tenant, workflow, upload)
    [found] = result["codes"]["predictions"]
    assert (found["class"], found["confidence"]) == ("qr_code", 1.0)
    assert abs(found["x"] - (40 + big.shape[1] / 2)) < 3


def test_formatters_and_guarded_sinks(client: TestClient, tenant: Tenant) -> None:
    """The webhook goes through the image-URL guard (loopback refused); file sinks are off
    without VISIONFLOW_WORKFLOWS_SINK_FOLDER."""
    workflow = definition(
        [
            DETECTOR,
            step(
                "csv_formatter@v1",
                "csv",
                columns_data={"classes": "$steps.det.predictions"},
                columns_operations={
                    "classes": [
                        {"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                        {"type": "SequenceJoin"},
                    ]
                },
            ),
            step(
                "webhook_sink@v1",
                "hook",
                url="http://127.0.0.1:9/hook",
                method="POST",
                json_payload={"csv": "$steps.csv.csv_content"},
                fire_and_forget=False,
            ),
            step(
                "local_file_sink@v1",
                "file",
                content="$steps.csv.csv_content",
                output_mode="separate_files",
                target_directory="out",
            ),
        ],
        {
            "csv": "$steps.csv.csv_content",
            "hook": "$steps.hook.message",
            "hook_error": "$steps.hook.error_status",
            "file": "$steps.file.message",
        },
    )
    [result] = run(client, tenant, workflow)
    [row] = list(csv.DictReader(io.StringIO(result["csv"])))
    assert row["classes"] == "square"
    assert "non-public" in result["hook"], result["hook"]
    assert result["hook_error"] is True
    assert result["file"].startswith("Sink skipped")


def test_decoded_qr_text_reaches_the_wire(client: TestClient, tenant: Tenant) -> None:
    """Extra per-detection values (here the decoded text) are serialized as the reference does."""
    encoder = cv2.QRCodeEncoder.create()
    code = cv2.resize(encoder.encode("visionflow"), (200, 200), interpolation=cv2.INTER_NEAREST)
    canvas = np.full((320, 320), 255, dtype=np.uint8)
    canvas[60:260, 60:260] = code
    ok, jpeg = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    assert ok
    image = {"type": "base64", "value": base64.b64encode(jpeg.tobytes()).decode()}
    workflow = definition(
        [step("qr_code_detector@v1", "qr", images="$inputs.image")],
        {"codes": "$steps.qr.predictions"},
    )
    [result] = run(client, tenant, workflow, image=image)
    [prediction] = result["codes"]["predictions"]
    assert prediction["data"] == "visionflow"
    assert prediction["class"] == "qr_code"
