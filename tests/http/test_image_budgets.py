"""The image budgets of one request on every route that takes images: at most
``VISIONFLOW_MAX_IMAGES_PER_REQUEST`` images and ``VISIONFLOW_MAX_REQUEST_PIXELS`` decoded pixels
together (413s naming the setting, before any image is decoded), and the drawing and number
parameters that are checked at the door (stroke width, finite floats)."""

from __future__ import annotations

import base64
import json
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
from visionflow.config import Settings
from visionflow.service import images as images_module
from visionflow.service.services import Services

MAX_IMAGES = 3
MAX_REQUEST_PIXELS = 1000  # two 20x20 images fit (800 px), a third does not (1200 px)


def png(width: int, height: int) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", np.full((height, width, 3), 90, dtype=np.uint8))
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


SMALL = png(20, 20)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", register_demo_models=False).with_overrides(
        max_images_per_request=MAX_IMAGES, max_request_pixels=MAX_REQUEST_PIXELS
    )


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_task_models(tmp_path_factory.mktemp("budget-models"))


@pytest.fixture
def everything(
    services: Services, world: Tenant, clip_tenant: Tenant, model_files: dict[str, Path]
) -> Tenant:
    """One workspace with a model of every task, CLIP, YOLO-World and a stored workflow."""
    for model_id, path in model_files.items():
        services.models.add_from_path(world.workspace, model_id, path)
    services.workflows.save(world.workspace, "two-inputs", TWO_INPUTS)
    return world


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes of the images decoded, in order."""
    calls: list[tuple[int, int]] = []
    real = images_module.decode_with_header

    def recording(data: bytes, header: Any) -> np.ndarray:
        calls.append(header.size_wh)
        return real(data, header)

    monkeypatch.setattr(images_module, "decode_with_header", recording)
    return calls


# A workflow of two image inputs (the second one optional in use), and no steps.
TWO_INPUTS = definition(
    [],
    {"first": "$inputs.image", "second": "$inputs.other"},
    inputs=[{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowImage", "name": "other"}],
)
ONE_INPUT = definition([], {"first": "$inputs.image"})

Body = Callable[[Tenant, list[dict[str, str]]], tuple[str, dict[str, Any]]]


def task(route: str, model_id: str) -> Body:
    return lambda t, images: (route, {"api_key": t.key, "model_id": model_id, "image": images})


def keyed(route: str, **extra: Any) -> Body:
    return lambda t, images: (route, {"api_key": t.key, "image": images, **extra})


def workflow_run(t: Tenant, images: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
    body = {"api_key": t.key, "specification": ONE_INPUT, "inputs": {"image": images}}
    return "/workflows/run", body


def stored_workflow(t: Tenant, images: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
    # The images split over two inputs: a batch of one and the rest, all in one budget.
    inputs = {"image": images[:1], "other": images[1:] if len(images) > 2 else images[1]}
    return f"/{t.workspace}/workflows/two-inputs", {"api_key": t.key, "inputs": inputs}


def clip_compare(t: Tenant, images: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
    body = {
        "api_key": t.key,
        "subject": images[0],
        "subject_type": "image",
        "prompt": images[1:],
        "prompt_type": "image",
    }
    return "/clip/compare", body


ROUTES = [
    pytest.param(task("/infer/object_detection", "known/1"), id="object-detection"),
    pytest.param(task("/infer/instance_segmentation", "seg/1"), id="instance-segmentation"),
    pytest.param(task("/infer/keypoints_detection", "pose/1"), id="keypoints"),
    pytest.param(task("/infer/classification", "cls/1"), id="classification"),
    pytest.param(task("/infer/semantic_segmentation", "sem/1"), id="semantic-segmentation"),
    pytest.param(keyed("/clip/embed_image"), id="clip-embed-image"),
    pytest.param(clip_compare, id="clip-compare"),
    pytest.param(keyed("/doctr/ocr"), id="doctr"),
    pytest.param(keyed("/easy_ocr/ocr"), id="easy-ocr"),
    pytest.param(keyed("/ocr/trocr"), id="trocr"),
    pytest.param(keyed("/ocr/pp-ocr"), id="pp-ocr"),
    pytest.param(keyed("/yolo_world/infer", text=["square"]), id="yolo-world"),
    pytest.param(workflow_run, id="workflow-run"),
    pytest.param(stored_workflow, id="stored-workflow"),
]


@pytest.mark.parametrize("body", ROUTES)
def test_too_many_images_are_a_413(
    client: TestClient, everything: Tenant, body: Body, decoded: list[tuple[int, int]]
) -> None:
    path, payload = body(everything, [SMALL] * (MAX_IMAGES + 1))

    response = client.post(path, json=payload)

    assert response.status_code == 413, response.text
    assert f"over the limit of {MAX_IMAGES} images per request" in response.json()["message"]
    assert "VISIONFLOW_MAX_IMAGES_PER_REQUEST" in response.json()["message"]
    assert decoded == []


@pytest.mark.parametrize("body", ROUTES)
def test_images_over_the_request_pixels_are_a_413_before_any_decodes(
    client: TestClient, everything: Tenant, body: Body, decoded: list[tuple[int, int]]
) -> None:
    path, payload = body(everything, [SMALL] * MAX_IMAGES)

    response = client.post(path, json=payload)

    assert response.status_code == 413, response.text
    message = response.json()["message"]
    assert f"over the limit of {MAX_REQUEST_PIXELS} decoded pixels per request" in message
    assert "VISIONFLOW_MAX_REQUEST_PIXELS" in message
    assert decoded == []


@pytest.mark.parametrize("body", ROUTES)
def test_images_within_the_budget_are_served(
    client: TestClient, everything: Tenant, body: Body, decoded: list[tuple[int, int]]
) -> None:
    path, payload = body(everything, [SMALL, SMALL])

    response = client.post(path, json=payload)

    assert response.status_code == 200, response.text
    assert decoded == [(20, 20), (20, 20)]


@pytest.mark.parametrize(
    ("image", "setting"),
    [
        pytest.param(png(40, 40), "VISIONFLOW_MAX_REQUEST_PIXELS", id="over-the-request-budget"),
        pytest.param(png(20, 20), None, id="within"),
    ],
)
def test_the_legacy_route_has_the_request_budget(
    client: TestClient, everything: Tenant, image: dict[str, str], setting: str | None
) -> None:
    response = client.post(
        f"/known/1?api_key={everything.key}",
        content=image["value"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    if setting is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 413, response.text
    assert setting in response.json()["message"]


def test_a_workflow_image_that_is_no_image_names_its_input(
    client: TestClient, everything: Tenant, decoded: list[tuple[int, int]]
) -> None:
    inputs = {"image": [SMALL], "other": [SMALL, {"type": "base64", "value": "bm90IGFuIGltYWdl"}]}
    response = client.post(
        f"/{everything.workspace}/workflows/two-inputs",
        json={"api_key": everything.key, "inputs": inputs},
    )

    assert response.status_code == 400, response.text
    assert "Workflow input 'other'" in response.json()["message"]
    assert "not an image in a supported format" in response.json()["message"]
    assert decoded == [(20, 20), (20, 20)]  # the images before it


# -- drawing and number parameters ---------------------------------------------------------------

TASK_MODELS = {
    "/infer/object_detection": "known/1",
    "/infer/instance_segmentation": "seg/1",
    "/infer/keypoints_detection": "pose/1",
    "/infer/classification": "cls/1",
    "/infer/semantic_segmentation": "sem/1",
}
# The float fields of each task route's body.
TASK_FLOATS = {
    "/infer/object_detection": ["confidence", "iou_threshold"],
    "/infer/instance_segmentation": ["confidence", "iou_threshold", "tradeoff_factor"],
    "/infer/keypoints_detection": ["confidence", "iou_threshold", "keypoint_confidence"],
    "/infer/classification": ["confidence"],
    "/infer/semantic_segmentation": ["confidence"],
}
NOT_FINITE = ["NaN", "Infinity", "-Infinity"]


def post_raw(client: TestClient, path: str, body: dict[str, Any], field: str, raw: str) -> Any:
    """POST ``body`` with ``field``'s JSON text being ``raw`` as is (``NaN`` is no JSON value,
    so it cannot be sent through ``json=``)."""
    text = json.dumps({**body, field: "__RAW__"}).replace('"__RAW__"', raw)
    return client.post(path, content=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "field", "raw"),
    [
        pytest.param(path, field, raw, id=f"{path.rsplit('/', 1)[-1]}-{field}-{raw}")
        for path, fields in TASK_FLOATS.items()
        for field in fields
        for raw in NOT_FINITE
    ],
)
def test_floats_that_are_not_finite_are_a_422(
    client: TestClient, everything: Tenant, path: str, field: str, raw: str
) -> None:
    body = {"api_key": everything.key, "model_id": TASK_MODELS[path], "image": SMALL}

    response = post_raw(client, path, body, field, raw)

    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert "finite" in response.json()["message"]


@pytest.mark.parametrize("raw", NOT_FINITE)
def test_yolo_world_confidence_that_is_not_finite_is_a_422(
    client: TestClient, everything: Tenant, raw: str
) -> None:
    body = {"api_key": everything.key, "image": SMALL, "text": ["square"]}

    response = post_raw(client, "/yolo_world/infer", body, "confidence", raw)

    assert response.status_code == 422, response.text
    assert "confidence" in response.json()["message"]


@pytest.mark.parametrize("path", list(TASK_MODELS))
@pytest.mark.parametrize(
    ("width", "status"),
    [
        pytest.param(100_000, 422, id="100000"),
        pytest.param(1001, 422, id="just-over"),
        pytest.param(-1, 422, id="negative"),
        pytest.param(1000, 200, id="the-widest"),
        pytest.param(0, 200, id="zero"),
    ],
)
def test_the_stroke_width_is_checked(
    client: TestClient, everything: Tenant, path: str, width: int, status: int
) -> None:
    body = {
        "api_key": everything.key,
        "model_id": TASK_MODELS[path],
        "image": SMALL,
        "visualize_predictions": True,
        "visualization_stroke_width": width,
    }

    response = client.post(path, json=body)

    assert response.status_code == status, response.text
    if status != 200:
        assert "visualization_stroke_width" in response.json()["message"]


@pytest.mark.parametrize("model_id", list(TASK_MODELS.values()))
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        pytest.param("format=image&stroke=100000", "stroke=100000 is out of range", id="stroke"),
        pytest.param("format=image_and_json&stroke=-1", "stroke=-1 is out of range", id="neg"),
        pytest.param("format=image&stroke=99999999999999999999", "out of range", id="huge"),
        pytest.param("confidence=nan", "confidence='nan'", id="confidence-nan"),
        pytest.param("confidence=inf", "confidence='inf'", id="confidence-inf"),
        pytest.param("confidence=-Infinity", "confidence='-Infinity'", id="confidence-minus-inf"),
        pytest.param("confidence=", None, id="empty-confidence"),
        pytest.param("format=image&stroke=1000", None, id="the-widest-stroke"),
    ],
)
def test_the_legacy_query_is_checked(
    client: TestClient, everything: Tenant, model_id: str, query: str, fragment: str | None
) -> None:
    response = client.post(
        f"/{model_id}?api_key={everything.key}&{query}",
        content=SMALL["value"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    if fragment is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


@pytest.mark.parametrize("model_id", ["known/1", "seg/1", "pose/1"])
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf"])
def test_the_legacy_overlap_is_finite(
    client: TestClient, everything: Tenant, model_id: str, raw: str
) -> None:
    response = client.post(
        f"/{model_id}?api_key={everything.key}&overlap={raw}",
        content=SMALL["value"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 400, response.text
    assert f"overlap={raw!r}" in response.json()["message"]
