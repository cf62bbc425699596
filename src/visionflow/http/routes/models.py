"""Model management: ``/model/registry``, ``/model/add``, ``/model/remove``, ``/model/clear``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from visionflow.core.wire import TASK_ROUTES
from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.http.schemas import AddModelRequest, ClearModelRequest
from visionflow.service.auth import Principal
from visionflow.service.executor import LoadedInfo
from visionflow.service.services import Services
from visionflow.store import ModelVersionRecord

router = APIRouter(tags=["models"])


def _description(record: ModelVersionRecord, info: LoadedInfo) -> dict[str, Any]:
    spec = info.input
    return {
        "model_id": record.model_id,
        "task_type": record.task,
        "batch_size": spec.batch_size,
        "input_height": spec.height,
        "input_width": spec.width,
        "vram_bytes": None,
        "request_aliases": [],
        "request_paths": [TASK_ROUTES.get(record.task, "")],
    }


def registry_body(svc: Services, principal: Principal) -> dict[str, Any]:
    """``ModelsDescriptions`` with the reference's null GPU fields present."""
    return {
        "models": [_description(r, i) for r, i in svc.inference.loaded(principal)],
        "total_vram_bytes": None,
        "gpu_memory_used": None,
        "gpu_memory_total": None,
        "torch_cuda_allocated": None,
        "torch_cuda_reserved": None,
        "torch_cuda_allocator_cache": None,
        "non_torch_gpu_memory": None,
    }


@router.get(
    "/model/registry",
    summary="Loaded models",
    description=(
        "The models of the caller's workspaces that are loaded in memory now (task, input size, "
        "batch size, request paths). Registered models that are not loaded are listed by `GET "
        "/models`."
    ),
)
def model_registry(request: Request) -> Response:
    svc = services(request)
    principal = authorize(request)
    return JSONBody(registry_body(svc, principal))


@router.post(
    "/model/add",
    summary="Load a model",
    description=(
        "Load a registered model (`model_id` = `project/version`) ahead of its first request, so "
        "the first inference does not pay the cold start. Answers the loaded models."
    ),
)
def model_add(body: AddModelRequest, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    svc.inference.prepare(principal, body.model_id)
    return JSONBody(registry_body(svc, principal))


@router.post(
    "/model/remove",
    summary="Unload a model",
    description=(
        "Unload a model of the caller's own workspace from memory (it stays registered). Needs "
        "an admin key. Answers the loaded models."
    ),
)
def model_remove(body: ClearModelRequest, request: Request) -> Response:
    svc = services(request)
    principal = authorize(request, body.api_key)
    svc.inference.unload(principal, body.model_id)
    return JSONBody(registry_body(svc, principal))


@router.post(
    "/model/clear",
    summary="Unload every model",
    description=(
        "Unload every model of the caller's own workspace from memory (they stay registered). "
        "Needs an admin key."
    ),
)
def model_clear(request: Request) -> Response:
    svc = services(request)
    principal = authorize(request)
    svc.inference.unload_all(principal)
    return JSONBody(registry_body(svc, principal))
