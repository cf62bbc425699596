"""Workflows over HTTP, end to end on fixture ONNX models with known outputs (see
``tests.workflows.task_models``): every phase-1 block, crops, batches, flow control, profiling,
excluded fields, error bodies, stored workflows with versions and the cache, and isolation."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from tests.fixtures.task_models import write_task_models
from tests.workflows.fakes import definition, detector
from visionflow.service.services import Services
from visionflow.workflows import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import AnySelector, StepManifest

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}
SMALL_IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes(320, 240)).decode()}
KNOWN = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0, "class": "square", "class_id": 1}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_task_models(tmp_path_factory.mktemp("workflow-models"))


@pytest.fixture
def models(services: Services, tenant: Tenant, model_files: dict[str, Path]) -> Tenant:
    for model_id, path in model_files.items():
        services.models.add_from_path(tenant.workspace, model_id, path)
    return tenant


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


def model(
    block: str, name: str, model_id: str, images: str = "$inputs.image", **fields: Any
) -> Any:
    return step(block, name, images=images, model_id=model_id, **fields)


def run(
    client: TestClient,
    tenant: Tenant,
    workflow: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    *,
    status: int = 200,
    path: str = "/workflows/run",
    **body: Any,
) -> Any:
    payload = {"api_key": tenant.key, "inputs": inputs or {"image": IMAGE}, **body}
    if "specification" not in body and path.endswith("run"):
        payload["specification"] = workflow
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    return response.json()


def _known(prediction: dict[str, Any]) -> dict[str, Any]:
    return {key: prediction[key] for key in KNOWN}


def _decode(image: dict[str, Any]) -> np.ndarray:
    assert image["type"] == "base64"
    assert image["video_metadata"]["frame_number"] == 0  # still-image defaults, never null
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(image["value"]), np.uint8), 1)
    assert decoded is not None
    return np.asarray(decoded)


# -- model blocks ---------------------------------------------------------------------------------


def test_object_detection_block(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v1", "det", "known/1")],
        {"predictions": "$steps.det.predictions", "id": "$steps.det.inference_id"},
    )
    [result] = run(client, models, workflow)["outputs"]
    assert result["predictions"]["image"] == {"width": 640, "height": 480}
    [prediction] = result["predictions"]["predictions"]
    assert _known(prediction) == KNOWN
    assert prediction["parent_id"] == "image"
    assert isinstance(result["id"], str)


def test_instance_segmentation_block(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_instance_segmentation_model@v2", "seg", "seg/1")],
        {"predictions": "$steps.seg.predictions", "model": "$steps.seg.model_id"},
    )
    [result] = run(client, models, workflow)["outputs"]
    square, circle = result["predictions"]["predictions"]
    assert (square["class"], circle["class"], result["model"]) == ("square", "circle", "seg/1")
    xs = [point["x"] for point in square["points"]]
    assert (min(xs), max(xs)) == (256.0, 383.0)
    assert "mask_format" not in square


def test_keypoint_block_drops_keypoints_under_its_threshold(
    client: TestClient, models: Tenant
) -> None:
    workflow = definition(
        [model("roboflow_keypoint_detection_model@v2", "pose", "pose/1", keypoint_confidence=0.6)],
        {"predictions": "$steps.pose.predictions"},
    )
    [result] = run(client, models, workflow)["outputs"]
    [person] = result["predictions"]["predictions"]
    assert [k["class"] for k in person["keypoints"]] == ["nose"]


@pytest.mark.parametrize(
    ("block", "model_id", "expected"),
    [
        pytest.param(
            "roboflow_classification_model@v1",
            "cls/1",
            {"top": "dog", "confidence": 0.7},
            id="single-label",
        ),
        pytest.param(
            "roboflow_multi_label_classification_model@v2",
            "tags/1",
            {"predicted_classes": ["cat", "bird"]},
            id="multi-label",
        ),
    ],
)
def test_classification_blocks(
    client: TestClient, models: Tenant, block: str, model_id: str, expected: dict[str, Any]
) -> None:
    workflow = definition(
        [
            model(block, "cls", model_id),
            step(
                "property_definition@v1",
                "top",
                data="$steps.cls.predictions",
                operations=[
                    {"type": "ClassificationPropertyExtract", "property_name": "top_class"}
                ],
            ),
        ],
        {"predictions": "$steps.cls.predictions", "top": "$steps.top.output"},
    )
    [result] = run(client, models, workflow)["outputs"]
    predictions = result["predictions"]
    assert {key: predictions[key] for key in expected} == expected
    assert (predictions["prediction_type"], predictions["parent_id"]) == ("classification", "image")
    assert predictions["image"] == {"width": 640, "height": 480}
    assert result["top"] == expected.get("top", expected.get("predicted_classes"))


def test_semantic_segmentation_block(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_semantic_segmentation_model@v1", "sem", "sem/1")],
        {"predictions": "$steps.sem.predictions"},
    )
    [result] = run(client, models, workflow)["outputs"]
    infer = client.post(
        "/infer/semantic_segmentation",
        json={"api_key": models.key, "model_id": "sem/1", "image": IMAGE},
    ).json()["predictions"]
    present = [infer["class_map"][str(i)] for i in infer["present_class_ids"] if i != 0]
    assert [p["class"] for p in result["predictions"]["predictions"]] == present
    person = result["predictions"]["predictions"][0]
    assert person["rle_mask"]["size"] == [480, 640]
    # The box is the bounding box (inclusive pixels) of the class in the /infer mask.
    mask = cv2.imdecode(
        np.frombuffer(base64.b64decode(infer["segmentation_mask"]), np.uint8), cv2.IMREAD_UNCHANGED
    )
    ys, xs = np.nonzero(mask == 1)
    left, right = person["x"] - person["width"] / 2, person["x"] + person["width"] / 2
    top, bottom = person["y"] - person["height"] / 2, person["y"] + person["height"] / 2
    assert (left, top, right, bottom) == (xs.min(), ys.min(), xs.max(), ys.max())


def test_a_model_of_another_task_is_a_400_naming_the_step(
    client: TestClient, models: Tenant
) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "cls/1")],
        {"p": "$steps.det.predictions"},
    )
    body = run(client, models, workflow, status=400)
    assert body["message"] == (
        "Step 'det' (roboflow_core/roboflow_object_detection_model@v2): model 'cls/1' is a "
        "classification model; this block runs object-detection models"
    )
    assert body["blocks_errors"][0]["block_id"] == "det"


# -- transformations, formatters, flow control, visualization -------------------------------------


def _filter(class_name: str) -> list[dict[str, Any]]:
    statement = {
        "type": "BinaryStatement",
        "left_operand": {
            "type": "DynamicOperand",
            "operations": [{"type": "ExtractDetectionProperty", "property_name": "class_name"}],
        },
        "comparator": {"type": "=="},
        "right_operand": {"type": "DynamicOperand", "operand_name": "wanted"},
    }
    return [
        {
            "type": "DetectionsFilter",
            "filter_operation": {"type": "StatementGroup", "statements": [statement]},
        }
    ]


def test_detections_filter_and_property_definition(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [
            model("roboflow_instance_segmentation_model@v1", "seg", "seg/1"),
            step(
                "detections_filter@v1",
                "only",
                predictions="$steps.seg.predictions",
                operations=_filter("circle"),
                operations_parameters={"wanted": "$inputs.wanted"},
            ),
            step(
                "property_definition@v1",
                "names",
                data="$steps.only.predictions",
                operations=[{"type": "DetectionsPropertyExtract", "property_name": "class_name"}],
            ),
        ],
        {"filtered": "$steps.only.predictions", "names": "$steps.names.output"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "wanted", "default_value": "circle"},
        ],
    )
    [circle_only] = run(client, models, workflow)["outputs"]
    assert circle_only["names"] == ["circle"]
    assert [p["class"] for p in circle_only["filtered"]["predictions"]] == ["circle"]
    [square_only] = run(client, models, workflow, {"image": IMAGE, "wanted": "square"})["outputs"]
    assert square_only["names"] == ["square"]


def _gated(threshold: int) -> dict[str, Any]:
    gate = step(
        "continue_if@v1",
        "gate",
        condition_statement={
            "type": "StatementGroup",
            "statements": [
                {
                    "type": "BinaryStatement",
                    "left_operand": {
                        "type": "DynamicOperand",
                        "operand_name": "found",
                        "operations": [{"type": "SequenceLength"}],
                    },
                    "comparator": {"type": "(Number) >="},
                    "right_operand": {"type": "StaticOperand", "value": threshold},
                }
            ],
        },
        evaluation_parameters={"found": "$steps.seg.predictions"},
        next_steps=["$steps.cls"],
    )
    return definition(
        [
            model("roboflow_instance_segmentation_model@v2", "seg", "seg/1"),
            gate,
            model("roboflow_classification_model@v2", "cls", "cls/1"),
            step(
                "first_non_empty_or_default@v1",
                "label",
                data=["$steps.cls.predictions"],
                default="not classified",
            ),
        ],
        {"classification": "$steps.cls.predictions", "label": "$steps.label.output"},
    )


def test_continue_if_taken(client: TestClient, models: Tenant) -> None:
    [result] = run(client, models, _gated(2))["outputs"]
    assert result["classification"]["top"] == "dog"
    assert result["label"]["top"] == "dog"


def test_continue_if_not_taken(client: TestClient, models: Tenant) -> None:
    [result] = run(client, models, _gated(3))["outputs"]
    assert result == {"classification": None, "label": "not classified"}


def _crops_workflow() -> dict[str, Any]:
    return definition(
        [
            model("roboflow_object_detection_model@v2", "det", "known/1"),
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.image",
                predictions="$steps.det.predictions",
            ),
            model(
                "roboflow_object_detection_model@v2",
                "on_crop",
                "known/1",
                images="$steps.crop.crops",
            ),
        ],
        [
            {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
            {"type": "JsonField", "name": "parent", "selector": "$steps.on_crop.predictions"},
            {
                "type": "JsonField",
                "name": "own",
                "selector": "$steps.on_crop.predictions",
                "coordinates_system": "own",
            },
        ],
    )


def test_crops_and_coordinates_systems(client: TestClient, models: Tenant) -> None:
    [result] = run(client, models, _crops_workflow())["outputs"]
    [crop] = result["crops"]
    assert _decode(crop).shape == (128, 128, 3)
    origin = {"offset_x": 256, "offset_y": 176, "width": 640, "height": 480}
    assert (crop["parent_origin"], crop["root_parent_id"]) == (origin, "image")
    # What the model sees on a 128x128 image, straight from /infer:
    [direct] = client.post(
        "/infer/object_detection",
        json={
            "api_key": models.key,
            "model_id": "known/1",
            "image": {"type": "base64", "value": base64.b64encode(jpeg_bytes(128, 128)).decode()},
        },
    ).json()["predictions"]
    [own] = result["own"][0]["predictions"]
    [parent] = result["parent"][0]["predictions"]
    assert result["own"][0]["image"] == {"width": 128, "height": 128}
    assert (own["x"], own["y"], own["width"]) == (direct["x"], direct["y"], direct["width"])
    assert (own["parent_id"], own["root_parent_id"]) == (crop["parent_id"], "image")
    assert own["parent_origin"] == origin
    assert result["parent"][0]["image"] == {"width": 640, "height": 480}
    assert (parent["x"], parent["y"]) == (own["x"] + 256, own["y"] + 176)
    assert (parent["width"], parent["parent_id"]) == (own["width"], "image")
    assert "parent_origin" not in parent


@pytest.mark.parametrize(
    ("block", "options"),
    [
        pytest.param("bounding_box_visualization@v1", {}, id="boxes"),
        pytest.param("bounding_box_visualization@v1", {"roundness": 0.5}, id="round-boxes"),
        pytest.param("label_visualization@v1", {}, id="labels"),
        pytest.param(
            "label_visualization@v1",
            {"text": "Class and Confidence", "text_color": "#000000", "color_palette": "ROBOFLOW"},
            id="labels-styled",
        ),
    ],
)
def test_visualizations_draw_on_a_copy(
    client: TestClient, models: Tenant, block: str, options: dict[str, Any]
) -> None:
    workflow = definition(
        [
            model("roboflow_object_detection_model@v2", "det", "known/1"),
            step(
                block, "viz", image="$inputs.image", predictions="$steps.det.predictions", **options
            ),
        ],
        {"preview": "$steps.viz.image", "original": "$inputs.image"},
    )
    [result] = run(client, models, workflow)["outputs"]
    drawn, original = _decode(result["preview"]), _decode(result["original"])
    assert drawn.shape == original.shape == (480, 640, 3)
    assert np.abs(drawn.astype(int) - original.astype(int)).max() > 50


# -- request options ------------------------------------------------------------------------------


def test_batch_of_two_images(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "known/1")],
        {"predictions": "$steps.det.predictions"},
    )
    # The second image as a bare base64 string, which workflow inputs also accept.
    outputs = run(client, models, workflow, {"image": [IMAGE, SMALL_IMAGE["value"]]})["outputs"]
    assert [o["predictions"]["image"] for o in outputs] == [
        {"width": 640, "height": 480},
        {"width": 320, "height": 240},
    ]
    assert [o["predictions"]["predictions"][0]["parent_id"] for o in outputs] == [
        "image.[0]",
        "image.[1]",
    ]


@pytest.mark.parametrize("enabled", [pytest.param(True, id="on"), pytest.param(False, id="off")])
def test_profiling(client: TestClient, models: Tenant, enabled: bool) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "known/1")],
        {"predictions": "$steps.det.predictions"},
    )
    body = run(client, models, workflow, enable_profiling=enabled)
    trace = body["profiler_trace"]
    if not enabled:
        assert trace == []
        return
    names = [event["name"] for event in trace]
    assert names[0] == names[-1] == "workflow_run"
    assert {"workflow_compilation", "step_execution", "outputs_construction"} <= set(names)
    [step_event] = [e for e in trace if e["name"] == "step_execution"]
    assert step_event["args"] == {"step_selector": "$steps.det"}
    assert {"ph", "ts", "dur", "pid", "tid"} <= set(step_event)


def test_key_in_authorization_header(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "known/1")],
        {"model": "$steps.det.model_id"},
    )
    response = client.post(
        "/workflows/run",
        json={"specification": workflow, "inputs": {"image": IMAGE}},
        headers={"Authorization": f"Bearer {models.key}"},
    )
    assert response.json()["outputs"] == [{"model": "known/1"}]
    # Without the key the model is not visible: anonymous callers see only the demo workspace.
    anonymous = client.post(
        "/workflows/run", json={"specification": workflow, "inputs": {"image": IMAGE}}
    )
    assert anonymous.status_code == 404
    assert anonymous.json()["error_type"] == "ClientCausedStepExecutionError"
    assert anonymous.json()["inner_error_type"] == "ModelNotFoundError"


def test_excluded_fields(client: TestClient, models: Tenant) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "known/1")],
        {"predictions": "$steps.det.predictions", "model": "$steps.det.model_id"},
    )
    body = run(client, models, workflow, excluded_fields=["predictions"])
    assert body["outputs"] == [{"model": "known/1"}]


# -- errors ---------------------------------------------------------------------------------------


class _BrokenManifest(StepManifest):
    data: AnySelector


class _Broken(Block):
    type = "tests/broken@v1"
    manifest = _BrokenManifest
    outputs: ClassVar[tuple[OutputDefinition, ...]] = (OutputDefinition("output", ("*",)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        raise ZeroDivisionError("division by zero")


def test_definition_error_body(client: TestClient, models: Tenant) -> None:
    workflow = definition([step("no_such_block@v1", "x")], {})
    body = run(client, models, workflow, status=400)
    assert body == {
        "message": "Step 'x': unknown block type 'roboflow_core/no_such_block@v1'.",
        "error_type": "WorkflowSyntaxError",
        "context": "workflow_compilation | workflow_definition_parsing",
        "inner_error_type": None,
        "inner_error_message": None,
        "blocks_errors": [
            {
                "block_id": "x",
                "block_type": "roboflow_core/no_such_block@v1",
                "property_name": "type",
                "property_details": "unknown block type 'roboflow_core/no_such_block@v1'.",
            }
        ],
    }


def test_step_failure_is_a_500_naming_the_step(
    client: TestClient, services: Services, models: Tenant
) -> None:
    services.workflows.blocks.register(_Broken)
    workflow = definition(
        [{"type": "tests/broken@v1", "name": "broken", "data": "$inputs.image"}],
        {"x": "$steps.broken.output"},
    )
    body = run(client, models, workflow, status=500)
    assert body["error_type"] == "StepExecutionError"
    assert body["message"] == (
        "Error during execution of step: $steps.broken. Details: division by zero"
    )
    assert body["blocks_errors"][0]["block_id"] == "broken"
    assert body["inner_error_type"] == "ZeroDivisionError"


def test_unknown_model_in_a_step_is_a_404_with_the_workflow_error_body(
    client: TestClient, models: Tenant
) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "nope/1")],
        {"p": "$steps.det.predictions"},
    )
    body = run(client, models, workflow, status=404)
    details = body["inner_error_message"]
    assert details.startswith("Model 'nope/1' not found in workspace(s) 'acme', 'demo'.")
    assert body == {
        "message": f"Step 'det' (roboflow_core/roboflow_object_detection_model@v2): {details}",
        "error_type": "ClientCausedStepExecutionError",
        "context": "workflow_execution | step_execution",
        "inner_error_type": "ModelNotFoundError",
        "inner_error_message": details,
        "blocks_errors": [
            {
                "block_id": "det",
                "block_type": "roboflow_core/roboflow_object_detection_model@v2",
                "property_name": None,
                "property_details": details,
            }
        ],
    }


def test_a_model_of_another_task_has_the_workflow_error_body(
    client: TestClient, models: Tenant
) -> None:
    workflow = definition(
        [model("roboflow_object_detection_model@v2", "det", "cls/1")],
        {"p": "$steps.det.predictions"},
    )
    body = run(client, models, workflow, status=400)
    assert (body["error_type"], body["inner_error_type"]) == (
        "ClientCausedStepExecutionError",
        "InvalidInputError",
    )
    assert body["context"] == "workflow_execution | step_execution"
    assert body["inner_error_message"] == (
        "model 'cls/1' is a classification model; this block runs object-detection models"
    )


@pytest.mark.parametrize(
    ("image", "inner"),
    [
        pytest.param(
            {"type": "base64", "value": "bm90IGFuIGltYWdl"}, "ImageDecodeError", id="bytes"
        ),
        pytest.param({"value": "x"}, "InvalidInputError", id="no-type"),
        pytest.param(12, "InvalidInputError", id="number"),
    ],
)
def test_a_bad_image_input_has_the_workflow_error_body(
    client: TestClient, models: Tenant, image: Any, inner: str
) -> None:
    workflow = definition([model("roboflow_object_detection_model@v2", "det", "known/1")], {})
    body = run(client, models, workflow, {"image": image}, status=400)
    assert set(body) == {
        "message",
        "error_type",
        "context",
        "inner_error_type",
        "inner_error_message",
        "blocks_errors",
    }
    assert (body["error_type"], body["inner_error_type"]) == ("RuntimeInputError", inner)
    assert body["context"] == "workflow_execution | runtime_input_validation"
    assert body["message"] == f"Workflow input 'image': {body['inner_error_message']}"
    [where] = body["blocks_errors"]
    assert (where["block_id"], where["property_name"]) == (None, "inputs.image")


def test_missing_image_is_a_400(client: TestClient, models: Tenant) -> None:
    body = run(client, models, definition([], {}), {"other": 1}, status=400)
    assert body["error_type"] == "RuntimeInputError"


# -- stored workflows -----------------------------------------------------------------------------


def _stored(name: str) -> dict[str, Any]:
    return definition(
        [],
        {"name": "$inputs.name"},
        inputs=[{"type": "WorkflowParameter", "name": "name", "default_value": name}],
    )


def test_stored_workflow_versions_and_cache(
    client: TestClient, services: Services, models: Tenant
) -> None:
    path = f"/{models.workspace}/workflows/greeting"
    services.workflows.save(models.workspace, "greeting", _stored("first"))
    assert run(client, models, {}, {}, path=path)["outputs"] == [{"name": "first"}]
    # Stored by another process on SQLite (the CLI): no change notice reaches this server, so
    # its cached copy is served for a while (as the reference does), until use_cache=false
    # re-reads the store. (A save through this server forgets its copy at once.)
    services.registry.add_workflow_version(models.workspace, "greeting", _stored("second"))
    assert run(client, models, {}, {}, path=path)["outputs"] == [{"name": "first"}]
    fresh = run(client, models, {}, {}, path=path, use_cache=False)
    assert fresh["outputs"] == [{"name": "second"}]
    assert run(client, models, {}, {}, path=path)["outputs"] == [{"name": "second"}]
    pinned = run(client, models, {}, {}, path=path, workflow_version_id="1")
    assert pinned["outputs"] == [{"name": "first"}]
    legacy = run(client, models, {}, {}, path=f"/infer/workflows/{models.workspace}/greeting")
    assert legacy["outputs"] == [{"name": "second"}]
    missing = run(client, models, {}, {}, path=path, workflow_version_id="3", status=404)
    assert missing["message"] == "Workflow 'greeting' version 3 not found in workspace 'acme'"


def test_stored_workflow_runs_models_as_the_caller(
    client: TestClient, services: Services, models: Tenant
) -> None:
    workflow = definition([detector(model_id="known/1")], {"predictions": "$steps.det.predictions"})
    services.workflows.save(models.workspace, "detect", workflow)
    body = run(client, models, {}, path=f"/{models.workspace}/workflows/detect")
    assert _known(body["outputs"][0]["predictions"]["predictions"][0]) == KNOWN


def test_workspaces_are_isolated(client: TestClient, services: Services, models: Tenant) -> None:
    services.workflows.save(models.workspace, "private", _stored("secret"))
    services.registry.ensure_workspace("demo")
    services.workflows.save("demo", "public", _stored("hello"))
    services.registry.create_workspace("rival")
    _record, rival_key = services.registry.create_api_key("rival")
    rival = Tenant("rival", rival_key, "")
    # Another tenant's workflow and an unknown workspace answer the same 404.
    for path in ("/acme/workflows/private", "/nowhere/workflows/private"):
        body = run(client, rival, {}, {}, path=path, status=404)
        assert body["error_type"] == "workflow_not_found"
    # The public demo workspace is visible to every key, and to anonymous callers on loopback.
    assert run(client, rival, {}, {}, path="/demo/workflows/public")["outputs"] == [
        {"name": "hello"}
    ]
    anonymous = client.post("/demo/workflows/public", json={"inputs": {}})
    assert anonymous.json()["outputs"] == [{"name": "hello"}]
    assert client.post("/acme/workflows/private", json={"inputs": {}}).status_code == 404


# -- other routes ---------------------------------------------------------------------------------


def test_deprecated_inline_route(client: TestClient, models: Tenant) -> None:
    body = run(
        client, models, _stored("x"), {}, path="/infer/workflows", specification=_stored("y")
    )
    assert body == {"outputs": [{"name": "y"}], "profiler_trace": []}


def test_validate(client: TestClient, models: Tenant) -> None:
    ok = client.post(f"/workflows/validate?api_key={models.key}", json=_stored("x"))
    assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
    bad = client.post(
        f"/workflows/validate?api_key={models.key}", json={**_stored("x"), "version": "9.0"}
    )
    assert (bad.status_code, bad.json()["error_type"]) == (400, "NotSupportedExecutionEngineError")


def test_execution_engine_versions(client: TestClient) -> None:
    response = client.get("/workflows/execution_engine/versions")
    assert response.json() == {"versions": ["1.17.0"]}


def test_semantic_segmentation_masks_are_drawn_by_mask_visualization(
    client: TestClient, models: Tenant
) -> None:
    # The per-class RLE masks are decoded (core.masks.rle_to_mask) and painted where /infer's
    # class map has that class.
    workflow = definition(
        [
            model("roboflow_semantic_segmentation_model@v1", "sem", "sem/1"),
            {
                "type": "roboflow_core/mask_visualization@v1",
                "name": "viz",
                "image": "$inputs.image",
                "predictions": "$steps.sem.predictions",
                "opacity": 1.0,
            },
        ],
        {"image": "$steps.viz.image"},
    )
    [result] = run(client, models, workflow)["outputs"]
    drawn = cv2.imdecode(
        np.frombuffer(base64.b64decode(result["image"]["value"]), np.uint8), cv2.IMREAD_COLOR
    )
    infer = client.post(
        "/infer/semantic_segmentation",
        json={"api_key": models.key, "model_id": "sem/1", "image": IMAGE},
    ).json()["predictions"]
    mask = cv2.imdecode(
        np.frombuffer(base64.b64decode(infer["segmentation_mask"]), np.uint8), cv2.IMREAD_UNCHANGED
    )
    original = cv2.imdecode(
        np.frombuffer(base64.b64decode(IMAGE["value"]), np.uint8), cv2.IMREAD_COLOR
    )
    changed = np.abs(drawn.astype(int) - original.astype(int)).sum(axis=2) > 40
    painted = mask == 1
    assert painted.any()
    # JPEG noise aside, the painted pixels are the class's and nothing far from it.
    assert changed[painted].mean() > 0.9
    assert changed[~painted].mean() < 0.05
