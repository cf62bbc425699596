"""Issue 15's fusion, zone, image and video blocks over ``POST /workflows/run`` on the shipped
demo segmentation model (``shapes-seg``) and drawn shapes images: dynamic zones on the drawn
squares, before/after differences and overlaps, crop results rolled up into the image, camera
calibration and stitching of uploaded images, tracked shapes stabilized and class-locked across
the requests of one video, and the same two blocks in a stream pipeline over a video file."""

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
from tests.support.panorama import LEFT, RIGHT
from tests.support.pipelines import drain
from tests.support.videos import moving_square_frames, write_video
from tests.workflows.blocks.helpers import step
from tests.workflows.fakes import definition
from visionflow.config import Settings
from visionflow.service.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

DEMO = Path(__file__).resolve().parents[2] / "src/visionflow/demo/models"
MODEL, DETECTOR = "shapes-seg/1", "shapes-det/1"
SEGMENT = {"images": "$inputs.image", "model_id": MODEL}
SQUARE = shapes.CLASS_NAMES.index("square")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "square.mp4", moving_square_frames(12))
    return Settings(home=tmp_path / "home", register_demo_models=False, video_folder=folder)


@pytest.fixture
def seg(services: Services, tenant: Tenant) -> Tenant:
    services.models.add_from_path(tenant.workspace, MODEL, DEMO / "shapes-seg.onnx")
    services.models.add_from_path(tenant.workspace, DETECTOR, DEMO / "shapes-det.onnx")
    return tenant


def _upload(image_bgr: np.ndarray, **extra: Any) -> dict[str, Any]:
    ok, png = cv2.imencode(".png", image_bgr)
    assert ok
    return {"type": "base64", "value": base64.b64encode(png.tobytes()).decode(), **extra}


def _run(client: TestClient, tenant: Tenant, workflow: dict[str, Any], **inputs: Any) -> Any:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": inputs, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def _boxes(predictions: list[dict[str, Any]]) -> np.ndarray:
    return np.array(
        [
            [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
            for x, y, w, h in ((p["x"], p["y"], p["width"], p["height"]) for p in predictions)
        ],
        dtype=np.float64,
    ).reshape(-1, 4)


def _sample() -> Any:
    sample = shapes.generate(seed=9715, count=1, size_wh=(640, 480))[0]
    assert SQUARE in sample.class_id.tolist()
    return sample


TRACKED_OUTPUTS = {
    "tracked": "$steps.track.tracked_detections",
    "stable": "$steps.stable.tracked_detections",
    "locked": "$steps.lock.tracked_detections",
}


def _track_stabilize_lock(detections: str, *, vote_confidence: float) -> list[dict[str, Any]]:
    """``byte_tracker`` on ``detections``, then its tracks stabilized and class-locked."""
    return [
        step("byte_tracker@v3", "track", image="$inputs.image", detections=detections),
        step(
            "stabilize_detections@v1",
            "stable",
            image="$inputs.image",
            detections="$steps.track.tracked_detections",
            bbox_smoothing_coefficient=0.5,
        ),
        step(
            "track_class_lock@v1",
            "lock",
            image="$inputs.image",
            detections="$steps.track.tracked_detections",
            min_votes=2,
            lead_margin=1,
            vote_confidence=vote_confidence,
        ),
    ]


def test_zones_differences_overlaps_and_roll_up(client: TestClient, seg: Tenant) -> None:
    sample = _sample()
    blank = np.full_like(sample.image_bgr, 127)
    inputs = [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowImage", "name": "after"},
    ]
    workflow = definition(
        [
            step("roboflow_instance_segmentation_model@v2", "seg", **SEGMENT),
            step(
                "roboflow_object_detection_model@v2",
                "det",
                images="$inputs.image",
                model_id=DETECTOR,
            ),
            step(
                "roboflow_object_detection_model@v2",
                "det_after",
                images="$inputs.after",
                model_id=DETECTOR,
            ),
            step(
                "dynamic_zone@v1",
                "zone",
                predictions="$steps.seg.predictions",
                required_number_of_vertices=4,
            ),
            step(
                "detections_difference@v1",
                "diff",
                reference_predictions="$steps.det.predictions",
                candidate_predictions="$steps.det_after.predictions",
            ),
            step(
                "overlap_analysis@v1",
                "overlap",
                reference_predictions="$steps.seg.predictions",
                candidate_predictions="$steps.det.predictions",
                min_overlap=0.5,
            ),
            # Crops with a margin around each shape, segmented again and rolled back up.
            step(
                "detection_offset@v1",
                "wider",
                predictions="$steps.seg.predictions",
                offset_width=300,
                offset_height=300,
            ),
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.image",
                predictions="$steps.wider.predictions",
            ),
            step(
                "roboflow_instance_segmentation_model@v2",
                "seg_crop",
                images="$steps.crop.crops",
                model_id=MODEL,
            ),
            step("dimension_collapse@v1", "collapse", data="$steps.seg_crop.predictions"),
            step(
                "detections_list_rollup@v1",
                "rollup",
                parent_detection="$steps.wider.predictions",
                child_detections="$steps.collapse.output",
            ),
        ],
        {
            "seg": "$steps.seg.predictions",
            "zones": "$steps.zone.zones",
            "diff": "$steps.diff.*",
            "overlaps": "$steps.overlap.overlaps",
            "rolled": "$steps.rollup.rolled_up_detections",
        },
        inputs=inputs,
    )
    [result] = _run(client, seg, workflow, image=_upload(sample.image_bgr), after=_upload(blank))
    found = result["seg"]["predictions"]
    assert len(found) == len(sample.class_id)

    # Each drawn square's zone is its 4 corners, within a few pixels.
    squares = [p for p in sample.polygons if len(p) == 4]
    zones = [z for z, p in zip(result["zones"], found, strict=True) if p["class"] == "square"]
    assert len(zones) == len(squares)
    for square in squares:
        zone = min(zones, key=lambda z: float(np.abs(np.mean(z, 0) - square.mean(0)).sum()))
        for corner in square:
            assert min(np.hypot(*(np.array(z) - corner)) for z in zone) < 8  # the mask's precision

    # Nothing is left on the blank "after" image: every shape was removed.
    diff = result["diff"]
    assert (diff["removed_count"], diff["new_count"], diff["verified"]) == (len(found), 0, True)
    assert diff["persisted_detections"]["predictions"] == []
    # Each shape's mask outline lies (almost) inside the detector's box for it, of its class.
    overlaps = result["overlaps"]
    assert sorted(o["reference_detection_id"] for o in overlaps) == sorted(
        p["detection_id"] for p in found
    )
    assert all(o["overlap_ratio"] > 0.9 for o in overlaps)
    assert all(o["reference_class"] == o["candidate_class"] for o in overlaps)

    # Rolled up from the crops (wide enough to hold neighbours too, whose repeated finds merge),
    # every shape is again where the model found it in the whole image; any extra find is a
    # part of a shape, cut by a crop's border.
    rolled, boxes = _boxes(result["rolled"]["predictions"]), _boxes(found)
    for box in boxes:
        assert np.abs(rolled - box).max(axis=1).min() < 6
    for box in rolled:
        inside = (box[:2] >= boxes[:, :2] - 6).all(axis=1) & (box[2:] <= boxes[:, 2:] + 6).all(
            axis=1
        )
        assert inside.any()
    assert result["rolled"]["image"] == {"width": 640, "height": 480}


def test_calibration_and_stitching_of_uploaded_images(client: TestClient, tenant: Tenant) -> None:
    inputs = [
        {"type": "WorkflowImage", "name": "left"},
        {"type": "WorkflowImage", "name": "right"},
    ]
    lens = {"fx": 300.0, "fy": 300.0, "cx": 120.0, "cy": 100.0, "k2": 0.0, "k3": 0.0}
    workflow = definition(
        [
            step("stitch_images@v1", "stitch", image1="$inputs.left", image2="$inputs.right"),
            step(
                "camera-calibration@v1",
                "calib",
                image="$inputs.left",
                k1=0.0,
                p1=0.0,
                p2=0.0,
                **lens,
            ),
        ],
        {"panorama": "$steps.stitch.stitched_image", "calibrated": "$steps.calib.calibrated_image"},
        inputs=inputs,
    )
    [result] = _run(client, tenant, workflow, left=_upload(LEFT), right=_upload(RIGHT))
    panorama = cv2.imdecode(
        np.frombuffer(base64.b64decode(result["panorama"]["value"]), np.uint8), 1
    )
    assert panorama.shape == (200, 400, 3)
    calibrated = cv2.imdecode(
        np.frombuffer(base64.b64decode(result["calibrated"]["value"]), np.uint8), 1
    )
    assert calibrated.shape == LEFT.shape


def _shifted(image: np.ndarray, dx: int) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    height, width = image.shape[:2]
    return np.asarray(
        cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    )


def test_tracked_shapes_stabilized_and_class_locked_across_requests(
    client: TestClient, seg: Tenant
) -> None:
    sample = _sample()
    workflow = definition(
        [
            step("roboflow_instance_segmentation_model@v2", "seg", **SEGMENT),
            *_track_stabilize_lock("$steps.seg.predictions", vote_confidence=0.3),
        ],
        TRACKED_OUTPUTS,
    )
    previous: set[int] = set()
    votes: dict[int, list[float]] = {}
    for frame in range(4):
        metadata = {"video_identifier": "cam-15", "frame_number": frame, "frame_timestamp": frame}
        image = _upload(_shifted(sample.image_bgr, 8 * frame), video_metadata=metadata)
        [result] = _run(client, seg, workflow, image=image)
        tracked = {p["tracker_id"]: p for p in result["tracked"]["predictions"]}
        stable = {p["tracker_id"]: p for p in result["stable"]["predictions"]}
        assert set(stable) == set(tracked)
        for track_id, raw in tracked.items():
            # Halfway between this frame's box and the last one's: 4 px behind once moving
            # (a track new in this frame has nothing to be blended with).
            lag = raw["x"] - stable[track_id]["x"]
            assert lag == pytest.approx(4 if track_id in previous else 0, abs=1.5)
        previous = set(tracked)
        locked = result["locked"]["predictions"]
        raw_predictions = result["tracked"]["predictions"]
        assert [p["class"] for p in locked] == [p["class"] for p in raw_predictions]
        for raw, lock in zip(raw_predictions, locked, strict=True):
            track_votes = votes.setdefault(raw["tracker_id"], [])
            if raw["confidence"] >= 0.3:
                track_votes.append(raw["confidence"])
            # Locked by its 2nd vote: from then on the mean of those 2 votes (no more are
            # counted for the locked class).
            expected = np.mean(track_votes[:2]) if len(track_votes) >= 2 else raw["confidence"]
            assert lock["confidence"] == pytest.approx(expected, abs=1e-6)


def test_stabilizer_and_class_lock_in_a_stream_pipeline(client: TestClient, seg: Tenant) -> None:
    """A square moving 4 px a frame through the stream API: the stabilized box is halfway
    between the tracked box of the frame and of the frame before; the class stays locked."""
    inputs = [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowVideoMetadata", "name": "video_metadata"},
    ]
    workflow = definition(
        [
            step(
                "roboflow_object_detection_model@v2",
                "det",
                images="$inputs.image",
                model_id=DETECTOR,
                confidence=0.5,
            ),
            *_track_stabilize_lock("$steps.det.predictions", vote_confidence=0.5),
        ],
        TRACKED_OUTPUTS,
        inputs=inputs,
    )
    response = client.post(
        "/inference_pipelines/initialise",
        json={
            "api_key": seg.key,
            "video_configuration": {
                "type": "VideoConfiguration",
                "video_reference": "square.mp4",
                "source_buffer_filling_strategy": "WAIT",
                "source_buffer_consumption_strategy": "LAZY",
            },
            "processing_configuration": {
                "type": "WorkflowConfiguration",
                "workflow_specification": workflow,
            },
            "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": 64},
        },
    )
    assert response.status_code == 200, response.text
    results = drain(client, seg.key, str(response.json()["context"]["pipeline_id"]))
    assert len(results) == 12
    previous_x = None
    votes: list[float] = []
    for output, _frame in results:
        [tracked] = output["tracked"]["predictions"]
        [stable] = output["stable"]["predictions"]
        [locked] = output["locked"]["predictions"]
        assert stable["tracker_id"] == tracked["tracker_id"] == locked["tracker_id"]
        # Halfway between the last frame's box and this one's (the first frame as it is).
        expected = tracked["x"] if previous_x is None else (previous_x + tracked["x"]) / 2
        assert stable["x"] == pytest.approx(expected, abs=0.01)
        assert locked["class"] == "square"
        votes.append(tracked["confidence"])
        # Locked by the 2nd vote: from then on the mean of the first two votes.
        assert locked["confidence"] == pytest.approx(np.mean(votes[:2]), abs=1e-6)
        previous_x = tracked["x"]
    assert (
        results[-1][0]["tracked"]["predictions"][0]["x"]
        - results[0][0]["tracked"]["predictions"][0]["x"]
        > 30
    )  # the square did move
