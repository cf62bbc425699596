"""The workflow use cases: run a definition (inline or stored), validate and describe one,
describe the blocks, and manage stored versions.

Stored workflows are read from the registry's ``workflows`` table and cached in memory for
``definition_ttl_s`` (the reference caches 15 minutes); ``use_cache=False`` re-reads the store
and refreshes the cache. A new version drops the cached copies at once: in this process
directly, in every other process on the same PostgreSQL registry through its change notice
(``on_change``; ``forget_all`` when notices may have been missed).

A stored workflow is visible to callers whose key sees its workspace: their own and the public
demo workspace. Any other workspace answers 404, whether or not it exists, so one tenant
cannot probe another's workspace or workflow names. Creating, listing and reading stored
definitions (``push``, ``list_stored``, ``show``) takes the workspace's own key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.errors import ApiKeyRequiredError, InvalidInputError
from visionflow.models.ocr import OcrOptions, OcrResult, read_text
from visionflow.models.params import OpenVocabularyParams, TaskParams
from visionflow.service.auth import Principal
from visionflow.service.clip import ClipService
from visionflow.service.images import ImageDecoder, ImageLoader
from visionflow.service.inference import InferenceService
from visionflow.service.outbound import OutboundSettings
from visionflow.service.sinks import SinkEnvironment, SinkPool
from visionflow.service.urls import UrlFetcher
from visionflow.service.yolo_world import YoloWorldService
from visionflow.store import Change, Registry, StoredWorkflowRecord, StoredWorkflowSummary
from visionflow.workflows import (
    EXECUTION_ENGINE_VERSION,
    BlockRegistry,
    CompiledWorkflow,
    Compiler,
    Executor,
    MemoryScope,
    Profiler,
    RunContext,
    WorkflowLimits,
    WorkflowNotFoundError,
)
from visionflow.workflows.blocks.llm_egress import ProviderEnvironment
from visionflow.workflows.definition import check_engine_version
from visionflow.workflows.describe import BlocksDescriber, describe_interface
from visionflow.workflows.errors import WorkflowDefinitionError
from visionflow.workflows.inner import ChildResolver

__all__ = ["WorkflowResult", "WorkflowRun", "WorkflowService", "definition_from"]


@dataclass(frozen=True)
class WorkflowRun:
    """What a run request asks for besides the definition."""

    inputs: Mapping[str, Any]
    excluded_fields: Collection[str] = ()
    enable_profiling: bool = False
    disable_sinks: bool = False


@dataclass(frozen=True)
class WorkflowResult:
    outputs: list[dict[str, Any]]
    profiler_trace: list[dict[str, Any]] = field(default_factory=list)


class _CallerModels:
    """The ``ModelRunner`` of one caller: models resolve in the caller's workspaces."""

    def __init__(
        self,
        inference: InferenceService,
        principal: Principal,
        clip: ClipService,
        world: YoloWorldService,
    ) -> None:
        self._inference = inference
        self._principal = principal
        self._clip = clip
        self._world = world

    def infer(
        self,
        model_id: str,
        task: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> Sequence[object]:
        record = self._inference.resolve(self._principal, model_id)
        if record.task != task:
            raise InvalidInputError(
                f"model {model_id!r} is a {record.task} model; this block runs {task} models",
                details={"model_task": record.task},
            )
        return self._inference.run(record, images_bgr, params)[1]

    def ocr(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], options: OcrOptions
    ) -> Sequence[OcrResult]:
        # The OCR engine is built in, not a registered model: any caller may run it.
        return [read_text(image, options) for image in images_bgr]

    def clip_embed(
        self, version: str | None, values: Sequence[npt.NDArray[np.uint8] | str]
    ) -> npt.NDArray[np.float32]:
        return self._clip.embed(self._principal, version, values)

    def yolo_world(
        self,
        version: str | None,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: OpenVocabularyParams,
    ) -> Sequence[sv.Detections]:
        _view, results = self._world.detect(
            self._principal, version, images_bgr, params.class_names, params
        )
        return results


def _image_decoder(
    images: ImageLoader, plan: CompiledWorkflow, inputs: Mapping[str, Any]
) -> ImageDecoder:
    """Workflow image inputs may be image objects, bare base64 strings or URLs (§6.2). One
    decoder per run: every image of the run's image inputs (a batch counts each) shares one
    request budget, and all are counted and their headers checked before any is decoded."""
    values: list[Any] = []
    for declared in plan.inputs:
        value = inputs.get(declared.name) if declared.is_image else None
        if isinstance(value, list):
            values.extend(value)
        elif value is not None:
            values.append(value)
    return images.decoder(values)


def _frame_pixels(value: Any) -> npt.NDArray[np.uint8]:
    pixels = value.get("value") if isinstance(value, dict) else None
    if not isinstance(pixels, np.ndarray):
        raise InvalidInputError("a video frame input must hold the decoded pixels")
    return pixels


def definition_from(document: Mapping[str, Any]) -> dict[str, Any]:
    """The definition in ``document``: the document itself, or its ``specification`` when it is
    a wrapper ``{"specification": {...}}`` (what reading a stored workflow answers)."""
    wrapped = document.get("specification")
    if isinstance(wrapped, dict) and "steps" not in document:
        return wrapped
    return document if isinstance(document, dict) else dict(document)


_MAX_VERSION = 2**63 - 1


def _version_number(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    # ``isascii``: ``"²".isdigit()`` holds but ``int("²")`` fails; the bound is SQLite's.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_VERSION:
        raise InvalidInputError(
            f"workflow_version_id {raw!r} is not a version of a stored workflow: versions are "
            f"positive integers (1, 2, ...) up to {_MAX_VERSION}"
        )
    return int(raw)


class WorkflowService:
    def __init__(
        self,
        registry: Registry,
        inference: InferenceService,
        images: ImageLoader,
        *,
        blocks: BlockRegistry | None = None,
        definition_ttl_s: float = 900.0,
        profiling_allowed: bool = True,
        max_concurrent_steps: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sink_fetcher: UrlFetcher | None = None,
        sink_folder: Path | None = None,
        clip: ClipService | None = None,
        yolo_world: YoloWorldService | None = None,
        limits: WorkflowLimits | None = None,
        providers: ProviderEnvironment | None = None,
        sink_outbound: OutboundSettings | None = None,
    ) -> None:
        # Definition size, nesting and steps (the compiler), run time (the executor), regex and
        # webhook timeouts (the run's budget): the server's settings, in one place.
        self.limits = limits or WorkflowLimits()
        self._sink_fetcher = sink_fetcher
        self._sink_folder = sink_folder
        # Notification and storage sinks: egress switch, timeout, API base URLs, S3 endpoint.
        self._sink_outbound = sink_outbound or OutboundSettings()
        # The API-model blocks' outbound calls (``None``: those blocks refuse to run).
        self._providers = providers
        self._sink_pool = SinkPool()
        self._registry = registry
        self._inference = inference
        # The server passes its own (``Services.clip`` / ``.yolo_world``); both are stateless.
        self._clip = clip or ClipService(inference, images)
        self._world = yolo_world or YoloWorldService(inference, images)
        self._images = images
        self.blocks = blocks or BlockRegistry()
        self.compiler = Compiler(self.blocks, limits=self.limits)
        self.executor = Executor(max_concurrent_steps, limits=self.limits)
        self.describer = BlocksDescriber(self.blocks)
        self._ttl_s = definition_ttl_s
        self._profiling_allowed = profiling_allowed
        self._clock = clock
        self._definitions: dict[tuple[str, str, int | None], tuple[float, StoredWorkflowRecord]]
        self._definitions = {}
        self._lock = threading.Lock()

    def _sinks(self, disabled: bool) -> SinkEnvironment | None:
        if self._sink_fetcher is None:
            return None
        return SinkEnvironment(
            self._sink_fetcher,
            self._sink_pool,
            disabled,
            self._sink_folder,
            max_timeout_s=self.limits.webhook_max_timeout_s,
            outbound=self._sink_outbound,
        )

    def close(self) -> None:
        self._sink_pool.shutdown()

    @staticmethod
    def execution_engine_versions() -> list[str]:
        return [EXECUTION_ENGINE_VERSION]

    def validate(self, definition: Mapping[str, Any], principal: Principal | None = None) -> None:
        """Compile ``definition``; raises the 400 that running it would raise (stored inner
        workflows resolve as ``principal``'s; without one they are refused)."""
        self.compiler.compile(definition, self.child_resolver(principal))

    def child_resolver(
        self, principal: Principal | None, use_cache: bool = True
    ) -> ChildResolver | None:
        """Stored ``inner_workflow`` children resolve as the caller's own runs of them would:
        in the workspaces its key sees (any other answers the same 404), from the cache."""
        if principal is None:
            return None

        def resolve(workspace: str, workflow_id: str, version: str | None) -> Mapping[str, Any]:
            record = self.stored(principal, workspace, workflow_id, version, use_cache=use_cache)
            return record.definition

        return resolve

    def run(
        self,
        principal: Principal,
        definition: Mapping[str, Any],
        request: WorkflowRun,
        *,
        use_cache: bool = True,
    ) -> WorkflowResult:
        profiler = Profiler(enabled=request.enable_profiling and self._profiling_allowed)
        profiler.mark("workflow_run", "B")
        with profiler.phase("workflow_compilation") as args:
            children = self.child_resolver(principal, use_cache)
            plan, args["cache_hit"] = self.compiler.compile(definition, children)
        outputs = self.executor.run(
            plan,
            request.inputs,
            context=RunContext(
                models=_CallerModels(self._inference, principal, self._clip, self._world),
                sinks=self._sinks(request.disable_sinks),
                providers=self._providers,
                # Stateful blocks (data_aggregator, trackers) keep state per workspace.
                tenant=principal.workspace or "",
            ),
            decode_image=_image_decoder(self._images, plan, request.inputs),
            profiler=profiler,
            excluded_fields=request.excluded_fields,
        )
        profiler.mark("workflow_run", "E")
        return WorkflowResult(outputs, profiler.events())

    def run_frames(
        self,
        principal: Principal,
        definition: Mapping[str, Any],
        inputs: Mapping[str, Any],
        *,
        memory: MemoryScope,
        disable_sinks: bool = False,
    ) -> list[dict[str, Any]]:
        """Run on frames a video pipeline decoded: image inputs are ``{"type": "numpy_object",
        "value": (H, W, 3) uint8 BGR, "video_metadata": VideoMetadata}`` (one per frame), and
        stateful blocks keep their state in ``memory`` (the pipeline's own). The outputs are
        not serialized (``serialize_value`` does it when they are read)."""
        plan, _cache_hit = self.compiler.compile(definition, self.child_resolver(principal))
        return self.executor.run(
            plan,
            inputs,
            context=RunContext(
                models=_CallerModels(self._inference, principal, self._clip, self._world),
                sinks=self._sinks(disable_sinks),
                providers=self._providers,
                tenant=principal.workspace or "",
                memory=memory,
            ),
            decode_image=_frame_pixels,
            serialize=False,
        )

    def run_stored(
        self,
        principal: Principal,
        workspace: str,
        workflow_id: str,
        request: WorkflowRun,
        *,
        version: str | None = None,
        use_cache: bool = True,
    ) -> WorkflowResult:
        record = self.stored(principal, workspace, workflow_id, version, use_cache=use_cache)
        return self.run(principal, record.definition, request, use_cache=use_cache)

    def stored(
        self,
        principal: Principal,
        workspace: str,
        workflow_id: str,
        version: str | None = None,
        *,
        use_cache: bool = True,
    ) -> StoredWorkflowRecord:
        """The stored definition the caller may run (latest version unless ``version``)."""
        number = _version_number(version)
        missing = WorkflowNotFoundError(
            f"Workflow {workflow_id!r}"
            + (f" version {number}" if number is not None else "")
            + f" not found in workspace {workspace!r}",
            details={"workspace": workspace, "workflow_id": workflow_id},
        )
        if workspace not in principal.visible_workspaces:
            raise missing
        key = (workspace, workflow_id, number)
        now = self._clock()
        if use_cache:
            with self._lock:
                hit = self._definitions.get(key)
            if hit is not None and now - hit[0] < self._ttl_s:
                return hit[1]
        record = self._registry.find_workflow(workspace, workflow_id, number)
        if record is None:
            raise missing
        with self._lock:
            self._definitions[key] = (now, record)
        return record

    def save(
        self,
        workspace: str,
        workflow_id: str,
        definition: dict[str, Any],
        principal: Principal | None = None,
    ) -> StoredWorkflowRecord:
        """Store ``definition`` as the next version of ``workflow_id``, once it compiles (its
        stored inner workflows resolved as ``principal``'s, by default the workspace's own).

        This process's cache forgets the workflow at once; other processes on the same
        PostgreSQL registry forget it when the change notice reaches them (``ChangeListener``),
        and otherwise when their cached copy expires; ``use_cache=False`` always reads the store.
        """
        self.validate(definition, principal or Principal(workspace, (workspace,)))
        record = self._registry.add_workflow_version(workspace, workflow_id, definition)
        self.forget(workspace, workflow_id)
        return record

    # -- the definition cache -------------------------------------------------------------------
    def forget(self, workspace: str, workflow_id: str) -> None:
        """Drop every cached version of a stored workflow (it changed)."""
        with self._lock:
            for key in [k for k in self._definitions if k[:2] == (workspace, workflow_id)]:
                del self._definitions[key]

    def forget_workspace(self, workspace: str) -> None:
        """Drop every cached stored workflow of ``workspace`` (it was deleted)."""
        with self._lock:
            for key in [k for k in self._definitions if k[0] == workspace]:
                del self._definitions[key]

    def forget_all(self) -> None:
        """Drop every cached definition (changes may have been missed)."""
        with self._lock:
            self._definitions.clear()

    def on_change(self, change: Change) -> None:
        """A change announced by another process sharing the registry."""
        if change.kind == "workflow":
            self.forget(change.workspace, change.name)
        elif change.kind == "workspace":
            self.forget_workspace(change.workspace)

    # -- management by the workspace's key ------------------------------------------------------
    @staticmethod
    def _require_owner(principal: Principal, workspace: str, what: str) -> None:
        if principal.workspace is None:
            raise ApiKeyRequiredError(
                f"{what} needs the API key of workspace {workspace!r} (api_key query parameter "
                "or 'Authorization: Bearer <key>' header)."
            )
        if principal.workspace != workspace:
            raise WorkflowNotFoundError(
                f"Workspace {workspace!r} not found", details={"workspace": workspace}
            )

    def push(
        self, principal: Principal, workspace: str, workflow_id: str, definition: dict[str, Any]
    ) -> StoredWorkflowRecord:
        """``save`` as the owner of ``workspace``."""
        self._require_owner(principal, workspace, "Storing a workflow")
        return self.save(workspace, workflow_id, definition, principal)

    def list_stored(self, principal: Principal, workspace: str) -> list[StoredWorkflowSummary]:
        self._require_owner(principal, workspace, "Listing workflows")
        return self._registry.list_workflows(workspace)

    def show(
        self, principal: Principal, workspace: str, workflow_id: str, version: str | None = None
    ) -> StoredWorkflowRecord:
        """A stored version (the latest unless ``version``), read from the store."""
        self._require_owner(principal, workspace, "Reading a stored workflow")
        return self.stored(principal, workspace, workflow_id, version, use_cache=False)

    # -- introspection --------------------------------------------------------------------------
    def describe_blocks(
        self, execution_engine_version: str | None = None, dynamic_blocks: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """``WorkflowsBlocksDescription`` of the registered blocks (cached per registry)."""
        if dynamic_blocks:
            raise WorkflowDefinitionError(
                "Dynamic (custom Python) blocks are not supported by this server; "
                "send dynamic_blocks_definitions: [] or leave it out.",
                context="describing_blocks",
            )
        if execution_engine_version:
            check_engine_version(execution_engine_version)
        return self.describer.describe()

    def definition_schema(self) -> dict[str, Any]:
        return self.describer.definition_schema()

    def dynamic_outputs(self, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.describer.dynamic_outputs(step)

    def describe_interface(
        self, definition: Mapping[str, Any], principal: Principal | None = None
    ) -> dict[str, Any]:
        """Inputs and outputs of ``definition`` by kind; raises the 400 a run would raise."""
        plan, _cache_hit = self.compiler.compile(definition, self.child_resolver(principal))
        return describe_interface(plan)

    def describe_stored_interface(
        self,
        principal: Principal,
        workspace: str,
        workflow_id: str,
        *,
        version: str | None = None,
        use_cache: bool = True,
    ) -> dict[str, Any]:
        record = self.stored(principal, workspace, workflow_id, version, use_cache=use_cache)
        return self.describe_interface(record.definition, principal)
