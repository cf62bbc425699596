"""Serialized workflow inputs over HTTP: the ``/infer`` answer of the known fixture model (one
"square" on a 640 x 480 image) given to a ``WorkflowBatchInput`` of kind
``object_detection_prediction`` runs detections blocks; a malformed one is a 400 naming the
input."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}
WORKFLOW = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
    ],
    "steps": [
        {
            "type": "roboflow_core/detection_offset@v1",
            "name": "grow",
            "predictions": "$inputs.dets",
            "offset_width": 20,
            "offset_height": 40,
        },
        {
            "type": "roboflow_core/dynamic_crop@v1",
            "name": "crop",
            "images": "$inputs.image",
            "predictions": "$steps.grow.predictions",
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "grown", "selector": "$steps.grow.predictions"},
        {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
    ],
}


def _run(client: TestClient, tenant: Tenant, dets: Any) -> Any:
    return client.post(
        "/workflows/run",
        json={
            "api_key": tenant.key,
            "inputs": {"image": IMAGE, "dets": dets},
            "specification": WORKFLOW,
        },
    )


def test_infer_answer_feeds_detections_blocks(client: TestClient, tenant: Tenant) -> None:
    answer = client.post(
        "/infer/object_detection",
        json={"api_key": tenant.key, "model_id": tenant.model_id, "image": IMAGE},
    )
    assert answer.status_code == 200, answer.text
    [found] = answer.json()["predictions"]
    response = _run(client, tenant, answer.json())
    assert response.status_code == 200, response.text
    [out] = response.json()["outputs"]
    [grown] = out["grown"]["predictions"]
    assert (grown["x"], grown["y"]) == (found["x"], found["y"])
    assert (grown["width"], grown["height"]) == (found["width"] + 20, found["height"] + 40)
    assert grown["class"] == found["class"] == "square"
    assert grown["parent_id"] == found["detection_id"]
    [crop] = out["crops"]
    assert crop["parent_id"] == grown["detection_id"]


def test_malformed_detections_are_a_400_naming_the_input(
    client: TestClient, tenant: Tenant
) -> None:
    response = _run(
        client, tenant, {"image": {"width": 640, "height": 480}, "predictions": [{"x": 1}]}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_type"] == "RuntimeInputError"
    assert body["message"] == (
        "Workflow input 'dets' could not be read as any of its declared kinds: kind "
        "'object_detection_prediction': prediction 0: 'y' must be a number, got None"
    )
    assert body["blocks_errors"][0]["property_name"] == "inputs.dets"
