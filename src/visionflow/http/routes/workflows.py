"""Workflow routes (wire reference §1, §3.11, §4.15):

- ``POST /workflows/run`` (and the deprecated ``/infer/workflows``): run an inline
  ``specification``;
- ``POST /{workspace_name}/workflows/{workflow_id}`` (and the deprecated
  ``/infer/workflows/{workspace_name}/{workflow_id}``): run a stored workflow;
- ``POST /workflows/validate``: compile a definition, ``{"status": "ok"}`` or the 400;
- ``GET /workflows/execution_engine/versions``;
- the introspection routes of ``workflow_describe`` and the stored-workflow management routes of
  ``workflow_store``, included last: a management path never shadows a run path.

The API key comes from the body, overridden by an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import elapsed_s, services
from visionflow.http.responses import JSONBody
from visionflow.http.routes import workflow_describe, workflow_store
from visionflow.http.routes.workflow_describe import VersionId
from visionflow.service.workflows import WorkflowResult, WorkflowRun

router = APIRouter(tags=["workflows"])


class _WorkflowRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_key: str | None = None
    inputs: dict[str, Any]
    excluded_fields: list[str] | None = None
    enable_profiling: bool = False
    # ``debug`` is accepted for compatibility (there are no custom Python blocks).
    debug: bool = False
    workflow_id: str | None = None
    disable_sinks: bool = False

    def run(self) -> WorkflowRun:
        return WorkflowRun(
            inputs=self.inputs,
            excluded_fields=tuple(self.excluded_fields or ()),
            enable_profiling=self.enable_profiling,
            disable_sinks=self.disable_sinks,
        )


class SpecificationRequest(_WorkflowRequest):
    specification: dict[str, Any]
    is_preview: bool = False


class PredefinedRequest(_WorkflowRequest):
    use_cache: bool = True
    workflow_version_id: VersionId = Field(default=None)


def _respond(request: Request, result: WorkflowResult, headers: dict[str, str]) -> Response:
    headers["X-Processing-Time"] = f"{elapsed_s(request):.4f}"
    return JSONBody(
        {"outputs": result.outputs, "profiler_trace": result.profiler_trace}, headers=headers
    )


@router.post(
    "/workflows/run",
    summary="Run a workflow definition",
    description=(
        "Compile and run the workflow in `specification` on `inputs`: `outputs` per input image, "
        "and `profiler_trace` when `enable_profiling` is set and allowed."
    ),
)
def run_specification(body: SpecificationRequest, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    result = svc.workflows.run(principal, body.specification, body.run())
    return _respond(request, result, {})


@router.post(
    "/infer/workflows",
    deprecated=True,
    summary="Run a workflow definition (legacy path)",
    description="The old path of `POST /workflows/run`; same body and answer.",
)
def run_specification_legacy(body: SpecificationRequest, request: Request) -> Response:
    return run_specification(body, request)


@router.post(
    "/{workspace_name}/workflows/{workflow_id}",
    summary="Run a stored workflow",
    description=(
        "Run the latest (or `?version=`) stored definition of `workflow_id` in `workspace_name` "
        "on `inputs`. Definitions are cached (`VISIONFLOW_WORKFLOWS_DEFINITION_CACHE_S`); "
        "`use_cache: false` reads the store."
    ),
)
def run_stored(
    workspace_name: str, workflow_id: str, body: PredefinedRequest, request: Request
) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    result = svc.workflows.run_stored(
        principal,
        workspace_name,
        workflow_id,
        body.run(),
        version=body.workflow_version_id,
        use_cache=body.use_cache,
    )
    return _respond(request, result, {"X-Workflow-Id": workflow_id})


@router.post(
    "/infer/workflows/{workspace_name}/{workflow_id}",
    deprecated=True,
    summary="Run a stored workflow (legacy path)",
    description=(
        "The old path of `POST /{workspace_name}/workflows/{workflow_id}`; same body and answer."
    ),
)
def run_stored_legacy(
    workspace_name: str, workflow_id: str, body: PredefinedRequest, request: Request
) -> Response:
    return run_stored(workspace_name, workflow_id, body, request)


@router.post(
    "/workflows/validate",
    summary="Validate a workflow definition",
    description=(
        'Compile a workflow definition without running it: `{"status": "ok"}`, or a 400 '
        "naming the step and field that is wrong."
    ),
)
def validate(definition: dict[str, Any], request: Request) -> Response:
    svc = services(request)
    principal = authorize(request)
    svc.workflows.validate(definition, principal)
    return JSONBody({"status": "ok"})


@router.get(
    "/workflows/execution_engine/versions",
    summary="Execution engine versions",
    description=(
        "The workflow execution-engine versions this server runs (definitions name one in "
        "`version`)."
    ),
)
def execution_engine_versions(request: Request) -> Response:
    authorize(request)
    return JSONBody({"versions": services(request).workflows.execution_engine_versions()})


# After the run routes: ``/infer/workflows/{ws}/{id}`` must stay a run, not a management path.
router.include_router(workflow_describe.router)
router.include_router(workflow_store.router)
