"""Every modern export layout registered through the importer and answered by ``/infer/*`` and
the legacy route (``tests/fixtures/export_graphs.write_export_models``).

Each model answers one "square" for the 640x480 test image: the YOLO layouts the box (256, 176,
384, 304) → centre (320, 240), 128x128; the DETR layouts (stretched) (256, 192, 384, 288) →
centre (320, 240), 128x96.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from tests.fixtures.export_graphs import write_export_models
from visionflow.service.services import Services

IMAGE_B64 = base64.b64encode(jpeg_bytes()).decode()
YOLO_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0}
DETR_BOX = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 96.0}
ROUTES = {
    "object-detection": "/infer/object_detection",
    "instance-segmentation": "/infer/instance_segmentation",
    "keypoint-detection": "/infer/keypoints_detection",
}
ARCHITECTURES = {
    "yolo26-e2e/1": "yolo-end2end",
    "yolov10-e2e/1": "yolo-end2end",
    "yolov8-nms/1": "yolo-end2end",
    "yolo26-o2m/1": "yolov8",
    "rtdetr/1": "rtdetr",
    "rfdetr/1": "rfdetr",
    "rfdetr-seg/1": "rfdetr-seg",
    "yolo26-seg-e2e/1": "yolo-end2end-seg",
    "yolo26-pose-e2e/1": "yolo-end2end-pose",
}
DETECTORS = [
    pytest.param("yolo26-e2e/1", YOLO_BOX, id="yolo26-end2end"),
    pytest.param("yolov10-e2e/1", YOLO_BOX, id="yolov10-end2end"),
    pytest.param("yolov8-nms/1", YOLO_BOX, id="yolov8-embedded-nms"),
    pytest.param("yolo26-o2m/1", YOLO_BOX, id="yolo26-one-to-many"),
    pytest.param("rtdetr/1", DETR_BOX, id="rtdetr"),
    pytest.param("rfdetr/1", DETR_BOX, id="rfdetr"),
]


@pytest.fixture(scope="module")
def export_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    return write_export_models(tmp_path_factory.mktemp("exports"))


Register = Callable[[str], Tenant]


@pytest.fixture
def register(
    services: Services, tenant: Tenant, export_files: dict[str, tuple[str, Path]]
) -> Register:
    """Registers one export (by model id) in the tenant's workspace; returns the tenant."""

    def add(model_id: str) -> Tenant:
        services.models.add_from_path(tenant.workspace, model_id, export_files[model_id][1])
        return tenant

    return add


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


def _box(prediction: dict[str, Any]) -> dict[str, float]:
    return {k: prediction[k] for k in ("x", "y", "width", "height")}


def test_every_layout_registers_with_its_architecture(
    services: Services, register: Register, export_files: dict[str, tuple[str, Path]]
) -> None:
    for model_id in export_files:
        exports = register(model_id)
    listed = {m.model_id: m for m in services.registry.list_model_versions(exports.workspace)}

    assert {model_id: listed[model_id].architecture for model_id in export_files} == ARCHITECTURES
    assert {model_id: listed[model_id].task for model_id in export_files} == {
        model_id: task for model_id, (task, _path) in export_files.items()
    }


@pytest.mark.parametrize(("model_id", "box"), DETECTORS)
def test_object_detection_route(
    client: TestClient, register: Register, model_id: str, box: dict[str, float]
) -> None:
    result = _post(client, "/infer/object_detection", _body(register(model_id), model_id))

    assert result["image"] == {"width": 640, "height": 480}
    [square] = result["predictions"]
    assert (square["class"], square["class_id"], _box(square)) == ("square", 1, box)
    assert square["confidence"] == pytest.approx(0.9, abs=1e-6)


@pytest.mark.parametrize(("model_id", "box"), DETECTORS)
@pytest.mark.parametrize(
    ("params", "count"),
    [
        pytest.param({"confidence": 0.95}, 0, id="above-every-score"),
        pytest.param({"confidence": 0.2}, 1, id="lower-threshold"),
        pytest.param({"class_filter": ["circle"]}, 0, id="class-filter-other"),
        pytest.param({"class_filter": ["square"]}, 1, id="class-filter-same"),
        pytest.param({"max_detections": 0}, 0, id="max-detections-zero"),
    ],
)
def test_object_detection_parameters(
    client: TestClient,
    register: Register,
    model_id: str,
    box: dict[str, float],
    params: dict[str, Any],
    count: int,
) -> None:
    body = _body(register(model_id), model_id, **params)

    result = _post(client, "/infer/object_detection", body)

    assert [_box(p) for p in result["predictions"]] == [box] * count


def test_low_threshold_brings_the_weak_end2end_row(client: TestClient, register: Register) -> None:
    exports = register("yolo26-e2e/1")

    # The end-to-end graphs hold a second row (0, 0, 10, 10) "circle" at 0.1.
    result = _post(
        client, "/infer/object_detection", _body(exports, "yolo26-e2e/1", confidence=0.1)
    )

    assert [p["class"] for p in result["predictions"]] == ["square", "circle"]
    assert _box(result["predictions"][1]) == {"x": 10.0, "y": 0.0, "width": 20.0, "height": 0.0}


@pytest.mark.parametrize(
    ("model_id", "box", "mask_bbox"),
    [
        # YOLO26 masks are logits kept where > 0: the enlarged edge ramp passes from its start,
        # half a grid cell (4 px) outside the box.
        pytest.param("yolo26-seg-e2e/1", YOLO_BOX, (252, 172, 387, 307), id="yolo26-seg-end2end"),
        # Grid cells 32..47 of 80 → x 256..383 (x8), y 192..287 (x6).
        pytest.param("rfdetr-seg/1", DETR_BOX, (256, 192, 383, 287), id="rfdetr-seg"),
    ],
)
@pytest.mark.parametrize("mask_format", ["polygon", "rle"])
def test_instance_segmentation_route(
    client: TestClient,
    register: Register,
    model_id: str,
    box: dict[str, float],
    mask_bbox: tuple[int, int, int, int],
    mask_format: str,
) -> None:
    exports = register(model_id)
    body = _body(exports, model_id, response_mask_format=mask_format)

    result = _post(client, "/infer/instance_segmentation", body)

    [square] = result["predictions"]
    assert (square["class"], _box(square)) == ("square", box)
    assert square["mask_format"] == mask_format
    if mask_format == "rle":
        assert square["rle"]["size"] == [480, 640]
        return
    xs = [p["x"] for p in square["points"]]
    ys = [p["y"] for p in square["points"]]
    assert (min(xs), min(ys), max(xs), max(ys)) == mask_bbox


def test_keypoints_route(client: TestClient, register: Register) -> None:
    exports = register("yolo26-pose-e2e/1")

    result = _post(client, "/infer/keypoints_detection", _body(exports, "yolo26-pose-e2e/1"))

    [person] = result["predictions"]
    assert (person["class"], _box(person)) == ("person", YOLO_BOX)
    # (140, 150), (170, 180) → (280, 220), (340, 280); the 0-confidence keypoint is dropped.
    assert [(k["class_id"], k["x"], k["y"]) for k in person["keypoints"]] == [
        (0, 280.0, 220.0),
        (2, 340.0, 280.0),
    ]


@pytest.mark.parametrize(("model_id", "box"), DETECTORS)
def test_legacy_route(
    client: TestClient, register: Register, model_id: str, box: dict[str, float]
) -> None:
    exports = register(model_id)

    response = client.post(
        f"/{model_id}?api_key={exports.key}",
        content=IMAGE_B64,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200, response.text
    [square] = response.json()["predictions"]
    assert (square["class"], _box(square)) == ("square", box)


@pytest.mark.parametrize(
    ("model_id", "route"),
    [
        pytest.param("yolo26-seg-e2e/1", "/infer/keypoints_detection", id="seg-to-keypoints"),
        pytest.param("rfdetr/1", "/infer/instance_segmentation", id="rfdetr-to-segmentation"),
    ],
)
def test_task_mismatch_is_refused(
    client: TestClient, register: Register, model_id: str, route: str
) -> None:
    exports = register(model_id)

    response = client.post(route, json=_body(exports, model_id))

    assert response.status_code == 400, response.text
