"""A workflow using a reference block visionflow does not run is refused over
``POST /workflows/run`` with a 400 naming the block, its alias and why."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}


def test_unsupported_blocks_are_named_with_the_reason(client: TestClient, tenant: Tenant) -> None:
    workflow = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {"type": "roboflow_core/florence_2@v2", "name": "florence", "images": "$inputs.image"},
            {"type": "RoboflowDatasetUpload", "name": "upload", "images": "$inputs.image"},
        ],
        "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.florence.*"}],
    }
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": IMAGE}, "specification": workflow},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_type"] == "WorkflowSyntaxError"
    assert body["message"].startswith(
        "Step 'florence': block type 'roboflow_core/florence_2@v2' (Florence-2 Model) is a "
        "reference block visionflow does not run: it needs a model visionflow does not have "
        "(Florence-2"
    )
    assert body["message"].endswith("(and 1 more problems)")
    [florence, upload] = body["blocks_errors"]
    assert (florence["block_id"], florence["property_name"]) == ("florence", "type")
    assert upload["block_type"] == "RoboflowDatasetUpload"
    assert upload["property_details"] == (
        "block type 'RoboflowDatasetUpload' (Roboflow Dataset Upload; "
        "roboflow_core/roboflow_dataset_upload@v1) is a reference block visionflow does not run: "
        "it needs the Roboflow platform (it uploads images and annotations to a Roboflow dataset)"
    )
