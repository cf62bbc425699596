"""Every route of the OpenAPI schema under its access rule (http/access.py), on a server that
requires keys: no key → 401, an ``infer`` key where ``admin`` is needed → 403, another
workspace's key on a workspace's paths → 404; public routes answer without a key. A route
without a rule, or without a request below to exercise it, fails here."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import jpeg_bytes
from tests.workflows.fakes import definition
from visionflow.config import Settings
from visionflow.http.access import ROUTE_ACCESS, Access
from visionflow.http.app import create_app
from visionflow.service.services import Services

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes(64, 48)).decode()}
GREETING = definition(
    [],
    {"name": "$inputs.name"},
    inputs=[{"type": "WorkflowParameter", "name": "name", "default_value": "ada"}],
)
WORKSPACE_PATHS = {
    "{workspace_name}": "acme",
    "{workflow_id}": "greeting",
    "{project}": "known",
    "{version}": "1",
    "{pipeline_id}": "5b0c1f5e-0000-4000-8000-000000000000",
}

# (method, path template) → (query params, JSON body or raw bytes): a request that passes the
# body's validation, so the access rule is what answers.
REQUESTS: dict[tuple[str, str], tuple[dict[str, str], Any]] = {
    ("GET", "/info"): ({}, None),
    ("GET", "/healthz"): ({}, None),
    ("GET", "/readiness"): ({}, None),
    ("GET", "/v2/health/live"): ({}, None),
    ("GET", "/v2/health/ready"): ({}, None),
    ("GET", "/metrics"): ({}, None),
    ("GET", "/model/registry"): ({}, None),
    ("POST", "/model/add"): ({}, {"model_id": "known/1"}),
    ("POST", "/model/remove"): ({}, {"model_id": "known/1"}),
    ("POST", "/model/clear"): ({}, None),
    ("GET", "/models"): ({}, None),
    ("POST", "/models/{project}/{version}"): ({}, b"not a multipart body"),
    ("POST", "/infer/object_detection"): ({}, {"model_id": "known/1", "image": IMAGE}),
    ("POST", "/infer/instance_segmentation"): ({}, {"model_id": "known/1", "image": IMAGE}),
    ("POST", "/infer/keypoints_detection"): ({}, {"model_id": "known/1", "image": IMAGE}),
    ("POST", "/infer/classification"): ({}, {"model_id": "known/1", "image": IMAGE}),
    ("POST", "/infer/semantic_segmentation"): ({}, {"model_id": "known/1", "image": IMAGE}),
    ("GET", "/{project}/{version}"): ({"image": "https://example.com/a.jpg"}, None),
    ("POST", "/{project}/{version}"): ({}, IMAGE["value"].encode()),
    ("POST", "/doctr/ocr"): ({}, {"image": IMAGE}),
    ("POST", "/easy_ocr/ocr"): ({}, {"image": IMAGE}),
    ("POST", "/ocr/trocr"): ({}, {"image": IMAGE}),
    ("POST", "/ocr/pp-ocr"): ({}, {"image": IMAGE}),
    ("POST", "/clip/embed_image"): ({}, {"image": IMAGE}),
    ("POST", "/clip/embed_text"): ({}, {"text": "a cat"}),
    ("POST", "/clip/compare"): ({}, {"subject": "a", "prompt": "b", "subject_type": "text"}),
    ("POST", "/yolo_world/infer"): ({}, {"image": IMAGE, "text": ["cat"]}),
    ("POST", "/workflows/run"): ({}, {"specification": GREETING, "inputs": {}}),
    ("POST", "/infer/workflows"): ({}, {"specification": GREETING, "inputs": {}}),
    ("POST", "/{workspace_name}/workflows/{workflow_id}"): ({}, {"inputs": {}}),
    ("POST", "/infer/workflows/{workspace_name}/{workflow_id}"): ({}, {"inputs": {}}),
    ("POST", "/workflows/validate"): ({}, GREETING),
    ("POST", "/workflows/describe_interface"): ({}, {"specification": GREETING}),
    ("POST", "/{workspace_name}/workflows/{workflow_id}/describe_interface"): ({}, {}),
    ("GET", "/{workspace_name}/workflows"): ({}, None),
    ("GET", "/{workspace_name}/workflows/{workflow_id}"): ({}, None),
    ("POST", "/{workspace_name}/workflows/{workflow_id}/versions"): ({}, GREETING),
    ("GET", "/workflows/execution_engine/versions"): ({}, None),
    ("POST", "/workflows/blocks/describe"): ({}, {}),
    ("GET", "/workflows/blocks/describe"): ({}, None),
    ("GET", "/workflows/definition/schema"): ({}, None),
    ("POST", "/workflows/blocks/dynamic_outputs"): (
        {},
        {"type": "roboflow_core/property_definition@v1", "name": "p"},
    ),
    ("POST", "/inference_pipelines/initialise"): (
        {},
        {
            "video_configuration": {"video_reference": "video.mp4"},
            "processing_configuration": {"workflow_specification": GREETING},
        },
    ),
    ("GET", "/inference_pipelines/list"): ({}, None),
    ("GET", "/inference_pipelines/{pipeline_id}/status"): ({}, None),
    ("POST", "/inference_pipelines/{pipeline_id}/pause"): ({}, None),
    ("POST", "/inference_pipelines/{pipeline_id}/resume"): ({}, None),
    ("POST", "/inference_pipelines/{pipeline_id}/terminate"): ({}, None),
    ("GET", "/inference_pipelines/{pipeline_id}/consume"): ({}, {"excluded_fields": []}),
}


@dataclass(frozen=True)
class Keys:
    admin: str
    infer: str
    rival_admin: str


@pytest.fixture
def keyed(tmp_path: Path, fixture_onnx: Path) -> Iterator[tuple[TestClient, Keys, Services]]:
    settings = Settings(home=tmp_path / "home", register_demo_models=False, require_api_key=True)
    services = Services.build(settings)
    registry = services.registry
    registry.create_workspace("acme")
    registry.create_workspace("rival")
    services.models.add_from_path("acme", "known/1", fixture_onnx)
    keys = Keys(
        admin=registry.create_api_key("acme", role="admin")[1],
        infer=registry.create_api_key("acme", role="infer")[1],
        rival_admin=registry.create_api_key("rival", role="admin")[1],
    )
    services.workflows.push(services.authorizer.authorize(keys.admin), "acme", "greeting", GREETING)
    with TestClient(create_app(services)) as client:
        yield client, keys, services
    services.close()


def _operations(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


def _call(client: TestClient, method: str, template: str, key: str | None) -> Any:
    query, body = REQUESTS[(method, template)]
    path = template
    for name, value in WORKSPACE_PATHS.items():
        path = path.replace(name, value)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, bytes):
        return client.request(method, path, params=query, content=body, headers=headers)
    return client.request(method, path, params=query, json=body, headers=headers)


def test_every_route_has_a_rule_and_a_request(keyed: tuple[TestClient, Keys, Services]) -> None:
    client, _keys, _services = keyed
    operations = set(_operations(client))
    assert operations - set(ROUTE_ACCESS) == set(), "routes without an access rule"
    assert set(ROUTE_ACCESS) - operations == set(), "rules for routes that do not exist"
    assert operations - set(REQUESTS) == set(), "routes this test does not exercise"


def _rules(access: set[Access]) -> list[Any]:
    return [
        pytest.param(method, path, id=f"{method} {path}")
        for (method, path), rule in sorted(ROUTE_ACCESS.items())
        if rule.access in access
    ]


@pytest.mark.parametrize(
    ("method", "path"), _rules({Access.INFER, Access.ADMIN, Access.INTROSPECTION})
)
def test_no_key_is_401(keyed: tuple[TestClient, Keys, Services], method: str, path: str) -> None:
    client, _keys, _services = keyed
    response = _call(client, method, path, None)
    assert response.status_code == 401, response.text
    assert response.json()["error_type"] == "api_key_required"


@pytest.mark.parametrize(("method", "path"), _rules({Access.PUBLIC}))
def test_public_routes_answer_without_a_key(
    keyed: tuple[TestClient, Keys, Services], method: str, path: str
) -> None:
    client, _keys, _services = keyed
    assert _call(client, method, path, None).status_code == 200


@pytest.mark.parametrize(("method", "path"), _rules({Access.ADMIN}))
def test_infer_role_on_admin_routes_is_403(
    keyed: tuple[TestClient, Keys, Services], method: str, path: str
) -> None:
    client, keys, _services = keyed
    response = _call(client, method, path, keys.infer)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error_type"] == "forbidden"
    assert "--role admin" in body["message"]


@pytest.mark.parametrize(("method", "path"), _rules({Access.ADMIN, Access.INFER}))
def test_valid_keys_pass_the_rule(
    keyed: tuple[TestClient, Keys, Services], method: str, path: str
) -> None:
    """The admin key passes every rule; the infer key passes INFER ones (what the route then
    answers — e.g. 404 for a model this workspace lacks — is not the rule's business)."""
    client, keys, _services = keyed
    for key in (
        (keys.admin, keys.infer)
        if ROUTE_ACCESS[(method, path)].access is Access.INFER
        else (keys.admin,)
    ):
        response = _call(client, method, path, key)
        assert response.status_code not in {401, 403}, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(m, p, id=f"{m} {p}")
        for (m, p) in sorted(ROUTE_ACCESS)
        if "{workspace_name}" in p
    ],
)
def test_other_workspace_key_is_404(
    keyed: tuple[TestClient, Keys, Services], method: str, path: str
) -> None:
    client, keys, _services = keyed
    response = _call(client, method, path, keys.rival_admin)
    assert response.status_code == 404, response.text


def test_model_unloading_acts_only_on_the_callers_workspace(
    keyed: tuple[TestClient, Keys, Services],
) -> None:
    client, keys, services = keyed
    loaded = client.post("/model/add", json={"model_id": "known/1", "api_key": keys.admin})
    assert [m["model_id"] for m in loaded.json()["models"]] == ["known/1"]
    for request in (
        {"url": "/model/clear"},
        {"url": "/model/remove", "json": {"model_id": "known/1"}},
    ):
        response = client.post(**request, headers={"Authorization": f"Bearer {keys.rival_admin}"})
        assert response.status_code == 200
    assert [entry.key for entry in services.manager.loaded()] == ["acme/known/1"]
    cleared = client.post("/model/clear", headers={"Authorization": f"Bearer {keys.admin}"})
    assert cleared.json()["models"] == []


def test_introspection_without_key_when_configured(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        register_demo_models=False,
        require_api_key=True,
        introspection_requires_key=False,
    )
    services = Services.build(settings)
    try:
        with TestClient(create_app(services)) as client:
            for method, path in sorted(ROUTE_ACCESS):
                if ROUTE_ACCESS[(method, path)].access is Access.INTROSPECTION:
                    assert _call(client, method, path, None).status_code not in {401, 403}
    finally:
        services.close()


@pytest.mark.parametrize(
    ("path", "body", "names_query"),
    [
        pytest.param(
            "/workflows/run?api_key=vf_x",
            {"specification": GREETING, "inputs": {}},
            False,
            id="ignored-query",
        ),
        pytest.param("/model/registry", None, True, id="query-route"),
    ],
)
def test_401_names_the_channels_the_route_reads(
    keyed: tuple[TestClient, Keys, Services], path: str, body: Any, names_query: bool
) -> None:
    client, _keys, _services = keyed
    response = client.request("POST" if body else "GET", path, json=body)
    message = response.json()["message"]
    assert response.status_code == 401
    assert "Authorization: Bearer" in message
    if names_query:
        assert "the api_key query parameter," in message
    else:
        assert "does not read the api_key query parameter" in message
