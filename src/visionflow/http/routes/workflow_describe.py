"""Workflow introspection routes (wire reference §1, §3.11, §4.15):

- ``POST /workflows/describe_interface`` (inline ``specification``) and
  ``POST /{workspace_name}/workflows/{workflow_id}/describe_interface`` (stored): inputs and
  outputs by kind, with typing hints and schemas of the kinds;
- ``POST /workflows/blocks/describe`` (and the deprecated ``GET``): every registered block;
- ``GET /workflows/definition/schema``: the JSON schema of a definition;
- ``POST /workflows/blocks/dynamic_outputs``: the outputs of one step manifest.

Descriptions come from the block registry at run time, so blocks added later appear.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody

__all__ = ["VersionId", "router"]

router = APIRouter(tags=["workflows"])


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# ``workflow_version_id`` may come as a number or a string.
VersionId = Annotated[str | None, BeforeValidator(_as_text)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_key: str | None = None


class SpecificationDescribeRequest(_Request):
    specification: dict[str, Any]


class PredefinedDescribeRequest(_Request):
    use_cache: bool = True
    workflow_version_id: VersionId = Field(default=None)


class DescribeBlocksRequest(_Request):
    dynamic_blocks_definitions: list[Any] = Field(default_factory=list)
    execution_engine_version: str | None = None


@router.post(
    "/workflows/describe_interface",
    summary="Describe a workflow's interface",
    description="The inputs, outputs and kinds of a workflow definition, without running it.",
)
def describe_interface(body: SpecificationDescribeRequest, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    return JSONBody(svc.workflows.describe_interface(body.specification, principal))


@router.post(
    "/{workspace_name}/workflows/{workflow_id}/describe_interface",
    summary="Describe a stored workflow's interface",
    description=(
        "The inputs, outputs and kinds of a stored workflow definition, without running it."
    ),
)
def describe_stored_interface(
    workspace_name: str, workflow_id: str, body: PredefinedDescribeRequest, request: Request
) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    description = svc.workflows.describe_stored_interface(
        principal,
        workspace_name,
        workflow_id,
        version=body.workflow_version_id,
        use_cache=body.use_cache,
    )
    return JSONBody(description)


@router.post(
    "/workflows/blocks/describe",
    summary="Describe workflow blocks",
    description=(
        "Every block this server runs: manifest schemas, outputs, kinds and connections; "
        "optionally with the dynamic outputs of a definition's blocks."
    ),
)
def describe_blocks(request: Request, body: DescribeBlocksRequest | None = None) -> Response:
    body = body or DescribeBlocksRequest()
    authorize(request, body.api_key)
    description = services(request).workflows.describe_blocks(
        body.execution_engine_version, body.dynamic_blocks_definitions
    )
    return JSONBody(description)


@router.get(
    "/workflows/blocks/describe",
    deprecated=True,
    summary="Describe workflow blocks (legacy GET)",
    description="The old GET form of `POST /workflows/blocks/describe`.",
)
def describe_blocks_legacy(request: Request, air_gapped: bool = False) -> Response:
    # ``air_gapped`` filters out blocks that need internet access in the reference; none do here.
    authorize(request)
    return JSONBody(services(request).workflows.describe_blocks())


@router.get(
    "/workflows/definition/schema",
    summary="Workflow definition schema",
    description="The JSON schema of a workflow definition (every block's manifest).",
)
def definition_schema(request: Request) -> Response:
    authorize(request)
    return JSONBody({"schema": services(request).workflows.definition_schema()})


@router.post(
    "/workflows/blocks/dynamic_outputs",
    summary="A block's dynamic outputs",
    description=(
        "The outputs (names and kinds) a block manifest declares once its fields are set."
    ),
)
def dynamic_outputs(step_manifest: dict[str, Any], request: Request) -> Response:
    key = step_manifest.get("api_key")
    authorize(request, key if isinstance(key, str) else None)
    return JSONBody(services(request).workflows.dynamic_outputs(step_manifest))
