"""Driving the stream API (``/inference_pipelines/*``) of an app in tests: a detector + tracker
workflow on the demo shapes detector, start a pipeline, read its status, drain its results."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

__all__ = ["TRACKING", "drain", "pipeline_status", "start_pipeline"]

TRACKING = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowVideoMetadata", "name": "video_metadata"},
        {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.4},
    ],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "shapes/1",
            "confidence": "$inputs.confidence",
        },
        {
            "type": "roboflow_core/byte_tracker@v3",
            "name": "track",
            "image": "$inputs.image",
            "detections": "$steps.det.predictions",
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "tracked", "selector": "$steps.track.tracked_detections"},
        {"type": "JsonField", "name": "metadata", "selector": "$inputs.video_metadata"},
    ],
}


def start_pipeline(
    client: TestClient, key: str, video: Any = "square.mp4", **video_fields: Any
) -> str:
    body = {
        "api_key": key,
        "video_configuration": {
            "type": "VideoConfiguration",
            "video_reference": video,
            "source_buffer_filling_strategy": "WAIT",
            "source_buffer_consumption_strategy": "LAZY",
            **video_fields,
        },
        "processing_configuration": {
            "type": "WorkflowConfiguration",
            "workflow_specification": TRACKING,
            "workflows_parameters": {"confidence": 0.5},
        },
        "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": 256},
    }
    response = client.post("/inference_pipelines/initialise", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "success"
    assert answer["context"]["request_id"]
    return str(answer["context"]["pipeline_id"])


def pipeline_status(client: TestClient, key: str, pipeline_id: str) -> dict[str, Any]:
    response = client.request(
        "GET", f"/inference_pipelines/{pipeline_id}/status", json={"api_key": key}
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["report"])


def drain(
    client: TestClient, key: str, pipeline_id: str, timeout_s: float = 30.0
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every result until the pipeline has ended and its buffer is empty."""
    got: list[tuple[dict[str, Any], dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    ended = False
    while time.monotonic() < deadline:
        response = client.request(
            "GET", f"/inference_pipelines/{pipeline_id}/consume", json={"api_key": key}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        if answer["outputs"]:
            got.extend(zip(answer["outputs"], answer["frames_metadata"], strict=True))
        elif ended:  # ended before this empty answer: nothing more will come
            return got
        else:
            ended = pipeline_status(client, key, pipeline_id)["pipeline_state"] == "ENDED"
            time.sleep(0 if ended else 0.02)
    raise AssertionError(f"pipeline did not end in {timeout_s} s ({len(got)} results)")
