"""``inner_workflow`` over HTTP: inline and stored children through ``POST /workflows/run`` and a
stored parent through ``POST /{workspace}/workflows/{id}``, on the fixture model with a known
detection; batches, profiling, workspace isolation, the store's cache, and the 4xx answers for a
missing child, recursion, the depth limit and a broken child."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.http.test_workflows import IMAGE, KNOWN, SMALL_IMAGE, run
from tests.workflows.fakes import definition
from visionflow.service.services import Services

DETECT = "roboflow_core/roboflow_object_detection_model@v2"
IMG = [{"type": "WorkflowImage", "name": "img"}]


def child(model_id: str = "known/1") -> dict[str, Any]:
    return definition(
        [{"type": DETECT, "name": "det", "images": "$inputs.img", "model_id": "$inputs.model"}],
        {"preds": "$steps.det.predictions"},
        inputs=[*IMG, {"type": "WorkflowParameter", "name": "model", "default_value": model_id}],
    )


def inner(name: str = "inner", **source: Any) -> dict[str, Any]:
    return {
        "type": "roboflow_core/inner_workflow@v1",
        "name": name,
        "parameter_bindings": {"img": "$inputs.image"},
        **(source or {"workflow_definition": child()}),
    }


def parent(*steps: dict[str, Any], output: str = "$steps.inner.preds") -> dict[str, Any]:
    return definition(list(steps), {"preds": output})


def stored(workspace: str, workflow_id: str, **more: Any) -> dict[str, Any]:
    return inner(workflow_workspace_id=workspace, workflow_id=workflow_id, **more)


def _box(result: dict[str, Any]) -> dict[str, Any]:
    [prediction] = result["preds"]["predictions"]
    return {key: prediction[key] for key in KNOWN}


def test_inline_child_on_a_batch_with_profiling(client: TestClient, tenant: Tenant) -> None:
    body = run(
        client, tenant, parent(inner()), {"image": [IMAGE, SMALL_IMAGE]}, enable_profiling=True
    )
    first, second = body["outputs"]
    assert _box(first) == KNOWN
    assert second["preds"]["image"] == {"width": 320, "height": 240}
    steps = [e["args"] for e in body["profiler_trace"] if e["name"] == "step_execution"]
    assert steps == [{"step_selector": "$steps.inner__det"}]


def test_stored_child_and_stored_parent(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save(tenant.workspace, "detect", child())
    body = run(client, tenant, parent(stored(tenant.workspace, "detect")))
    assert _box(body["outputs"][0]) == KNOWN
    # A stored parent of a stored child (stored through the API: it must compile).
    response = client.post(
        f"/{tenant.workspace}/workflows/outer/versions?api_key={tenant.key}",
        json={"specification": parent(stored(tenant.workspace, "detect", workflow_version_id="1"))},
    )
    assert response.status_code == 201, response.text
    outer = run(client, tenant, {}, path=f"/{tenant.workspace}/workflows/outer")
    assert _box(outer["outputs"][0]) == KNOWN


def test_use_cache_false_rereads_the_children(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save(tenant.workspace, "detect", child())
    services.workflows.save(tenant.workspace, "outer", parent(stored(tenant.workspace, "detect")))
    path = f"/{tenant.workspace}/workflows/outer"
    assert _box(run(client, tenant, {}, path=path)["outputs"][0]) == KNOWN
    # Written by another process (no change notice): the cached child serves until use_cache.
    services.registry.add_workflow_version(tenant.workspace, "detect", child("missing/1"))
    assert _box(run(client, tenant, {}, path=path)["outputs"][0]) == KNOWN
    fresh = run(client, tenant, {}, path=path, use_cache=False, status=404)
    assert "missing/1" in fresh["message"]


def test_children_are_looked_up_in_the_callers_workspaces_only(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save(tenant.workspace, "detect", child())
    services.registry.create_workspace("rival")
    _record, key = services.registry.create_api_key("rival")
    rival = Tenant("rival", key, "")
    for workspace in (tenant.workspace, "nowhere"):
        body = run(client, rival, parent(stored(workspace, "detect")), status=400)
        assert body["error_type"] == "WorkflowDefinitionError"
        assert body["message"] == (
            "Step 'inner' (roboflow_core/inner_workflow@v1): "
            f"Workflow 'detect' not found in workspace {workspace!r}"
        )


def test_missing_child(client: TestClient, tenant: Tenant) -> None:
    body = run(client, tenant, parent(stored(tenant.workspace, "nope")), status=400)
    assert "Workflow 'nope' not found in workspace 'acme'" in body["message"]
    [where] = body["blocks_errors"]
    assert (where["block_id"], where["property_name"]) == ("inner", "workflow_id")
    # Storing a parent checks its children as well.
    response = client.post(
        f"/{tenant.workspace}/workflows/outer/versions?api_key={tenant.key}",
        json={"specification": parent(stored(tenant.workspace, "nope"))},
    )
    assert response.status_code == 400
    validated = client.post(
        f"/workflows/validate?api_key={tenant.key}", json=parent(stored(tenant.workspace, "nope"))
    )
    assert validated.status_code == 400


def test_recursion_and_depth(client: TestClient, services: Services, tenant: Tenant) -> None:
    # Written to the store directly: saving checks the children, and "a" does not exist yet.
    loop = definition([stored(tenant.workspace, "b")], {"preds": "$steps.inner.preds"})
    services.registry.add_workflow_version(tenant.workspace, "a", loop)
    back = definition([stored(tenant.workspace, "a")], {"preds": "$steps.inner.preds"})
    services.registry.add_workflow_version(tenant.workspace, "b", back)
    body = run(client, tenant, {}, path=f"/{tenant.workspace}/workflows/a", status=400)
    assert body["error_type"] == "InnerWorkflowCompositionCycleError"
    assert "acme/b -> acme/a -> acme/b" in body["message"]
    assert "VISIONFLOW_WORKFLOWS_MAX_INNER_DEPTH" in body["message"]
    workflow = child()
    for _ in range(4):  # one more than the default of 3
        workflow = definition(
            [
                {
                    **inner(),
                    "parameter_bindings": {"img": "$inputs.img"},
                    "workflow_definition": workflow,
                }
            ],
            {"preds": "$steps.inner.preds"},
            inputs=IMG,
        )
    deep = parent({**inner(), "workflow_definition": workflow})
    body = run(client, tenant, deep, status=400)
    assert body["error_type"] == "InnerWorkflowNestingDepthError"
    assert "more than the 3 they may nest (VISIONFLOW_WORKFLOWS_MAX_INNER_DEPTH)" in body["message"]


def test_broken_child_names_the_step(client: TestClient, tenant: Tenant) -> None:
    broken = child()
    broken["steps"][0]["confidence"] = "high"
    body = run(client, tenant, parent(inner(workflow_definition=broken)), status=400)
    assert body["error_type"] == "WorkflowSyntaxError"
    assert body["message"].startswith(
        "Step 'inner' (roboflow_core/inner_workflow@v1), child workflow (inline): Step 'det'"
    )
    assert [e["block_id"] for e in body["blocks_errors"]] == ["inner", "det"]


def test_validate_and_describe_with_a_stored_child(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save(tenant.workspace, "detect", child())
    workflow = parent(stored(tenant.workspace, "detect"))
    validated = client.post(f"/workflows/validate?api_key={tenant.key}", json=workflow)
    assert (validated.status_code, validated.json()) == (200, {"status": "ok"})
    described = client.post(
        "/workflows/describe_interface", json={"api_key": tenant.key, "specification": workflow}
    )
    assert described.status_code == 200, described.text
    assert described.json()["outputs"] == {"preds": ["object_detection_prediction"]}


def test_a_demo_child_is_visible_to_every_key(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.registry.ensure_workspace("demo")
    services.workflows.save("demo", "detect", child())
    # The demo workspace's child runs as the caller: its model is the caller's ``known/1``.
    body = run(client, tenant, parent(stored("demo", "detect")))
    assert _box(body["outputs"][0]) == KNOWN
