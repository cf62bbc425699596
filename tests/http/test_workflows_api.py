"""Workflow introspection and stored-workflow management over HTTP, the workflow settings, and
the route order that keeps run paths and the legacy ``/{project}/{version}`` route intact."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from tests.workflows.fakes import definition
from tests.workflows.test_describe import EchoBlock
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes()).decode()}
DETECT = definition(
    [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "known/1",
            "confidence": "$inputs.conf",
        }
    ],
    {"count": "$steps.det.predictions"},
    inputs=[
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "conf", "default_value": 0.4},
    ],
)


def greeting(name: str) -> dict[str, Any]:
    return definition(
        [],
        {"name": "$inputs.name"},
        inputs=[{"type": "WorkflowParameter", "name": "name", "default_value": name}],
    )


@dataclass(frozen=True)
class Rival:
    workspace: str
    key: str


@pytest.fixture
def rival(services: Services) -> Rival:
    services.registry.create_workspace("globex")
    _record, key = services.registry.create_api_key("globex", "tests")
    return Rival("globex", key)


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


# -- describe_interface ---------------------------------------------------------------------------


def test_describe_interface_inline(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/workflows/describe_interface", json={"api_key": tenant.key, "specification": DETECT}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inputs"] == {"image": ["image"], "conf": ["float_zero_to_one"]}
    assert body["outputs"] == {"count": ["object_detection_prediction"]}
    assert body["typing_hints"]["float_zero_to_one"] == "float"
    assert set(body["kinds_schemas"]) == {"image", "object_detection_prediction"}


def test_describe_interface_reports_the_compiler_error(client: TestClient, tenant: Tenant) -> None:
    broken = definition([{"type": "roboflow_core/dynamic_crop@v1", "name": "crop"}], {})
    response = client.post(
        "/workflows/describe_interface", json={"api_key": tenant.key, "specification": broken}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_type"] == "WorkflowSyntaxError"
    assert {e["property_name"] for e in body["blocks_errors"]} == {"images", "predictions"}


@pytest.mark.parametrize(
    ("owner", "caller", "status"),
    [
        pytest.param("acme", "acme", 200, id="own"),
        pytest.param("demo", "acme", 200, id="public-demo"),
        pytest.param("acme", "globex", 404, id="other-tenant"),
        pytest.param("acme", "bad", 401, id="bad-key"),
    ],
)
def test_describe_stored_interface(
    client: TestClient,
    services: Services,
    tenant: Tenant,
    rival: Rival,
    owner: str,
    caller: str,
    status: int,
) -> None:
    services.registry.ensure_workspace("demo")
    services.workflows.save(owner, "greet", greeting("x"))
    key = {"acme": tenant.key, "globex": rival.key, "bad": "vf_nope"}[caller]
    response = client.post(f"/{owner}/workflows/greet/describe_interface", json={"api_key": key})
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["outputs"] == {"name": ["*"]}


def test_describe_stored_interface_of_a_pinned_version(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save("acme", "det", DETECT)
    services.workflows.save("acme", "det", greeting("x"))
    path = "/acme/workflows/det/describe_interface"
    latest = client.post(path, json={"api_key": tenant.key}).json()
    pinned = client.post(path, json={"api_key": tenant.key, "workflow_version_id": 1}).json()
    assert (list(latest["inputs"]), list(pinned["inputs"])) == (["name"], ["image", "conf"])


# -- blocks, schema, dynamic outputs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("POST", None, id="post-no-body"),
        pytest.param("POST", {}, id="post-empty"),
        pytest.param("POST", {"execution_engine_version": "1.0"}, id="post-version"),
        pytest.param("GET", None, id="get-deprecated"),
    ],
)
def test_describe_blocks(client: TestClient, method: str, body: dict[str, Any] | None) -> None:
    response = client.request(method, "/workflows/blocks/describe", json=body)
    assert response.status_code == 200, response.text
    described = response.json()
    types = {block["manifest_type_identifier"] for block in described["blocks"]}
    assert "roboflow_core/dynamic_crop@v1" in types
    assert described["universal_query_language_description"]["operations_description"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        pytest.param(
            {"execution_engine_version": "2.0"}, "NotSupportedExecutionEngineError", id="v2"
        ),
        pytest.param({"execution_engine_version": "x"}, "WorkflowDefinitionError", id="garbage"),
        pytest.param(
            {"dynamic_blocks_definitions": [{"manifest": {}}]},
            "WorkflowDefinitionError",
            id="dynamic-blocks",
        ),
    ],
)
def test_describe_blocks_refuses(client: TestClient, body: dict[str, Any], error_type: str) -> None:
    response = client.post("/workflows/blocks/describe", json=body)
    assert response.status_code == 400
    assert response.json()["error_type"] == error_type


def test_blocks_registered_later_appear(client: TestClient, services: Services) -> None:
    def types() -> set[str]:
        blocks = client.post("/workflows/blocks/describe").json()["blocks"]
        return {block["manifest_type_identifier"] for block in blocks}

    def schema_types() -> set[str]:
        schema = client.get("/workflows/definition/schema").json()["schema"]
        return set(schema["properties"]["steps"]["items"]["discriminator"]["mapping"])

    assert "tests/echo@v1" not in types() | schema_types()
    services.workflows.blocks.register(EchoBlock)
    assert "tests/echo@v1" in types()
    assert {"tests/echo@v1", "Echo"} <= schema_types()


def test_definition_schema(client: TestClient) -> None:
    response = client.get("/workflows/definition/schema")
    assert response.status_code == 200
    schema = response.json()["schema"]
    assert set(schema["required"]) == {"version", "inputs", "steps", "outputs"}
    assert (
        "roboflow_core/dynamic_crop@v1"
        in schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    )


@pytest.mark.parametrize(
    ("step", "status", "expected"),
    [
        pytest.param(
            {"type": "Crop", "name": "c", "images": "$inputs.i", "predictions": "$steps.d.p"},
            200,
            ["crops", "predictions"],
            id="valid",
        ),
        pytest.param({"type": "Crop", "name": "c"}, 400, ["images", "predictions"], id="missing"),
        pytest.param({}, 400, ["type"], id="empty"),
    ],
)
def test_dynamic_outputs(
    client: TestClient, step: dict[str, Any], status: int, expected: list[str]
) -> None:
    response = client.post("/workflows/blocks/dynamic_outputs", json=step)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert [output["name"] for output in body] == expected
        assert body[0]["kind"][0]["name"] == "image"
    else:
        assert [e["property_name"] for e in body["blocks_errors"]] == expected


# -- stored workflow management -------------------------------------------------------------------


def test_push_list_show(client: TestClient, tenant: Tenant) -> None:
    headers = auth(tenant.key)
    assert client.get("/acme/workflows", headers=headers).json() == {
        "workspace": "acme",
        "workflows": [],
    }
    first = client.post("/acme/workflows/greet/versions", json=greeting("a"), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    wrapped = {"specification": greeting("b"), "api_key": tenant.key}
    second = client.post("/acme/workflows/greet/versions", json=wrapped)
    assert (second.status_code, second.json()["version"]) == (201, 2)
    listed = client.get(f"/acme/workflows?api_key={tenant.key}").json()["workflows"]
    assert [(w["workflow_id"], w["latest_version"]) for w in listed] == [("greet", 2)]
    assert listed[0]["created_at"] == first.json()["created_at"]
    assert listed[0]["updated_at"] == second.json()["created_at"]
    latest = client.get("/acme/workflows/greet", headers=headers).json()
    assert (latest["version"], latest["specification"]) == (2, greeting("b"))
    pinned = client.get("/acme/workflows/greet?version=1", headers=headers).json()
    assert (pinned["version"], pinned["specification"]) == (1, greeting("a"))


@pytest.mark.parametrize(
    ("path", "status", "error_type"),
    [
        pytest.param("/acme/workflows/greet?version=9", 404, "workflow_not_found", id="no-version"),
        pytest.param("/acme/workflows/greet?version=x", 400, "invalid_input", id="bad-version"),
        pytest.param("/acme/workflows/nothing", 404, "workflow_not_found", id="no-workflow"),
    ],
)
def test_show_errors(
    client: TestClient,
    services: Services,
    tenant: Tenant,
    path: str,
    status: int,
    error_type: str,
) -> None:
    services.workflows.save("acme", "greet", greeting("a"))
    response = client.get(path, headers=auth(tenant.key))
    assert (response.status_code, response.json()["error_type"]) == (status, error_type)


def test_push_refuses_a_definition_that_does_not_compile(
    client: TestClient, tenant: Tenant
) -> None:
    broken = definition(
        [{"type": "roboflow_core/dynamic_crop@v1", "name": "crop", "images": "$inputs.nope"}],
        {},
    )
    response = client.post("/acme/workflows/crop/versions", json=broken, headers=auth(tenant.key))
    assert response.status_code == 400
    body = response.json()
    assert body["error_type"] == "WorkflowSyntaxError"
    assert body["blocks_errors"][0] == {
        "block_id": "crop",
        "block_type": "roboflow_core/dynamic_crop@v1",
        "property_name": "predictions",
        "property_details": "Field required",
    }
    assert client.get("/acme/workflows", headers=auth(tenant.key)).json()["workflows"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/acme/workflows/greet/versions", id="push"),
        pytest.param("GET", "/acme/workflows", id="list"),
        pytest.param("GET", "/acme/workflows/greet", id="show"),
    ],
)
@pytest.mark.parametrize(
    ("caller", "status", "error_type"),
    [
        pytest.param("none", 401, "api_key_required", id="no-key"),
        pytest.param("bad", 401, "invalid_api_key", id="bad-key"),
        pytest.param("globex", 404, "workflow_not_found", id="other-workspace"),
        pytest.param("acme", None, None, id="own-key"),
    ],
)
def test_management_needs_the_workspace_key(
    client: TestClient,
    services: Services,
    tenant: Tenant,
    rival: Rival,
    method: str,
    path: str,
    caller: str,
    status: int | None,
    error_type: str | None,
) -> None:
    services.workflows.save("acme", "greet", greeting("a"))
    key = {"none": None, "bad": "vf_nope", "globex": rival.key, "acme": tenant.key}[caller]
    body = greeting("b") if method == "POST" else None
    response = client.request(method, path, json=body, headers=auth(key))
    if status is None:
        assert response.status_code in (200, 201), response.text
        return
    assert (response.status_code, response.json()["error_type"]) == (status, error_type)


def test_a_nonexistent_workspace_answers_like_a_foreign_one(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/initech/workflows", headers=auth(tenant.key))
    assert (response.status_code, response.json()["error_type"]) == (404, "workflow_not_found")


# -- route order ----------------------------------------------------------------------------------


def test_run_paths_still_run_next_to_management_paths(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    # A workflow called "versions" and one called "describe_interface" stay runnable everywhere.
    for name in ("versions", "describe_interface", "greet"):
        pushed = client.post(
            f"/acme/workflows/{name}/versions", json=greeting(name), headers=auth(tenant.key)
        )
        assert pushed.status_code == 201, pushed.text
    for path in (
        "/acme/workflows/greet",
        "/acme/workflows/versions",
        "/infer/workflows/acme/versions",
        "/infer/workflows/acme/describe_interface",
    ):
        response = client.post(path, json={"api_key": tenant.key, "inputs": {}})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["outputs"][0]["name"] == path.rpartition("/")[2]


def test_legacy_model_route_is_not_shadowed(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"/{tenant.model_id}?api_key={tenant.key}",
        content=IMAGE["value"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert [p["class"] for p in response.json()["predictions"]] == ["square"]
    # ... and a workspace's workflow list is not read as model "acme/workflows".
    listed = client.get(f"/acme/workflows?api_key={tenant.key}")
    assert listed.json() == {"workspace": "acme", "workflows": []}


# -- settings -------------------------------------------------------------------------------------


@pytest.fixture
def configured(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    overrides: dict[str, Any] = request.param
    built = Services.build(
        Settings(home=tmp_path / "home", register_demo_models=False, **overrides)
    )
    built.registry.create_workspace("acme")
    yield built
    built.close()


@pytest.mark.parametrize(
    ("configured", "trace"),
    [
        pytest.param({"workflows_profiling_allowed": True}, True, id="allowed"),
        pytest.param({"workflows_profiling_allowed": False}, False, id="refused"),
    ],
    indirect=["configured"],
)
def test_profiling_setting(configured: Services, trace: bool) -> None:
    with TestClient(create_app(configured)) as client:
        body = client.post(
            "/workflows/run",
            json={"specification": greeting("x"), "inputs": {}, "enable_profiling": True},
        ).json()
    assert bool(body["profiler_trace"]) is trace


@pytest.mark.parametrize(
    ("configured", "fresh"),
    [
        pytest.param({"workflows_definition_cache_s": 900.0}, False, id="cached"),
        pytest.param({"workflows_definition_cache_s": 0.0}, True, id="no-cache"),
    ],
    indirect=["configured"],
)
def test_definition_cache_setting(configured: Services, fresh: bool) -> None:
    _record, key = configured.registry.create_api_key("acme")
    configured.workflows.save("acme", "greet", greeting("old"))
    with TestClient(create_app(configured)) as client:
        run = {"api_key": key, "inputs": {}}
        assert client.post("/acme/workflows/greet", json=run).json()["outputs"][0]["name"] == "old"
        # Written by another process on SQLite (no change notice): only the cache time bounds it.
        configured.registry.add_workflow_version("acme", "greet", greeting("new"))
        name = client.post("/acme/workflows/greet", json=run).json()["outputs"][0]["name"]
    assert name == ("new" if fresh else "old")


@pytest.mark.parametrize(
    ("configured", "steps"),
    [pytest.param({"workflows_max_concurrent_steps": 3}, 3, id="three")],
    indirect=["configured"],
)
def test_max_concurrent_steps_setting(configured: Services, steps: int) -> None:
    assert configured.workflows.executor.max_concurrent_steps == steps


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, (True, 900.0, 8), id="defaults"),
        pytest.param(
            {
                "VISIONFLOW_WORKFLOWS_PROFILING": "false",
                "VISIONFLOW_WORKFLOWS_DEFINITION_CACHE_S": "0",
                "VISIONFLOW_WORKFLOWS_MAX_CONCURRENT_STEPS": "2",
            },
            (False, 0.0, 2),
            id="all-set",
        ),
        pytest.param({"VISIONFLOW_WORKFLOWS_PROFILING": ""}, (True, 900.0, 8), id="empty-value"),
    ],
)
def test_workflow_settings_from_env(
    environ: dict[str, str], expected: tuple[bool, float, int]
) -> None:
    settings = Settings.from_env(environ)
    assert (
        settings.workflows_profiling_allowed,
        settings.workflows_definition_cache_s,
        settings.workflows_max_concurrent_steps,
    ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"VISIONFLOW_WORKFLOWS_PROFILING": "maybe"}, "boolean", id="bool"),
        pytest.param({"VISIONFLOW_WORKFLOWS_MAX_CONCURRENT_STEPS": "0"}, ">= 1", id="zero-steps"),
        pytest.param({"VISIONFLOW_WORKFLOWS_MAX_CONCURRENT_STEPS": "x"}, "integer", id="steps"),
        pytest.param({"VISIONFLOW_WORKFLOWS_DEFINITION_CACHE_S": "-1"}, ">= 0", id="negative"),
    ],
)
def test_invalid_workflow_settings(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)
