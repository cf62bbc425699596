"""The reference's stream API (``/inference_pipelines/*``), as the official SDK drives it:
initialise, list, status, pause, resume, terminate and consume.

Every route reads the API key from the ``api_key`` query parameter, an ``Authorization: Bearer``
header or the JSON body — the SDK sends it in the body even on its GET calls. Answers carry the
reference's envelope: ``{"status": "success", "context": {"request_id", "pipeline_id"}, ...}``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.logs import request_id
from visionflow.http.responses import JSONBody
from visionflow.service.auth import Principal
from visionflow.streams import (
    BufferConsumption,
    BufferFilling,
    PipelineManager,
    PipelineRequest,
    VideoOptions,
    WorkflowChoice,
)

__all__ = ["router"]

router = APIRouter(tags=["inference pipelines"])


class _Keyed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_key: str | None = None


class VideoConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["VideoConfiguration"] = "VideoConfiguration"
    video_reference: str | int | list[str | int]
    max_fps: float | None = Field(default=None, gt=0)
    source_buffer_filling_strategy: BufferFilling | None = BufferFilling.DROP_OLDEST
    source_buffer_consumption_strategy: BufferConsumption | None = BufferConsumption.EAGER
    video_source_properties: dict[str, float | str] | None = None
    batch_collection_timeout: float | None = Field(default=None, ge=0)


class WorkflowConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["WorkflowConfiguration"] = "WorkflowConfiguration"
    workflow_specification: dict[str, Any] | None = None
    workspace_name: str | None = None
    workflow_id: str | None = None
    workflow_version_id: str | None = None
    image_input_name: str = "image"
    workflows_parameters: dict[str, Any] | None = None
    disable_sinks: bool = False
    # Accepted for compatibility: one worker thread per pipeline runs the workflow here.
    workflows_thread_pool_workers: int = 4
    execution_engine_thread_pool_workers: int = 4
    cancel_thread_pool_tasks_on_exit: bool = True
    video_metadata_input_name: str = "video_metadata"


class MemorySinkConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["MemorySinkConfiguration"] = "MemorySinkConfiguration"
    results_buffer_size: int = Field(default=64, ge=1)


class InitialisePipelinePayload(_Keyed):
    video_configuration: VideoConfiguration
    processing_configuration: WorkflowConfiguration
    sink_configuration: MemorySinkConfiguration = Field(default_factory=MemorySinkConfiguration)
    # Accepted for compatibility; the server's settings bound these buffers.
    consumption_timeout: float | None = None
    predictions_queue_size: int | None = None
    decoding_buffer_size: int | None = None

    def request(self) -> PipelineRequest:
        video = self.video_configuration
        work = self.processing_configuration
        references = (
            video.video_reference
            if isinstance(video.video_reference, list)
            else [video.video_reference]
        )
        return PipelineRequest(
            video_reference=references,
            workflow=WorkflowChoice(
                specification=work.workflow_specification,
                workspace=work.workspace_name,
                workflow_id=work.workflow_id,
                version=work.workflow_version_id,
            ),
            options=VideoOptions(
                filling=video.source_buffer_filling_strategy or BufferFilling.DROP_OLDEST,
                consumption=video.source_buffer_consumption_strategy or BufferConsumption.EAGER,
                max_fps=video.max_fps,
                properties=video.video_source_properties,
                batch_collection_timeout_s=video.batch_collection_timeout,
            ),
            image_input_name=work.image_input_name,
            video_metadata_input_name=work.video_metadata_input_name,
            workflows_parameters=work.workflows_parameters or {},
            results_buffer_size=self.sink_configuration.results_buffer_size,
            disable_sinks=work.disable_sinks,
        )


class ConsumeResultsPayload(_Keyed):
    excluded_fields: list[str] = Field(default_factory=list)


def _manager(request: Request) -> PipelineManager:
    found: PipelineManager = request.app.state.pipelines
    return found


def _caller(request: Request, body: _Keyed | None) -> Principal:
    """The SDK sends its key in the JSON body of GET calls too; query and header also count."""
    return authorize(request, body.api_key if body else None)


def _answer(pipeline_id: str | None, **fields: Any) -> Response:
    context = {"request_id": request_id.get(), "pipeline_id": pipeline_id}
    return JSONBody({"status": "success", "context": context, **fields})


@router.post(
    "/inference_pipelines/initialise",
    summary="Start an inference pipeline",
    description=(
        "Run a workflow (inline `workflow_specification`, or `workspace_name` + `workflow_id`) "
        "on every frame of one or more videos: files under `VISIONFLOW_VIDEO_FOLDER`, RTSP or "
        "HTTP(S) streams (the image URLs' address guard applies). Results go to an in-memory "
        "buffer of `results_buffer_size` entries that `consume` reads. At most "
        "`VISIONFLOW_MAX_PIPELINES` pipelines at once (429 beyond)."
    ),
)
def initialise(body: InitialisePipelinePayload, request: Request) -> Response:
    principal = authorize(request, body.api_key)
    pipeline_id = _manager(request).initialise(principal, body.request())
    return _answer(pipeline_id)


@router.get(
    "/inference_pipelines/list",
    summary="List inference pipelines",
    description="The ids of the caller's workspace's pipelines that have not been terminated.",
)
def list_pipelines(request: Request, body: _Keyed | None = None) -> Response:
    principal = _caller(request, body)
    return _answer(None, pipelines=_manager(request).list_ids(principal))


@router.get(
    "/inference_pipelines/{pipeline_id}/status",
    summary="Status of an inference pipeline",
    description=(
        "The pipeline's report: `inference_throughput` (frames/s), latencies and completed "
        "frames per source, the sources' states (`ENDED` at the end of a file), recent events "
        "(connection lost, inference errors), `pipeline_state` and frame counters."
    ),
)
def status(pipeline_id: str, request: Request, body: _Keyed | None = None) -> Response:
    principal = _caller(request, body)
    return _answer(pipeline_id, report=_manager(request).status(principal, pipeline_id))


@router.post(
    "/inference_pipelines/{pipeline_id}/pause",
    summary="Pause an inference pipeline",
    description=(
        "Stop running the workflow: files stop being read, streams keep being read and their "
        "frames are discarded. A 2xx on a pipeline that has ended too."
    ),
)
def pause(pipeline_id: str, request: Request, body: _Keyed | None = None) -> Response:
    principal = _caller(request, body)
    _manager(request).pause(principal, pipeline_id)
    return _answer(pipeline_id)


@router.post(
    "/inference_pipelines/{pipeline_id}/resume",
    summary="Resume an inference pipeline",
    description="Run the workflow again on a paused pipeline (a 2xx on a running one too).",
)
def resume(pipeline_id: str, request: Request, body: _Keyed | None = None) -> Response:
    principal = _caller(request, body)
    _manager(request).resume(principal, pipeline_id)
    return _answer(pipeline_id)


@router.post(
    "/inference_pipelines/{pipeline_id}/terminate",
    summary="Terminate an inference pipeline",
    description=(
        "Stop the pipeline, release its videos and drop its buffered results; it leaves `list` "
        "at once."
    ),
)
def terminate(pipeline_id: str, request: Request, body: _Keyed | None = None) -> Response:
    principal = _caller(request, body)
    _manager(request).terminate(principal, pipeline_id)
    return _answer(pipeline_id)


@router.get(
    "/inference_pipelines/{pipeline_id}/consume",
    summary="Take a result of an inference pipeline",
    description=(
        "The oldest buffered result: `outputs` (the workflow's outputs, one entry per source, "
        "`null` for a source without a frame in that batch; `excluded_fields` left out) and "
        "`frames_metadata` (`frame_id`, `frame_timestamp`, `source_id`); empty lists when "
        "nothing is buffered."
    ),
)
def consume(
    pipeline_id: str, request: Request, body: ConsumeResultsPayload | None = None
) -> Response:
    principal = _caller(request, body)
    excluded = body.excluded_fields if body else []
    outputs, frames = _manager(request).consume(principal, pipeline_id, excluded)
    return _answer(pipeline_id, outputs=outputs, frames_metadata=frames)
