"""Block versions no other test runs, end to end through ``POST /workflows/run`` on the shipped
demo models (shapes detector, segmenter, classifier and corner-keypoint model) and, for
multi-label classification, the fixture ``tags/1`` (cat 0.9, dog 0.2, bird 0.6): each case checks
what the block computed against the rendered image's ground truth, not just the status."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.task_models import write_task_models
from tests.workflows.fakes import definition
from visionflow.service.demo import demo_model_path
from visionflow.service.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

# triangle (416, 43, 512, 127), square (15, 28, 99, 112), circles (246, 35, 324, 112) and
# (99, 66, 217, 184) on a 640 x 480 image.
SAMPLE = shapes.generate(seed=4203, count=1, size_wh=(640, 480))[0]
TRUTH = [
    (shapes.CLASS_NAMES[int(c)], box) for c, box in zip(SAMPLE.class_id, SAMPLE.xyxy, strict=True)
]


def _encode(image_bgr: np.ndarray) -> dict[str, str]:
    ok, png = cv2.imencode(".png", image_bgr)
    assert ok
    return {"type": "base64", "value": base64.b64encode(png.tobytes()).decode()}


IMAGE = _encode(SAMPLE.image_bgr)


@pytest.fixture
def demo(services: Services, tenant: Tenant, tmp_path: Path) -> Tenant:
    for model_id, file_name in (
        ("shapes/1", "shapes-det.onnx"),
        ("shapes-seg/1", "shapes-seg.onnx"),
        ("shapes-cls/1", "shapes-cls.onnx"),
        ("keypoints/1", "shapes-pose"),
    ):
        services.models.add_from_path(tenant.workspace, model_id, demo_model_path(file_name))
    tags = write_task_models(tmp_path)["tags/1"]
    services.models.add_from_path(tenant.workspace, "tags/1", tags)
    return tenant


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


def run(
    client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any = IMAGE
) -> dict[str, Any]:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    return dict(output)


def _decode(body: dict[str, Any]) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(body["value"]), np.uint8), 1)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.int16)


def _xyxy(prediction: dict[str, Any]) -> np.ndarray:
    x, y, w, h = (prediction[key] for key in ("x", "y", "width", "height"))
    return np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    left, top = np.maximum(a[:2], b[:2])
    right, bottom = np.minimum(a[2:], b[2:])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return float(inter / (area - inter))


def _matches_truth(predictions: list[dict[str, Any]]) -> None:
    """One prediction per ground-truth shape, of its class, overlapping it (IoU > 0.8)."""
    assert len(predictions) == len(TRUTH)
    for name, box in TRUTH:
        best = max(predictions, key=lambda p: _iou(_xyxy(p), box))
        assert (best["class"], _iou(_xyxy(best), box) > 0.8) == (name, True)


# -- checks, one per case -------------------------------------------------------------------------


def _drawn_on_outlines(output: dict[str, Any]) -> None:
    """polygon_visualization: the outlines of the predicted polygons are drawn (the pixels
    under them change), the background far from every shape is left as it was."""
    drawn, source = _decode(output["image"]), _decode(output["source"])
    difference = np.abs(drawn - source).sum(axis=2)
    predictions = output["predictions"]["predictions"]
    _matches_truth(predictions)
    for prediction in predictions:
        points = np.array([[p["x"], p["y"]] for p in prediction["points"]], dtype=int)
        on_outline = difference[points[:, 1].clip(0, 479), points[:, 0].clip(0, 639)]
        assert np.median(on_outline) > 60, prediction["class"]
    assert difference[400:470, 300:630].max() < 40  # no shape in the lower right


def _halo_around_masks(output: dict[str, Any]) -> None:
    """halo_visualization@v2: a glow just outside each mask, nothing far from the shapes."""
    drawn, source = _decode(output["image"]), _decode(output["source"])
    difference = np.abs(drawn - source).sum(axis=2)
    _matches_truth(output["predictions"]["predictions"])
    for _name, box in TRUTH:
        left, top, right, bottom = box.astype(int)
        ring = np.concatenate(
            [
                difference[top:bottom, max(left - 6, 0) : left],
                difference[top:bottom, right : right + 6],
            ],
            axis=1,
        )
        assert ring.mean() > 5
    assert difference[400:470, 300:630].max() < 40


def _slices_cover_and_stitch(output: dict[str, Any]) -> None:
    """image_slicer@v1: 320 x 240 tiles with 20 % overlap cover the 640 x 480 image; detections
    made on the tiles, stitched back, find every shape where it is."""
    origins = [tile["root_parent_origin"] for tile in output["slices"]]
    covered = np.zeros((480, 640), bool)
    for tile, origin in zip(output["slices"], origins, strict=True):
        height, width = _decode(tile).shape[:2]
        assert (origin["width"], origin["height"]) == (640, 480)  # the image it was cut from
        x, y = origin["offset_x"], origin["offset_y"]
        # Full tiles, or tiles cut short by the image's right or bottom edge.
        assert (width, height) == (min(320, 640 - x), min(240, 480 - y))
        covered[y : y + height, x : x + width] = True
    assert covered.all()
    xs = sorted({o["offset_x"] for o in origins})
    assert xs[1] - xs[0] == 256  # stride = 320 - 20 % overlap
    _matches_truth(output["stitched"]["predictions"])


def _time_in_zone(outputs: list[dict[str, Any]]) -> None:
    """time_in_zone@v2 on three frames 1 s apart: shapes whose centre is in the zone (the upper
    left quarter: the square and one circle) accumulate 0, 1, 2 s; the others are removed."""
    in_zone = sorted(
        name for name, box in TRUTH if (box[0] + box[2]) / 2 < 320 and (box[1] + box[3]) / 2 < 240
    )
    for seconds, output in enumerate(outputs):
        timed = output["timed"]["predictions"]
        assert sorted(p["class"] for p in timed) == in_zone
        assert [p["time_in_zone"] for p in timed] == [float(seconds)] * len(in_zone)
        assert all(isinstance(p["tracker_id"], int) for p in timed)


def _crops_classified(output: dict[str, Any]) -> None:
    """roboflow_classification_model@v3 on dynamic crops of the detections: every crop's top
    class is the class of the shape it shows."""
    detections = output["detections"]["predictions"]
    _matches_truth(detections)
    classes = output["classes"]
    assert len(classes) == len(detections)
    for detection, result in zip(detections, classes, strict=True):
        assert result["top"] == detection["class"]
        assert result["confidence"] > 0.5
        assert result["parent_id"] == detection["detection_id"]
        assert isinstance(result["inference_id"], str)
        assert result["time"] > 0


def _square_corners(output: dict[str, Any]) -> None:
    """roboflow_keypoint_detection_model@v1: the square's keypoints sit on its corners."""
    assert set(output) == {"predictions", "id"}  # v1 has no model_id output
    predictions = output["predictions"]["predictions"]
    _matches_truth(predictions)
    [square] = [p for p in predictions if p["class"] == "square"]
    [truth] = [i for i, (name, _box) in enumerate(TRUTH) if name == "square"]
    corners = SAMPLE.keypoints[truth]
    found = np.array([[k["x"], k["y"]] for k in square["keypoints"]])
    size = SAMPLE.xyxy[truth, 2] - SAMPLE.xyxy[truth, 0]
    errors = [np.linalg.norm(found - corner, axis=1).min() for corner in corners[:, :2]]
    # The demo model's corner error averages 0.10 of the box size (test_demo_tasks_accuracy).
    assert (len(found), np.mean(errors) < 0.15 * size, max(errors) < 0.2 * size) == (4, True, True)


def _tags(expected: list[str], with_model_id: bool) -> Callable[[dict[str, Any]], None]:
    def check(output: dict[str, Any]) -> None:
        predictions = output["predictions"]
        assert predictions["predicted_classes"] == expected
        assert predictions["predictions"]["cat"] == {
            "confidence": pytest.approx(0.9),
            "class_id": 0,
        }
        assert predictions["prediction_type"] == "classification"
        assert predictions["inference_id"] == output["id"]
        assert predictions["time"] > 0
        assert ("model" in output) == with_model_id

    return check


DETECT = step(
    "roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="shapes/1"
)
SEGMENT = step(
    "roboflow_instance_segmentation_model@v2",
    "seg",
    images="$inputs.image",
    model_id="shapes-seg/1",
)


def _visualization(block: str, **fields: Any) -> dict[str, Any]:
    return definition(
        [
            SEGMENT,
            step(
                block, "viz", image="$inputs.image", predictions="$steps.seg.predictions", **fields
            ),
        ],
        {
            "image": "$steps.viz.image",
            "source": "$inputs.image",
            "predictions": "$steps.seg.predictions",
        },
    )


SLICED = definition(
    [
        step(
            "image_slicer@v1",
            "tiles",
            image="$inputs.image",
            slice_width=320,
            slice_height=240,
            overlap_ratio_width=0.2,
            overlap_ratio_height=0.2,
        ),
        step(
            "roboflow_object_detection_model@v2",
            "det",
            images="$steps.tiles.slices",
            model_id="shapes/1",
        ),
        step(
            "detections_stitch@v1",
            "stitch",
            reference_image="$inputs.image",
            predictions="$steps.det.predictions",
        ),
    ],
    {"slices": "$steps.tiles.slices", "stitched": "$steps.stitch.predictions"},
)

CLASSIFIED_CROPS = definition(
    [
        DETECT,
        step(
            "dynamic_crop@v1", "crop", images="$inputs.image", predictions="$steps.det.predictions"
        ),
        step(
            "roboflow_classification_model@v3",
            "cls",
            images="$steps.crop.crops",
            model_id="shapes-cls/1",
            confidence_mode="custom",
            custom_confidence=0.3,
        ),
    ],
    [
        {"type": "JsonField", "name": "detections", "selector": "$steps.det.predictions"},
        {"type": "JsonField", "name": "classes", "selector": "$steps.cls.predictions"},
    ],
)

KEYPOINTS = definition(
    [
        step(
            "roboflow_keypoint_detection_model@v1",
            "pose",
            images="$inputs.image",
            model_id="keypoints/1",
            keypoint_confidence=0.3,
        )
    ],
    {"predictions": "$steps.pose.predictions", "id": "$steps.pose.inference_id"},
)


def _multi_label(block: str, **fields: Any) -> dict[str, Any]:
    outputs = {"predictions": "$steps.tags.predictions", "id": "$steps.tags.inference_id"}
    if block.endswith("@v3"):
        outputs["model"] = "$steps.tags.model_id"
    return definition(
        [step(block, "tags", images="$inputs.image", model_id="tags/1", **fields)], outputs
    )


@pytest.mark.parametrize(
    ("workflow", "check"),
    [
        pytest.param(
            _visualization("polygon_visualization@v1", thickness=3),
            _drawn_on_outlines,
            id="polygon_visualization@v1",
        ),
        pytest.param(
            _visualization("halo_visualization@v2", opacity=0.8, kernel_size=15),
            _halo_around_masks,
            id="halo_visualization@v2",
        ),
        pytest.param(SLICED, _slices_cover_and_stitch, id="image_slicer@v1"),
        pytest.param(CLASSIFIED_CROPS, _crops_classified, id="roboflow_classification_model@v3"),
        pytest.param(KEYPOINTS, _square_corners, id="roboflow_keypoint_detection_model@v1"),
        pytest.param(
            _multi_label("roboflow_multi_label_classification_model@v1"),
            _tags(["cat", "bird"], with_model_id=False),
            id="roboflow_multi_label_classification_model@v1",
        ),
        pytest.param(
            _multi_label(
                "roboflow_multi_label_classification_model@v3",
                confidence_mode="custom",
                custom_confidence=0.7,
            ),
            _tags(["cat"], with_model_id=True),
            id="roboflow_multi_label_classification_model@v3",
        ),
    ],
)
def test_block_on_demo_models(
    client: TestClient,
    demo: Tenant,
    workflow: dict[str, Any],
    check: Callable[[dict[str, Any]], None],
) -> None:
    check(run(client, demo, workflow))


def test_time_in_zone_v2_on_demo_frames(client: TestClient, demo: Tenant) -> None:
    workflow = definition(
        [
            DETECT,
            step(
                "byte_tracker@v3",
                "track",
                image="$inputs.image",
                detections="$steps.det.predictions",
            ),
            step(
                "time_in_zone@v2",
                "zone",
                image="$inputs.image",
                detections="$steps.track.tracked_detections",
                zone=[[0, 0], [320, 0], [320, 240], [0, 240]],
            ),
        ],
        {"timed": "$steps.zone.timed_detections"},
    )
    frames = [
        {
            **IMAGE,
            "video_metadata": {
                "video_identifier": "demo-camera",
                "frame_number": number,
                "frame_timestamp": f"2024-05-01T10:00:0{number}+00:00",
                "fps": 1.0,
            },
        }
        for number in range(3)
    ]
    _time_in_zone([run(client, demo, workflow, frame) for frame in frames])


def test_a_definition_written_for_the_reference_runs_unchanged(
    client: TestClient, demo: Tenant
) -> None:
    """Legacy block aliases with ``image`` for ``images``, as older Roboflow definitions have it
    (``AliasChoices("images", "image")`` in the reference)."""
    workflow = definition(
        [
            {
                "type": "ObjectDetectionModel",
                "name": "det",
                "image": "$inputs.image",
                "model_id": "shapes/1",
            },
            {
                "type": "Crop",
                "name": "crop",
                "image": "$inputs.image",
                "predictions": "$steps.det.predictions",
            },
            {
                "type": "ClassificationModel",
                "name": "cls",
                "image": "$steps.crop.crops",
                "model_id": "shapes-cls/1",
            },
        ],
        {"detections": "$steps.det.predictions", "classes": "$steps.cls.predictions"},
    )
    _crops_classified(run(client, demo, workflow))
