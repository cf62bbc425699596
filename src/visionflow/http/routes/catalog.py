"""The model catalog: ``GET /models`` (every model the key may use, loaded or not) and
``POST /models/{project}/{version}`` (register an uploaded ONNX file; admin keys)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from visionflow.errors import InvalidInputError
from visionflow.http.access import authorize
from visionflow.http.deps import services
from visionflow.http.responses import JSONBody
from visionflow.service.catalog import list_models, upload_model

router = APIRouter(tags=["models"])


@router.get(
    "/models",
    summary="Registered models",
    description=(
        "The caller's workspace (`null` without a key), and every model version its key may run: "
        "its own workspace's, then the demo "
        "workspace's, loaded or not. Each with task, request path, class names, input size, the "
        "project's versions, keypoint names and skeleton, and whether it is loaded now."
    ),
)
def catalog(request: Request) -> Response:
    svc = services(request)
    principal = authorize(request)
    entries = list_models(svc, principal)
    return JSONBody(
        {
            "workspace": principal.workspace,
            "visible_workspaces": list(principal.visible_workspaces),
            "models": [entry.as_dict() for entry in entries],
        }
    )


@router.post(
    "/models/{project}/{version}",
    status_code=201,
    summary="Upload a model",
    description=(
        "Register an ONNX file (an Ultralytics export; its metadata names the task and classes) "
        "sent as the multipart part `file` as `project/version` in the caller's workspace. Needs "
        "an admin key. Larger files than `VISIONFLOW_MAX_BODY_MB` are refused (413); register "
        "those, and package folders, with `visionflow models add`."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
async def upload(project: str, version: str, request: Request) -> Response:
    svc = services(request)
    # The key is checked before a possibly large body is read.
    principal = authorize(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise InvalidInputError(
            f"send the model as multipart/form-data with a part named 'file' (got {media or 'no'} "
            "Content-Type)"
        )
    async with request.form() as form:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInputError("multipart body has no file part named 'file'")
        data = await part.read()
        filename = part.filename or ""
    record = await run_in_threadpool(
        upload_model, svc, principal, f"{project}/{version}", filename, data
    )
    entry = next(e for e in list_models(svc, principal) if e.record == record)
    return JSONBody(entry.as_dict(), status_code=201)
