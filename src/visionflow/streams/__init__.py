"""Video inference pipelines: files, RTSP and HTTP streams through a workflow, frame by frame.

Above the service layer (it runs workflows through ``WorkflowService``), below the transports:
``http/routes/pipelines.py`` (the reference's ``/inference_pipelines/*`` API) and
``cli/video.py`` (``visionflow video``).
"""

from visionflow.streams._errors import (
    PipelineNotFoundError,
    TooManyPipelinesError,
    VideoSourceNotAllowedError,
)
from visionflow.streams._manager import PipelineManager, PipelineRequest, WorkflowChoice
from visionflow.streams._pipeline import (
    Pipeline,
    PipelineState,
    Result,
    Runner,
    SourceSpec,
    VideoOptions,
)
from visionflow.streams._source import (
    BufferConsumption,
    BufferFilling,
    Capture,
    Frame,
    FrameMetadata,
    SourceState,
    StatusUpdate,
    VideoSource,
    open_capture,
)

__all__ = [
    "BufferConsumption",
    "BufferFilling",
    "Capture",
    "Frame",
    "FrameMetadata",
    "Pipeline",
    "PipelineManager",
    "PipelineNotFoundError",
    "PipelineRequest",
    "PipelineState",
    "Result",
    "Runner",
    "SourceSpec",
    "SourceState",
    "StatusUpdate",
    "TooManyPipelinesError",
    "VideoOptions",
    "VideoSource",
    "VideoSourceNotAllowedError",
    "WorkflowChoice",
    "open_capture",
]
