"""The pipelines of one server: start them under the server's limits, find them for their
workspace only, stop them all on shutdown, and count them for ``/metrics``.

A pipeline belongs to the workspace of the key that started it; any other key is told it does
not exist (404), as for stored workflows. Video files are read only under
``VISIONFLOW_VIDEO_FOLDER``; stream URLs pass the image URLs' address guard.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from visionflow.config import Settings
from visionflow.errors import InvalidInputError
from visionflow.service.auth import Principal
from visionflow.service.metrics import Metrics
from visionflow.service.services import Services
from visionflow.service.urls import UrlFetcher
from visionflow.service.workflows import WorkflowService
from visionflow.streams._errors import (
    PipelineNotFoundError,
    TooManyPipelinesError,
    VideoSourceNotAllowedError,
)
from visionflow.streams._pipeline import (
    Pipeline,
    PipelineState,
    Result,
    SourceSpec,
    VideoOptions,
)
from visionflow.streams._source import Capture, Frame, open_capture
from visionflow.workflows import StepMemory
from visionflow.workflows.serialize import serialize_value
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = ["PipelineManager", "PipelineRequest", "WorkflowChoice"]

log = logging.getLogger("visionflow.streams")

# State a pipeline's stateful blocks keep (trackers, zones...): entries per pipeline.
_MEMORY_ENTRIES = 1024


@dataclass(frozen=True)
class WorkflowChoice:
    """An inline ``specification``, or a stored workflow by ``workspace`` and ``workflow_id``."""

    specification: Mapping[str, Any] | None = None
    workspace: str | None = None
    workflow_id: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class PipelineRequest:
    video_reference: Sequence[str | int]
    workflow: WorkflowChoice
    options: VideoOptions = field(default_factory=VideoOptions)
    image_input_name: str = "image"
    video_metadata_input_name: str = "video_metadata"
    workflows_parameters: Mapping[str, Any] = field(default_factory=dict)
    results_buffer_size: int = 64
    disable_sinks: bool = False


class PipelineManager:
    def __init__(
        self,
        settings: Settings,
        workflows: WorkflowService,
        fetcher: UrlFetcher,
        *,
        metrics: Metrics | None = None,
        opener: Callable[[str], Capture] | None = None,
    ) -> None:
        self._settings = settings
        self._workflows = workflows
        self._fetcher = fetcher
        self._opener = opener or functools.partial(
            open_capture, timeout_s=settings.pipeline_stream_timeout_s
        )
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        # Totals over every pipeline this process ran (terminated ones included).
        self._retired_processed = 0
        self._retired_dropped = 0
        self._metrics = metrics
        self._collector = _PipelineCollector(self)
        if metrics is not None:
            metrics.registry.register(self._collector)

    @classmethod
    def for_services(cls, services: Services) -> PipelineManager:
        return cls(
            services.settings,
            services.workflows,
            services.images.fetcher,
            metrics=services.metrics,
        )

    # -- use cases --------------------------------------------------------------------------------
    def initialise(self, principal: Principal, request: PipelineRequest) -> str:
        self._reap()
        sources = self._sources(request.video_reference)
        definition = self._definition(principal, request.workflow)
        children = self._workflows.child_resolver(principal)
        plan, _cache_hit = self._workflows.compiler.compile(definition, children)
        declared = {i.name: i for i in plan.inputs}
        image_input = declared.get(request.image_input_name)
        if image_input is None or not image_input.is_image:
            raise InvalidInputError(
                f"the workflow has no image input named {request.image_input_name!r} "
                "(processing_configuration.image_input_name)",
                details={"inputs": sorted(declared)},
            )
        metadata_input = declared.get(request.video_metadata_input_name)
        with_metadata = metadata_input is not None and metadata_input.is_video_metadata
        options = request.options
        options = VideoOptions(
            buffer_size=self._settings.pipeline_frame_buffer,
            filling=options.filling,
            consumption=options.consumption,
            max_fps=options.max_fps,
            properties=options.properties,
            batch_collection_timeout_s=options.batch_collection_timeout_s,
            reconnect_max_s=self._settings.pipeline_reconnect_max_s,
        )
        if request.results_buffer_size < 1:
            raise InvalidInputError("sink_configuration.results_buffer_size must be >= 1")
        buffer_size = min(request.results_buffer_size, self._settings.max_pipeline_results)
        pipeline_id = str(uuid.uuid4())
        memory = StepMemory(
            max_entries=_MEMORY_ENTRIES, max_bytes=self._settings.workflows_state_max_bytes
        ).scope(principal.workspace or "", plan.definition_hash)
        parameters = dict(request.workflows_parameters)

        def run(frames: Sequence[Frame]) -> Sequence[dict[str, Any]]:
            metadata = [_metadata(f) for f in frames]
            inputs: dict[str, Any] = {
                **parameters,
                request.image_input_name: [
                    {"type": "numpy_object", "value": f.image_bgr, "video_metadata": m}
                    for f, m in zip(frames, metadata, strict=True)
                ],
            }
            if with_metadata:
                inputs[request.video_metadata_input_name] = metadata
            return self._workflows.run_frames(
                principal, definition, inputs, memory=memory, disable_sinks=request.disable_sinks
            )

        pipeline = Pipeline(
            pipeline_id,
            principal.workspace,
            sources,
            run,
            options=options,
            results_buffer_size=buffer_size,
            opener=self._opener,
        )
        with self._lock:
            if len(self._pipelines) >= self._settings.max_pipelines:
                raise TooManyPipelinesError(
                    f"this server runs at most {self._settings.max_pipelines} inference pipelines "
                    "at once (VISIONFLOW_MAX_PIPELINES); terminate one first "
                    "(POST /inference_pipelines/{pipeline_id}/terminate)",
                    details={"max_pipelines": self._settings.max_pipelines},
                    retry_after_s=5.0,
                )
            self._pipelines[pipeline_id] = pipeline
        pipeline.start()
        log.info("pipeline %s started on %d source(s)", pipeline_id, len(sources))
        return pipeline_id

    def list_ids(self, principal: Principal) -> list[str]:
        self._reap()
        with self._lock:
            return [i for i, p in self._pipelines.items() if p.owner == principal.workspace]

    def status(self, principal: Principal, pipeline_id: str) -> dict[str, Any]:
        return self._get(principal, pipeline_id).report()

    def pause(self, principal: Principal, pipeline_id: str) -> None:
        self._get(principal, pipeline_id).pause()

    def resume(self, principal: Principal, pipeline_id: str) -> None:
        self._get(principal, pipeline_id).resume()

    def terminate(self, principal: Principal, pipeline_id: str) -> None:
        pipeline = self._get(principal, pipeline_id)
        with self._lock:
            self._pipelines.pop(pipeline_id, None)
        self._retire(pipeline)

    def consume(
        self, principal: Principal, pipeline_id: str, excluded_fields: Sequence[str] = ()
    ) -> tuple[list[dict[str, Any] | None], list[dict[str, Any] | None]]:
        """The oldest buffered result: (outputs, frames metadata), aligned with the sources;
        two empty lists when nothing is buffered."""
        result = self._get(principal, pipeline_id).consume()
        if result is None:
            return [], []
        return _serialized(result, set(excluded_fields))

    def close(self) -> None:
        """Terminate every pipeline (server shutdown)."""
        with self._lock:
            pipelines = list(self._pipelines.values())
            self._pipelines.clear()
        for pipeline in pipelines:
            self._retire(pipeline)
        if self._metrics is not None:
            with contextlib.suppress(KeyError):
                self._metrics.registry.unregister(self._collector)
            self._metrics = None

    # -- helpers ----------------------------------------------------------------------------------
    def running(self) -> list[Pipeline]:
        with self._lock:
            return list(self._pipelines.values())

    def totals(self) -> tuple[int, int]:
        """Frames processed and dropped by every pipeline of this process so far."""
        running = self.running()
        with self._lock:
            processed, dropped = self._retired_processed, self._retired_dropped
        processed += sum(p.watchdog.frames_processed for p in running)
        dropped += sum(p.frames_dropped for p in running)
        return processed, dropped

    def _retire(self, pipeline: Pipeline) -> None:
        pipeline.terminate()
        with self._lock:
            self._retired_processed += pipeline.watchdog.frames_processed
            self._retired_dropped += pipeline.frames_dropped
        log.info("pipeline %s terminated", pipeline.pipeline_id)

    def _get(self, principal: Principal, pipeline_id: str) -> Pipeline:
        with self._lock:
            pipeline = self._pipelines.get(pipeline_id)
        if pipeline is None or pipeline.owner != principal.workspace:
            raise PipelineNotFoundError(
                f"Could not find InferencePipeline with id={pipeline_id}.",
                details={"pipeline_id": pipeline_id},
            )
        pipeline.touch()
        return pipeline

    def _reap(self) -> None:
        """Terminate ended pipelines nobody has named for ``VISIONFLOW_PIPELINE_ENDED_TTL_S``
        (checked whenever a pipeline is started or listed)."""
        ttl_s = self._settings.pipeline_ended_ttl_s
        if ttl_s is None:
            return
        now_s = time.monotonic()
        with self._lock:
            expired = [
                p
                for p in self._pipelines.values()
                if (idle_s := p.idle_since_end_s(now_s)) is not None and idle_s > ttl_s
            ]
            for pipeline in expired:
                del self._pipelines[pipeline.pipeline_id]
        for pipeline in expired:
            log.info(
                "pipeline %s ended and was not called for %g s "
                "(VISIONFLOW_PIPELINE_ENDED_TTL_S): terminating it",
                pipeline.pipeline_id,
                ttl_s,
            )
            self._retire(pipeline)

    def _definition(self, principal: Principal, choice: WorkflowChoice) -> Mapping[str, Any]:
        named = choice.workspace is not None and choice.workflow_id is not None
        if named == (choice.specification is not None):
            raise InvalidInputError(
                "processing_configuration needs either workflow_specification or both "
                "workspace_name and workflow_id"
            )
        if choice.specification is not None:
            self._workflows.validate(choice.specification, principal)
            return choice.specification
        assert choice.workspace is not None
        assert choice.workflow_id is not None
        record = self._workflows.stored(
            principal, choice.workspace, choice.workflow_id, choice.version
        )
        return record.definition

    def _sources(self, references: Sequence[str | int]) -> list[SourceSpec]:
        if not references:
            raise InvalidInputError("video_configuration.video_reference names no video")
        limit = self._settings.max_pipeline_sources
        if len(references) > limit:
            raise InvalidInputError(
                f"a pipeline reads at most {limit} videos (VISIONFLOW_MAX_PIPELINE_SOURCES), "
                f"got {len(references)}",
                details={"max_pipeline_sources": limit},
            )
        return [self._source(r) for r in references]

    def _source(self, reference: str | int) -> SourceSpec:
        if isinstance(reference, int) or (isinstance(reference, str) and reference.isdigit()):
            raise VideoSourceNotAllowedError(
                f"video_reference {reference!r} is a camera device; this server reads video "
                "files (under VISIONFLOW_VIDEO_FOLDER) and RTSP/HTTP streams only"
            )
        if "://" in reference:
            return SourceSpec(reference, self._fetcher.check_stream(reference), is_file=False)
        return SourceSpec(reference, str(self._video_file(reference)), is_file=True)

    def _video_file(self, reference: str) -> Path:
        folder = self._settings.video_folder
        if folder is None:
            raise VideoSourceNotAllowedError(
                f"video_reference {reference!r} is a local file, and this server reads no local "
                "video files: set VISIONFLOW_VIDEO_FOLDER to the folder they may be read from"
            )
        root = folder.resolve()
        path = Path(reference)
        resolved = (path if path.is_absolute() else root / path).resolve()
        if not resolved.is_relative_to(root):
            raise VideoSourceNotAllowedError(
                f"video_reference {reference!r} is outside the video folder "
                "(VISIONFLOW_VIDEO_FOLDER); name a file in it (relative paths are read from it)"
            )
        if not resolved.is_file():
            raise VideoSourceNotAllowedError(
                f"video_reference {reference!r}: no such file in the video folder "
                "(VISIONFLOW_VIDEO_FOLDER)"
            )
        return resolved


def _metadata(frame: Frame) -> VideoMetadata:
    # The reference names a pipeline's video by its source's index: stateful blocks keep
    # their state per source (and, through the pipeline's own memory, per pipeline).
    return VideoMetadata(
        video_identifier=str(frame.source_id),
        frame_number=frame.frame_id,
        frame_timestamp=frame.frame_timestamp,
        fps=frame.fps,
        measured_fps=frame.measured_fps,
        comes_from_video_file=frame.comes_from_video_file,
        total_frames=frame.total_frames,
    )


def _serialized(
    result: Result, excluded: set[str]
) -> tuple[list[dict[str, Any] | None], list[dict[str, Any] | None]]:
    outputs = [
        None
        if output is None
        else {k: serialize_value(v) for k, v in output.items() if k not in excluded}
        for output in result.outputs
    ]
    frames = [
        None
        if frame is None
        else {
            "frame_timestamp": frame.frame_timestamp.isoformat(),
            "frame_id": frame.frame_id,
            "source_id": frame.source_id,
        }
        for frame in result.frames
    ]
    return outputs, frames


class _PipelineCollector:
    """``/metrics`` families of the pipelines, read when scraped."""

    def __init__(self, manager: PipelineManager) -> None:
        self._manager = manager

    def collect(self) -> Iterator[Metric]:
        pipelines = self._manager.running()
        running = GaugeMetricFamily(
            "visionflow_pipelines_running",
            "Inference pipelines on this server (not terminated), by state.",
            labels=["state"],
        )
        for state in PipelineState:
            if state is not PipelineState.TERMINATED:
                running.add_metric([state.value], sum(p.state is state for p in pipelines))
        processed, dropped = self._manager.totals()
        frames = CounterMetricFamily(
            "visionflow_pipeline_frames",
            "Video frames of inference pipelines, by outcome (processed by the workflow, dropped "
            "by a full buffer).",
            labels=["outcome"],
        )
        frames.add_metric(["processed"], processed)
        frames.add_metric(["dropped"], dropped)
        fps = GaugeMetricFamily(
            "visionflow_pipeline_fps",
            "Frames per second through each running pipeline's workflow (last 5 s).",
            labels=["pipeline_id"],
        )
        for pipeline in pipelines:
            fps.add_metric([pipeline.pipeline_id], pipeline.watchdog.fps())
        yield running
        yield frames
        yield fps
