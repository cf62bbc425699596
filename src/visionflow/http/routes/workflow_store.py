"""Stored workflow management, with the workspace's own API key (query ``api_key``, an
``Authorization: Bearer`` header, or ``api_key`` in a wrapped body):

- ``POST /{workspace_name}/workflows/{workflow_id}/versions``: the body is a definition (or
  ``{"specification": <definition>}``); it must compile (else the compiler's 400) and becomes the
  next version (201);
- ``GET /{workspace_name}/workflows``: every stored workflow with its latest version;
- ``GET /{workspace_name}/workflows/{workflow_id}``: the latest version, or ``?version=N``.

A missing key answers 401, an invalid one 401, another workspace's key 404 (as for a workspace
that does not exist). These routes are registered after the run routes, so
``POST /{workspace_name}/workflows/{workflow_id}`` still runs a workflow and
``/infer/workflows/{workspace}/{id}`` is still the deprecated run alias.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.service.workflows import definition_from
from visionflow.store import StoredWorkflowRecord

__all__ = ["router"]

router = APIRouter(tags=["workflows"])


def _version_body(record: StoredWorkflowRecord) -> dict[str, Any]:
    return {
        "workspace": record.workspace,
        "workflow_id": record.name,
        "version": record.version,
        "created_at": record.created_at.isoformat(),
    }


@router.post(
    "/{workspace_name}/workflows/{workflow_id}/versions",
    status_code=201,
    summary="Store a workflow version",
    description=(
        'Store a workflow definition (the definition itself, or `{"specification": ...}`) as '
        "the next version of `workflow_id` in `workspace_name`; it is validated first. Needs an "
        "admin key of that workspace."
    ),
)
def push_version(
    workspace_name: str, workflow_id: str, body: dict[str, Any], request: Request
) -> Response:
    definition = definition_from(body)
    wrapper_key = body.get("api_key") if definition is not body else None
    svc = services(request)
    principal = authorize(request, wrapper_key if isinstance(wrapper_key, str) else None)
    record = svc.workflows.push(principal, workspace_name, workflow_id, definition)
    return JSONBody(_version_body(record), status_code=201)


@router.get(
    "/{workspace_name}/workflows",
    summary="List stored workflows",
    description="The stored workflows of `workspace_name` with their latest version and times.",
)
def list_workflows(workspace_name: str, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request)
    workflows = [
        {
            "workflow_id": summary.name,
            "latest_version": summary.latest_version,
            "created_at": summary.created_at.isoformat(),
            "updated_at": summary.updated_at.isoformat(),
        }
        for summary in svc.workflows.list_stored(principal, workspace_name)
    ]
    return JSONBody({"workspace": workspace_name, "workflows": workflows})


@router.get(
    "/{workspace_name}/workflows/{workflow_id}",
    summary="Show a stored workflow",
    description=(
        "A stored workflow's latest (or `?version=`) definition and its version information."
    ),
)
def show_workflow(
    workspace_name: str, workflow_id: str, request: Request, version: str | None = None
) -> Response:
    svc = services(request)
    principal = authorize(request)
    record = svc.workflows.show(principal, workspace_name, workflow_id, version)
    return JSONBody({**_version_body(record), "specification": record.definition})
