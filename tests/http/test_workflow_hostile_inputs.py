"""Hostile workflow inputs get a 4xx naming what was wrong, never a 500: deeply nested JSON in
parameter inputs, defaults and parsed JSON texts, on inline and stored workflows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.workflows.fakes import definition
from visionflow.service.services import Services
from visionflow.workflows.nesting import MAX_INPUT_DEPTH

ECHO = definition([], {"p": "$inputs.p"}, inputs=[{"type": "WorkflowParameter", "name": "p"}])
# Deep enough for the JSON parser but past the engine's limit, the recursion limit (900) and
# what a JSON body parser takes at all (1400).
DEPTHS = [pytest.param(depth, id=f"depth-{depth}") for depth in (300, 900, 1400)]


def nested(depth: int) -> str:
    """JSON text of a list nested ``depth`` levels deep (built as text: encoders refuse it)."""
    return "[" * depth + "1" + "]" * depth


def post(client: TestClient, path: str, body: dict[str, Any], p_json: str) -> Any:
    """``body`` with ``inputs.p`` spliced in as raw JSON text."""
    text = json.dumps({**body, "inputs": {"p": "__P__"}}).replace('"__P__"', p_json)
    return client.post(path, content=text, headers={"content-type": "application/json"})


def assert_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["message"]
    if response.status_code == 400 and body["error_type"] == "RuntimeInputError":
        assert body["message"] == (
            f"Workflow input 'p' nests lists/objects more than {MAX_INPUT_DEPTH} levels deep; "
            f"workflow inputs may nest at most {MAX_INPUT_DEPTH} levels"
        )
        assert body["context"] == "workflow_execution | runtime_input_validation"
        assert body["blocks_errors"][0]["property_name"] == "inputs.p"
    else:  # too deep for the body parser itself
        assert (response.status_code, body["error_type"]) == (400, "http_error")


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_input_on_an_inline_workflow(client: TestClient, tenant: Tenant, depth: int) -> None:
    body = {"api_key": tenant.key, "specification": ECHO}
    response = post(client, "/workflows/run", body, nested(depth))
    assert_refused(response)
    if depth < 1000:
        assert response.json()["error_type"] == "RuntimeInputError"


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_input_on_a_stored_workflow(
    client: TestClient, services: Services, tenant: Tenant, depth: int
) -> None:
    services.workflows.save(tenant.workspace, "echo", ECHO)
    response = post(
        client, f"/{tenant.workspace}/workflows/echo", {"api_key": tenant.key}, nested(depth)
    )
    assert_refused(response)
    if depth < 1000:
        assert response.json()["error_type"] == "RuntimeInputError"


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(0, id="scalar"),
        pytest.param(MAX_INPUT_DEPTH, id="at-the-limit"),
    ],
)
def test_inputs_up_to_the_limit_run(client: TestClient, tenant: Tenant, depth: int) -> None:
    response = post(
        client, "/workflows/run", {"api_key": tenant.key, "specification": ECHO}, nested(depth)
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [{"p": json.loads(nested(depth))}]


def test_a_deep_default_value_is_refused(client: TestClient, tenant: Tenant) -> None:
    """The definition itself is too deep: refused when it compiles, naming the setting."""
    inputs = [{"type": "WorkflowParameter", "name": "p", "default_value": "__P__"}]
    workflow = json.dumps(definition([], {"p": "$inputs.p"}, inputs=inputs))
    text = json.dumps({"api_key": tenant.key, "inputs": {}, "specification": "__W__"})
    text = text.replace('"__W__"', workflow.replace('"__P__"', nested(300)))
    response = client.post(
        "/workflows/run", content=text, headers={"content-type": "application/json"}
    )
    body = response.json()
    assert (response.status_code, body["error_type"]) == (400, "WorkflowDefinitionError")
    assert "VISIONFLOW_WORKFLOWS_MAX_NESTING" in body["message"]


def test_a_deep_parsed_json_text_is_refused(client: TestClient, tenant: Tenant) -> None:
    """A JSON text (e.g. a model's answer) parsed by ``json_parser`` into a value the engine
    cannot serialize: a 400 naming the output, not a RecursionError."""
    workflow = definition(
        [
            {
                "type": "roboflow_core/json_parser@v1",
                "name": "parse",
                "raw_json": "$inputs.text",
                "expected_fields": ["a"],
            }
        ],
        {"a": "$steps.parse.a"},
        inputs=[{"type": "WorkflowParameter", "name": "text"}],
    )
    for depth, status in ((100, 200), (600, 400)):
        response = client.post(
            "/workflows/run",
            json={
                "api_key": tenant.key,
                "specification": workflow,
                "inputs": {"text": '{"a": ' + nested(depth) + "}"},
            },
        )
        assert response.status_code == status, response.text
    body = response.json()
    assert body["error_type"] == "RuntimeInputError"
    assert body["message"].startswith("Workflow output 'a' nests lists/objects more than 128")
    assert body["blocks_errors"][0]["property_name"] == "outputs.a"


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deep_body_that_fails_validation_is_a_422(
    client: TestClient, tenant: Tenant, depth: int
) -> None:
    """The 422 echoes what failed validation, but not a value too deep to encode."""
    text = json.dumps({"api_key": tenant.key, "specification": {"deep": "__P__"}})
    response = client.post(
        "/workflows/run",
        content=text.replace('"__P__"', nested(depth)),  # no "inputs": a 422
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    if depth < 1000:
        body = response.json()
        assert (response.status_code, body["error_type"]) == (422, "validation_error")
        assert body["message"] == "Invalid request: inputs: Field required"
        assert body["detail"][0]["input"] == "(nests more than 32 levels deep; not echoed)"


def test_a_shallow_body_that_fails_validation_is_echoed(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/workflows/run", json={"specification": {"a": [[1]]}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == {"specification": {"a": [[1]]}}
