"""Who may call which route: one rule per route, enforced by ``authorize``.

Every operation of the OpenAPI schema has a rule here (a test fails for a route without one):

- ``PUBLIC``: health and server info; no key, never throttled, never waits behind model work;
- ``INTROSPECTION``: schemas, block descriptions, metrics; a key (any role) when the server
  requires keys and ``VISIONFLOW_INTROSPECTION_REQUIRES_KEY`` is on (the default);
- ``INFER``: inference and workflow runs; any valid key (or none where keys are not required);
- ``ADMIN``: changes to a workspace (stored workflows, unloading models); an ``admin`` key.

A rule also says whether the route reads a key from the query string: the reference reads
``?api_key=`` on some routes only, and the 401 message names exactly the channels a route reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from visionflow.http.deps import services
from visionflow.http.keys import api_key_from
from visionflow.service.auth import ADMIN, INFER, Principal

__all__ = ["ROUTE_ACCESS", "Access", "Rule", "authorize", "rule_for"]


class Access(StrEnum):
    PUBLIC = "public"
    INTROSPECTION = "introspection"
    INFER = "infer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Rule:
    access: Access
    query_key: bool = True


_PUBLIC = Rule(Access.PUBLIC)
_INTROSPECTION = Rule(Access.INTROSPECTION)
_INFER = Rule(Access.INFER)
_INFER_NO_QUERY = Rule(Access.INFER, query_key=False)
_INTROSPECTION_NO_QUERY = Rule(Access.INTROSPECTION, query_key=False)
_ADMIN = Rule(Access.ADMIN)

ROUTE_ACCESS: dict[tuple[str, str], Rule] = {
    # server
    ("GET", "/info"): _PUBLIC,
    ("GET", "/healthz"): _PUBLIC,
    ("GET", "/readiness"): _PUBLIC,
    ("GET", "/v2/health/live"): _PUBLIC,
    ("GET", "/v2/health/ready"): _PUBLIC,
    ("GET", "/metrics"): _INTROSPECTION,
    # models in memory
    ("GET", "/model/registry"): _INFER,
    ("POST", "/model/add"): _INFER,
    ("POST", "/model/remove"): _ADMIN,
    ("POST", "/model/clear"): _ADMIN,
    # the model catalog
    ("GET", "/models"): _INFER,
    ("POST", "/models/{project}/{version}"): _ADMIN,
    # inference
    ("POST", "/infer/object_detection"): _INFER_NO_QUERY,
    ("POST", "/infer/instance_segmentation"): _INFER_NO_QUERY,
    ("POST", "/infer/keypoints_detection"): _INFER_NO_QUERY,
    ("POST", "/infer/classification"): _INFER_NO_QUERY,
    ("POST", "/infer/semantic_segmentation"): _INFER_NO_QUERY,
    ("GET", "/{project}/{version}"): _INFER,
    ("POST", "/{project}/{version}"): _INFER,
    ("POST", "/doctr/ocr"): _INFER,
    ("POST", "/easy_ocr/ocr"): _INFER,
    ("POST", "/ocr/trocr"): _INFER,
    ("POST", "/ocr/pp-ocr"): _INFER,
    ("POST", "/clip/embed_image"): _INFER,
    ("POST", "/clip/embed_text"): _INFER,
    ("POST", "/clip/compare"): _INFER,
    ("POST", "/yolo_world/infer"): _INFER,
    # workflows
    ("POST", "/workflows/run"): _INFER_NO_QUERY,
    ("POST", "/infer/workflows"): _INFER_NO_QUERY,
    ("POST", "/{workspace_name}/workflows/{workflow_id}"): _INFER_NO_QUERY,
    ("POST", "/infer/workflows/{workspace_name}/{workflow_id}"): _INFER_NO_QUERY,
    ("POST", "/workflows/validate"): _INFER,
    ("POST", "/workflows/describe_interface"): _INFER_NO_QUERY,
    ("POST", "/{workspace_name}/workflows/{workflow_id}/describe_interface"): _INFER_NO_QUERY,
    ("GET", "/{workspace_name}/workflows"): _INFER,
    ("GET", "/{workspace_name}/workflows/{workflow_id}"): _INFER,
    ("POST", "/{workspace_name}/workflows/{workflow_id}/versions"): _ADMIN,
    # video inference pipelines (the SDK sends its key in the body of GET calls too)
    ("POST", "/inference_pipelines/initialise"): _INFER,
    ("GET", "/inference_pipelines/list"): _INFER,
    ("GET", "/inference_pipelines/{pipeline_id}/status"): _INFER,
    ("POST", "/inference_pipelines/{pipeline_id}/pause"): _INFER,
    ("POST", "/inference_pipelines/{pipeline_id}/resume"): _INFER,
    ("POST", "/inference_pipelines/{pipeline_id}/terminate"): _INFER,
    ("GET", "/inference_pipelines/{pipeline_id}/consume"): _INFER,
    # introspection
    ("GET", "/workflows/execution_engine/versions"): _INTROSPECTION,
    ("POST", "/workflows/blocks/describe"): _INTROSPECTION_NO_QUERY,
    ("GET", "/workflows/blocks/describe"): _INTROSPECTION,
    ("GET", "/workflows/definition/schema"): _INTROSPECTION,
    ("POST", "/workflows/blocks/dynamic_outputs"): _INTROSPECTION_NO_QUERY,
}


def rule_for(request: Request) -> Rule:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    try:
        return ROUTE_ACCESS[(request.method.upper(), path)]
    except KeyError:
        raise LookupError(f"route {request.method} {path} has no access rule") from None


def _channels(request: Request, rule: Rule) -> str:
    body_or_header = "the api_key body field or an 'Authorization: Bearer <key>' header"
    if rule.query_key:
        return f"the api_key query parameter, {body_or_header}"
    if "api_key" in request.query_params:
        return f"{body_or_header} (this route does not read the api_key query parameter)"
    return body_or_header


def authorize(request: Request, body_key: str | None = None) -> Principal:
    """The caller's principal under the route's rule (raises 401/403/429 as the rule says)."""
    rule = rule_for(request)
    svc = services(request)
    settings = svc.settings
    if rule.access is Access.PUBLIC or (
        rule.access is Access.INTROSPECTION
        and not (settings.api_key_required and settings.introspection_requires_key)
    ):
        return Principal(workspace=None, visible_workspaces=(settings.demo_workspace,))
    return svc.authorizer.authorize(
        api_key_from(request, body_key, query=rule.query_key),
        need=ADMIN if rule.access is Access.ADMIN else INFER,
        client=request.client.host if request.client else None,
        channels=_channels(request, rule),
    )
