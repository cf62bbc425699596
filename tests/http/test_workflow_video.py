"""Stateful workflows over HTTP: ``data_aggregator`` windows spanning requests (per workspace),
frames of a video sent one request at a time (image video metadata and ``WorkflowVideoMetadata``)
and the 400 for malformed metadata — on the fixture detection model (one known box per image)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from visionflow.service.services import Services

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}


def _frame(video: str, number: int) -> dict[str, Any]:
    return {
        "video_identifier": video,
        "frame_number": number,
        "frame_timestamp": f"2024-05-01T10:00:0{number}+00:00",
        "fps": 1.0,
    }


def _workflow(
    steps: list[dict[str, Any]], outputs: dict[str, str], *, video: bool = False
) -> dict[str, Any]:
    inputs = [{"type": "WorkflowImage", "name": "image"}]
    if video:
        inputs.append({"type": "WorkflowVideoMetadata", "name": "video"})
    detector = {
        "type": "roboflow_core/roboflow_object_detection_model@v2",
        "name": "det",
        "images": "$inputs.image",
        "model_id": "known/1",
    }
    return {
        "version": "1.0",
        "inputs": inputs,
        "steps": [detector, *steps],
        "outputs": [{"type": "JsonField", "name": n, "selector": s} for n, s in outputs.items()],
    }


def _run(client: TestClient, key: str, workflow: dict[str, Any], **inputs: Any) -> Any:
    response = client.post(
        "/workflows/run",
        json={"api_key": key, "specification": workflow, "inputs": {"image": IMAGE, **inputs}},
    )
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]


AGGREGATING = _workflow(
    [
        {
            "type": "roboflow_core/data_aggregator@v1",
            "name": "agg",
            "data": {"boxes": "$steps.det.predictions"},
            "data_operations": {"boxes": [{"type": "SequenceLength"}]},
            "aggregation_mode": {"boxes": ["sum", "count"]},
            "interval_unit": "runs",
            "interval": 3,
        }
    ],
    {"report": "$steps.agg.*"},
)


def test_data_aggregator_windows_span_requests_per_workspace(
    client: TestClient, services: Services, tenant: Tenant, fixture_onnx: Path
) -> None:
    services.registry.create_workspace("rival")
    services.models.add_from_path("rival", "known/1", fixture_onnx)
    _record, rival = services.registry.create_api_key("rival", "tests")
    empty = {"boxes_sum": None, "boxes_count": None}
    assert _run(client, tenant.key, AGGREGATING)["report"] == empty
    assert _run(client, tenant.key, AGGREGATING)["report"] == empty
    assert _run(client, rival, AGGREGATING)["report"] == empty
    # The third run of the first workspace closes its window: 3 runs, one box each.
    assert _run(client, tenant.key, AGGREGATING)["report"] == {"boxes_sum": 3, "boxes_count": 3}
    assert _run(client, tenant.key, AGGREGATING)["report"] == empty
    assert _run(client, rival, AGGREGATING)["report"] == empty
    assert _run(client, rival, AGGREGATING)["report"] == {"boxes_sum": 3, "boxes_count": 3}


TRACKING = _workflow(
    [
        {
            "type": "roboflow_core/byte_tracker@v3",
            "name": "track",
            "image": "$inputs.image",
            "detections": "$steps.det.predictions",
        }
    ],
    {"new": "$steps.track.new_instances", "seen": "$steps.track.already_seen_instances"},
)


def _new_and_seen(output: dict[str, Any]) -> tuple[int, int]:
    return len(output["new"]["predictions"]), len(output["seen"]["predictions"])


def test_a_video_sent_frame_by_frame_keeps_its_tracks(client: TestClient, tenant: Tenant) -> None:
    def frame(metadata: dict[str, Any] | None) -> tuple[int, int]:
        image = IMAGE if metadata is None else {**IMAGE, "video_metadata": metadata}
        return _new_and_seen(_run(client, tenant.key, TRACKING, image=image))

    assert [frame(_frame("cam", n)) for n in range(3)] == [(1, 0), (0, 1), (0, 1)]
    assert frame(_frame("door", 0)) == (1, 0)
    # Still images (no metadata) are each their own video, as on the reference's server.
    assert [frame(None), frame(None)] == [(1, 0), (1, 0)]


def test_time_in_zone_from_video_metadata_inputs(client: TestClient, tenant: Tenant) -> None:
    workflow = _workflow(
        [
            {
                "type": "roboflow_core/byte_tracker@v1",
                "name": "track",
                "metadata": "$inputs.video",
                "detections": "$steps.det.predictions",
            },
            {
                "type": "roboflow_core/time_in_zone@v1",
                "name": "zone",
                "image": "$inputs.image",
                "metadata": "$inputs.video",
                "detections": "$steps.track.tracked_detections",
                "zone": [[0, 0], [640, 0], [640, 480], [0, 480]],
            },
        ],
        {"timed": "$steps.zone.timed_detections", "video": "$inputs.video"},
        video=True,
    )
    outputs = [_run(client, tenant.key, workflow, video=_frame("cam", n)) for n in range(3)]
    times = [[p["time_in_zone"] for p in o["timed"]["predictions"]] for o in outputs]
    assert times == [[0.0], [1.0], [2.0]]
    assert outputs[2]["video"] == {
        **_frame("cam", 2),
        "measured_fps": None,
        "comes_from_video_file": None,
        "total_frames": None,
    }


def test_malformed_video_metadata_is_a_400(client: TestClient, tenant: Tenant) -> None:
    workflow = _workflow([], {"video": "$inputs.video"}, video=True)
    response = client.post(
        "/workflows/run",
        json={
            "api_key": tenant.key,
            "specification": workflow,
            "inputs": {"image": IMAGE, "video": {"video_identifier": "cam", "frame_number": "x"}},
        },
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert "Workflow input 'video': could not read video metadata" in body["message"]
    assert body["blocks_errors"][0]["property_name"] == "inputs.video"
