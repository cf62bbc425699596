"""The errors of the stream API; each carries its HTTP status (``visionflow.errors``)."""

from __future__ import annotations

from visionflow.errors import InvalidInputError, NotFoundError, VisionflowError

__all__ = ["PipelineNotFoundError", "TooManyPipelinesError", "VideoSourceNotAllowedError"]


class PipelineNotFoundError(NotFoundError):
    code = "pipeline_not_found"


class VideoSourceNotAllowedError(InvalidInputError):
    code = "video_source_not_allowed"


class TooManyPipelinesError(VisionflowError):
    status_code = 429
    code = "too_many_pipelines"
