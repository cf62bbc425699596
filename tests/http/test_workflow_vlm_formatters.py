"""``vlm_as_detector`` / ``vlm_as_classifier`` over ``POST /workflows/run``: a model's answer
given as a workflow parameter becomes detections that a detections block filters, and a
classification, on a 640 x 480 image."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}
INPUTS = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "boxes"},
    {"type": "WorkflowParameter", "name": "label"},
]
GEMINI_ANSWER = (
    "Here are the objects:\n```json\n"
    '[{"box_2d": [0, 0, 500, 500], "label": "dog", "confidence": 0.9},'
    ' {"box_2d": [500, 500, 1000, 1000], "label": "cat", "confidence": 0.3}]\n```'
)


def _workflow() -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": INPUTS,
        "steps": [
            {
                "type": "roboflow_core/vlm_as_detector@v2",
                "name": "parse",
                "image": "$inputs.image",
                "vlm_output": "$inputs.boxes",
                "classes": ["cat", "dog"],
                "model_type": "google-gemini",
                "task_type": "object-detection",
            },
            {
                "type": "roboflow_core/detections_filter@v1",
                "name": "confident",
                "predictions": "$steps.parse.predictions",
                "operations": [
                    {
                        "type": "DetectionsFilter",
                        "filter_operation": {
                            "type": "StatementGroup",
                            "statements": [
                                {
                                    "type": "BinaryStatement",
                                    "left_operand": {
                                        "type": "DynamicOperand",
                                        "operations": [
                                            {
                                                "type": "ExtractDetectionProperty",
                                                "property_name": "confidence",
                                            }
                                        ],
                                    },
                                    "comparator": {"type": "(Number) >="},
                                    "right_operand": {"type": "StaticOperand", "value": 0.5},
                                }
                            ],
                        },
                    }
                ],
            },
            {
                "type": "roboflow_core/vlm_as_classifier@v1",
                "name": "classify",
                "image": "$inputs.image",
                "vlm_output": "$inputs.label",
                "classes": ["cat", "dog"],
            },
        ],
        "outputs": [
            {"type": "JsonField", "name": "all", "selector": "$steps.parse.predictions"},
            {"type": "JsonField", "name": "kept", "selector": "$steps.confident.predictions"},
            {"type": "JsonField", "name": "error", "selector": "$steps.parse.error_status"},
            {"type": "JsonField", "name": "top", "selector": "$steps.classify.predictions"},
        ],
    }


def _run(client: TestClient, tenant: Tenant, boxes: str, label: str) -> dict[str, Any]:
    response = client.post(
        "/workflows/run",
        json={
            "api_key": tenant.key,
            "inputs": {"image": IMAGE, "boxes": boxes, "label": label},
            "specification": _workflow(),
        },
    )
    assert response.status_code == 200, response.text
    [out] = response.json()["outputs"]
    result: dict[str, Any] = out
    return result


def test_answers_become_predictions(client: TestClient, tenant: Tenant) -> None:
    out = _run(client, tenant, GEMINI_ANSWER, '{"class_name": "dog", "confidence": 0.8}')
    assert out["error"] is False
    assert out["all"]["image"] == {"width": 640, "height": 480}
    assert [
        (p["class"], p["class_id"], p["x"], p["y"], p["width"], p["height"])
        for p in out["all"]["predictions"]
    ] == [
        ("dog", 1, 160.0, 120.0, 320.0, 240.0),
        ("cat", 0, 480.0, 360.0, 320.0, 240.0),
    ]
    assert [p["class"] for p in out["kept"]["predictions"]] == ["dog"]
    # The model's confidences as it wrote them (the reference keeps them as Python floats).
    assert [p["confidence"] for p in out["all"]["predictions"]] == [0.9, 0.3]
    assert out["top"]["top"] == "dog"
    assert out["top"]["predictions"][1] == {"class": "dog", "class_id": 1, "confidence": 0.8}


def test_malformed_answers_are_error_status_not_errors(client: TestClient, tenant: Tenant) -> None:
    out = _run(client, tenant, "Sorry, I cannot see any objects.", "")
    assert out["error"] is True
    assert out["all"] is None
    assert out["top"] is None
