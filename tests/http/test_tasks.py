"""The task routes and the legacy route's task dispatch, against fixture models of every task.

All models take a 640x480 image into a 320x320 letterboxed input (scale 0.5, padding (0, 40)):
- ``seg/1`` (Ultralytics -seg): "square" box (256, 176, 384, 304) whose mask fills it, "circle"
  box (120, 120, 200, 200) whose mask keeps only x < 160;
- ``pose/1`` (Roboflow keypoint folder): "person" box (256, 176, 384, 304) with keypoints
  nose (280, 220, 0.9), left_eye (20, -40, 0.0), right_eye (660, 520, 0.5);
- ``cls/1`` (Ultralytics -cls): probabilities cat 0.1, dog 0.7, bird 0.2;
- ``tags/1`` (Roboflow MULTICLASS): cat 0.9, dog 0.2, bird 0.6;
- ``sem/1`` (visionflow package): logits making image x < 320 "person", the rest "background";
- ``known/1`` (the shared object detection fixture).
"""

from __future__ import annotations

import base64
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pycocotools import mask as coco_mask

from tests.conftest import Tenant, jpeg_bytes
from tests.fixtures.task_models import write_task_models
from visionflow.service.services import Services

IMAGE_B64 = base64.b64encode(jpeg_bytes()).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SQUARE_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0}
CIRCLE_BOX = {"x": 160.0, "y": 160.0, "width": 80.0, "height": 80.0}
# Inclusive pixel bboxes (x1, y1, x2, y2) of the masks in accurate mode.
SQUARE_MASK = (256, 176, 383, 303)
CIRCLE_MASK = (120, 120, 159, 199)
# In fast mode polygon vertices sit on 8-px prototype cells (index x 8).
SQUARE_FAST_POLYGON = (256, 176, 376, 296)
ROUTES = {
    "object-detection": "/infer/object_detection",
    "instance-segmentation": "/infer/instance_segmentation",
    "keypoint-detection": "/infer/keypoints_detection",
    "classification": "/infer/classification",
    "semantic-segmentation": "/infer/semantic_segmentation",
}
MODEL_TASKS = {
    "known/1": "object-detection",
    "seg/1": "instance-segmentation",
    "pose/1": "keypoint-detection",
    "cls/1": "classification",
    "tags/1": "classification",
    "sem/1": "semantic-segmentation",
}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_task_models(tmp_path_factory.mktemp("task-models"))


@pytest.fixture
def models(services: Services, tenant: Tenant, model_files: dict[str, Path]) -> Tenant:
    """The tenant's workspace with one model per task registered next to ``known/1``."""
    for model_id, path in model_files.items():
        services.models.add_from_path(tenant.workspace, model_id, path)
    return tenant


def _body(tenant: Tenant, model_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "api_key": tenant.key,
        "image": {"type": "base64", "value": IMAGE_B64},
        **extra,
    }


def _post(client: TestClient, route: str, body: dict[str, Any]) -> Any:
    response = client.post(route, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _legacy(client: TestClient, tenant: Tenant, model_id: str, query: str = "") -> Any:
    return client.post(f"/{model_id}?api_key={tenant.key}{query}", content=IMAGE_B64, headers=FORM)


def _decode_rle(rle: dict[str, Any]) -> np.ndarray:
    with warnings.catch_warnings():
        # pycocotools' Cython decode trips NumPy 2's ``__array__(copy=...)`` deprecation.
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        encoded = {"size": rle["size"], "counts": rle["counts"].encode()}
        return np.asarray(coco_mask.decode(encoded), dtype=bool)


def _png(data: str) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return np.asarray(decoded)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return int(decoded.shape[1]), int(decoded.shape[0])


def _box(prediction: dict[str, Any]) -> dict[str, float]:
    return {k: prediction[k] for k in ("x", "y", "width", "height")}


def _points_bbox(points: list[dict[str, float]]) -> tuple[float, float, float, float]:
    xs = [p["x"] for p in points]
    ys = [p["y"] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _check_segmentation(result: dict[str, Any], mask_format: str, mode: str) -> None:
    assert result["image"] == {"width": 640, "height": 480}
    square, circle = result["predictions"]
    assert (square["class"], square["class_id"], _box(square)) == ("square", 1, SQUARE_BOX)
    assert (circle["class"], circle["class_id"], _box(circle)) == ("circle", 0, CIRCLE_BOX)
    assert square["confidence"] == pytest.approx(0.9)
    for prediction in (square, circle):
        assert prediction["mask_format"] == mask_format
    if mask_format == "rle":
        assert "points" not in square
        assert square["rle"]["size"] == [480, 640]
        assert _mask_bbox(_decode_rle(square["rle"])) == SQUARE_MASK
        assert _mask_bbox(_decode_rle(circle["rle"])) == CIRCLE_MASK
    else:
        assert "rle" not in square
        expected = SQUARE_FAST_POLYGON if mode == "fast" else SQUARE_MASK
        assert _points_bbox(square["points"]) == pytest.approx(expected, abs=1)


@pytest.mark.parametrize(
    ("mask_format", "mode"),
    [
        pytest.param("polygon", "accurate", id="polygon-accurate"),
        pytest.param("polygon", "fast", id="polygon-fast"),
        pytest.param("rle", "accurate", id="rle-accurate"),
        pytest.param("rle", "fast", id="rle-fast"),
    ],
)
def test_instance_segmentation_route(
    client: TestClient, models: Tenant, mask_format: str, mode: str
) -> None:
    body = _body(
        models,
        "seg/1",
        response_mask_format=mask_format,
        mask_decode_mode=mode,
        allow_reduced_mask_resolution=True,
    )

    result = _post(client, "/infer/instance_segmentation", body)

    _check_segmentation(result, mask_format, mode)


def test_mask_decode_mode_needs_allow_reduced_mask_resolution(
    client: TestClient, models: Tenant
) -> None:
    # As on the reference: without the opt-in, masks stay at the image's resolution.
    body = _body(models, "seg/1", mask_decode_mode="fast")

    result = _post(client, "/infer/instance_segmentation", body)

    _check_segmentation(result, "polygon", "accurate")


def test_instance_segmentation_default_is_accurate_polygons(
    client: TestClient, models: Tenant
) -> None:
    result = _post(client, "/infer/instance_segmentation", _body(models, "seg/1"))

    _check_segmentation(result, "polygon", "accurate")
    assert _points_bbox(result["predictions"][1]["points"]) == CIRCLE_MASK


def test_instance_segmentation_list_of_images(client: TestClient, models: Tenant) -> None:
    small = base64.b64encode(jpeg_bytes(100, 50)).decode()
    images = [{"type": "base64", "value": IMAGE_B64}, {"type": "base64", "value": small}]

    results = _post(client, "/infer/instance_segmentation", _body(models, "seg/1", image=images))

    assert [r["image"] for r in results] == [
        {"width": 640, "height": 480},
        {"width": 100, "height": 50},
    ]
    # 100x50: scale 3.2, padding (0, 80): square box (40, 15, 60, 35).
    assert _box(results[1]["predictions"][0]) == {
        "x": 50.0,
        "y": 25.0,
        "width": 20.0,
        "height": 20.0,
    }
    assert _points_bbox(results[1]["predictions"][0]["points"]) == pytest.approx(
        (40, 15, 59, 34), abs=1
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            {},
            [("nose", 0, 280.0, 220.0, 0.9), ("right_eye", 2, 660.0, 520.0, 0.5)],
            id="default-drops-zero-confidence",
        ),
        pytest.param(
            {"keypoint_confidence": 0.5},
            [("nose", 0, 280.0, 220.0, 0.9)],
            id="equal-to-threshold-dropped",
        ),
        pytest.param({"keypoint_confidence": 0.95}, [], id="all-dropped"),
    ],
)
def test_keypoints_route(
    client: TestClient, models: Tenant, extra: dict[str, Any], expected: list[tuple[Any, ...]]
) -> None:
    result = _post(client, "/infer/keypoints_detection", _body(models, "pose/1", **extra))

    [person] = result["predictions"]
    assert (person["class"], _box(person)) == ("person", SQUARE_BOX)
    assert [
        (k["class"], k["class_id"], k["x"], k["y"], pytest.approx(k["confidence"]))
        for k in person["keypoints"]
    ] == expected


@pytest.mark.parametrize(
    ("route", "model_id", "extra"),
    [
        pytest.param("/infer/instance_segmentation", "seg/1", {}, id="segmentation-polygon"),
        pytest.param(
            "/infer/instance_segmentation",
            "seg/1",
            {"response_mask_format": "rle", "mask_decode_mode": "fast"},
            id="segmentation-rle",
        ),
        pytest.param("/infer/keypoints_detection", "pose/1", {}, id="keypoints"),
    ],
)
def test_nothing_above_confidence_gives_empty_predictions(
    client: TestClient, models: Tenant, route: str, model_id: str, extra: dict[str, Any]
) -> None:
    result = _post(client, route, _body(models, model_id, confidence=0.95, **extra))

    assert result["predictions"] == []
    assert result["image"] == {"width": 640, "height": 480}


@pytest.mark.parametrize(
    ("confidence", "expected", "top", "top_confidence"),
    [
        pytest.param(None, [("dog", 1, 0.7)], "dog", 0.7, id="default-0.4"),
        pytest.param(0.15, [("dog", 1, 0.7), ("bird", 2, 0.2)], "dog", 0.7, id="two-above"),
        pytest.param(0.8, [], "", 0.0, id="none-above"),
    ],
)
def test_classification_route_single_label(
    client: TestClient,
    models: Tenant,
    confidence: float | None,
    expected: list[tuple[str, int, float]],
    top: str,
    top_confidence: float,
) -> None:
    extra = {} if confidence is None else {"confidence": confidence}

    result = _post(client, "/infer/classification", _body(models, "cls/1", **extra))

    assert result["image"] == {"width": 640, "height": 480}
    assert [(p["class"], p["class_id"], p["confidence"]) for p in result["predictions"]] == expected
    assert (result["top"], result["confidence"]) == (top, top_confidence)


@pytest.mark.parametrize(
    ("confidence", "predicted"),
    [
        pytest.param(None, ["cat", "bird"], id="default-0.4"),
        pytest.param(0.6, ["cat"], id="equal-excluded"),
        pytest.param(0.95, [], id="none"),
    ],
)
def test_classification_route_multi_label(
    client: TestClient, models: Tenant, confidence: float | None, predicted: list[str]
) -> None:
    extra = {} if confidence is None else {"confidence": confidence}

    result = _post(client, "/infer/classification", _body(models, "tags/1", **extra))

    assert result["predictions"] == {
        "cat": {"confidence": pytest.approx(0.9), "class_id": 0},
        "dog": {"confidence": pytest.approx(0.2), "class_id": 1},
        "bird": {"confidence": pytest.approx(0.6), "class_id": 2},
    }
    assert result["predicted_classes"] == predicted
    assert "top" not in result


def _check_semantic(result: dict[str, Any]) -> None:
    predictions = result["predictions"]
    assert predictions["class_map"] == {"0": "background", "1": "person", "2": "sky"}
    assert predictions["present_class_ids"] == [0, 1]
    ids = _png(predictions["segmentation_mask"])
    assert ids.shape == (480, 640)
    assert (ids[240, 100], ids[240, 600], ids[0, 100]) == (1, 0, 1)
    confidence = _png(predictions["confidence_mask"])
    # Class 1: e^5 / (e^5 + 2) = 0.98670 → 251 (x 255, truncated); class 0 everywhere else has
    # 1/3, under the default confidence 0.4: the background class with confidence 0.
    assert confidence[240, 100] == int(math.exp(5) / (math.exp(5) + 2) * 255)
    assert confidence[240, 600] == 0


def test_semantic_segmentation_route(client: TestClient, models: Tenant) -> None:
    result = _post(client, "/infer/semantic_segmentation", _body(models, "sem/1"))

    assert result["image"] == {"width": 640, "height": 480}
    _check_semantic(result)


@pytest.mark.parametrize(
    "confidence",
    [
        pytest.param(1.5, id="above-one"),
        pytest.param(-0.1, id="negative"),
        pytest.param(3.4028235677973366e38, id="past-float32"),
    ],
)
@pytest.mark.parametrize("model_id", [*MODEL_TASKS])
def test_confidence_outside_zero_to_one_is_a_400_on_every_task(
    client: TestClient, models: Tenant, model_id: str, confidence: float
) -> None:
    route = ROUTES[MODEL_TASKS[model_id]]
    response = client.post(route, json=_body(models, model_id, confidence=confidence))

    assert response.status_code == 400, response.text
    assert "confidence must be within [0, 1]" in response.json()["message"]


def _check_keypoints_legacy(result: dict[str, Any]) -> None:
    [person] = result["predictions"]
    assert [k["class"] for k in person["keypoints"]] == ["nose"]


def _check_classification_legacy(result: dict[str, Any]) -> None:
    # confidence=15 is the percent form of 0.15.
    assert [p["class"] for p in result["predictions"]] == ["dog", "bird"]
    assert result["top"] == "dog"


def _check_multilabel_legacy(result: dict[str, Any]) -> None:
    assert result["predicted_classes"] == ["cat"]


@pytest.mark.parametrize(
    ("model_id", "query", "check"),
    [
        pytest.param(
            "seg/1",
            "",
            lambda r: _check_segmentation(r, "polygon", "accurate"),
            id="segmentation-defaults",
        ),
        pytest.param(
            "seg/1",
            "&mask_decode_mode=fast&response_mask_format=rle&allow_reduced_mask_resolution=true",
            lambda r: _check_segmentation(r, "rle", "fast"),
            id="segmentation-fast-rle",
        ),
        pytest.param(
            "seg/1",
            "&mask_decode_mode=fast&allow_reduced_mask_resolution=true",
            lambda r: _check_segmentation(r, "polygon", "fast"),
            id="segmentation-fast-polygon",
        ),
        pytest.param(
            "seg/1",
            "&mask_decode_mode=tradeoff&tradeoff_factor=1",
            lambda r: _check_segmentation(r, "polygon", "accurate"),
            id="segmentation-tradeoff-1-is-accurate",
        ),
        pytest.param("pose/1", "&keypoint_confidence=0.5", _check_keypoints_legacy, id="keypoints"),
        pytest.param("cls/1", "&confidence=15", _check_classification_legacy, id="classification"),
        pytest.param("tags/1", "&confidence=0.6", _check_multilabel_legacy, id="multi-label"),
        pytest.param("sem/1", "", _check_semantic, id="semantic"),
    ],
)
def test_legacy_route_dispatches_by_task(
    client: TestClient,
    models: Tenant,
    model_id: str,
    query: str,
    check: Callable[[dict[str, Any]], None],
) -> None:
    response = _legacy(client, models, model_id, query)

    assert response.status_code == 200, response.text
    result = response.json()
    assert "visualization" not in result
    check(result)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("&mask_decode_mode=slow", "mask_decode_mode", id="bad-mode"),
        pytest.param("&response_mask_format=png", "response_mask_format", id="bad-format"),
        pytest.param("&tradeoff_factor=2", "tradeoff_factor", id="bad-factor"),
    ],
)
def test_legacy_segmentation_rejects_bad_mask_options(
    client: TestClient, models: Tenant, query: str, message: str
) -> None:
    response = _legacy(client, models, "seg/1", query)

    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize("model_id", list(MODEL_TASKS))
def test_legacy_format_image_is_a_jpeg_of_the_image(
    client: TestClient, models: Tenant, model_id: str
) -> None:
    response = _legacy(client, models, model_id, "&format=image&labels=true")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert _jpeg_size(response.content) == (640, 480)


@pytest.mark.parametrize("model_id", list(MODEL_TASKS))
def test_legacy_format_image_and_json(client: TestClient, models: Tenant, model_id: str) -> None:
    response = _legacy(client, models, model_id, "&format=image_and_json")

    assert response.status_code == 200, response.text
    result = response.json()
    assert "predictions" in result
    assert _jpeg_size(base64.b64decode(result["visualization"])) == (640, 480)


@pytest.mark.parametrize("model_id", list(MODEL_TASKS))
def test_visualize_predictions_gives_a_decodable_jpeg(
    client: TestClient, models: Tenant, model_id: str
) -> None:
    route = ROUTES[MODEL_TASKS[model_id]]

    result = _post(client, route, _body(models, model_id, visualize_predictions=True))

    assert _jpeg_size(base64.b64decode(result["visualization"])) == (640, 480)


def test_visualization_absent_unless_asked(client: TestClient, models: Tenant) -> None:
    for model_id, task in MODEL_TASKS.items():
        result = _post(client, ROUTES[task], _body(models, model_id))
        assert "visualization" not in result, model_id


def test_model_registry_reports_each_task(client: TestClient, models: Tenant) -> None:
    empty = client.get(f"/model/registry?api_key={models.key}")
    for model_id in MODEL_TASKS:
        added = client.post("/model/add", json={"model_id": model_id, "api_key": models.key})
        assert added.status_code == 200, added.text

    response = client.get(f"/model/registry?api_key={models.key}")

    assert empty.json()["models"] == []
    assert response.status_code == 200
    described = {m["model_id"]: m for m in response.json()["models"]}
    assert set(described) == set(MODEL_TASKS)
    for model_id, task in MODEL_TASKS.items():
        assert described[model_id]["task_type"] == task
        assert described[model_id]["request_paths"] == [ROUTES[task]]
    assert (described["cls/1"]["input_width"], described["cls/1"]["input_height"]) == (224, 224)
    assert (described["seg/1"]["input_width"], described["seg/1"]["input_height"]) == (320, 320)


@pytest.mark.parametrize(
    ("model_id", "route"),
    [
        pytest.param("seg/1", "/infer/object_detection", id="segmentation-to-detection"),
        pytest.param("known/1", "/infer/instance_segmentation", id="detection-to-segmentation"),
        pytest.param("pose/1", "/infer/object_detection", id="keypoints-to-detection"),
        pytest.param("cls/1", "/infer/semantic_segmentation", id="classification-to-semantic"),
        pytest.param("sem/1", "/infer/classification", id="semantic-to-classification"),
        pytest.param("tags/1", "/infer/keypoints_detection", id="multilabel-to-keypoints"),
    ],
)
def test_model_sent_to_another_tasks_route_names_the_right_route(
    client: TestClient, models: Tenant, model_id: str, route: str
) -> None:
    response = client.post(route, json=_body(models, model_id))

    assert response.status_code == 400
    message = response.json()["message"]
    assert MODEL_TASKS[model_id] in message
    assert ROUTES[MODEL_TASKS[model_id]] in message
