"""Wiring: build every service from one ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field

from visionflow.config import Settings
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.base import batcher_stats, session_bytes
from visionflow.models.manager import ModelManager
from visionflow.runtime import check_providers
from visionflow.runtime.batcher import BatcherStats
from visionflow.runtime.ocr import configure_ocr_engines
from visionflow.service.auth import Authorizer
from visionflow.service.clip import ClipService
from visionflow.service.images import ImageLoader
from visionflow.service.inference import InferenceService
from visionflow.service.metrics import Metrics
from visionflow.service.models import ModelAdmin
from visionflow.service.outbound import OutboundSettings
from visionflow.service.preload import Preloader, qualified_keys
from visionflow.service.providers import provider_environment
from visionflow.service.urls import UrlFetcher
from visionflow.service.workflows import WorkflowService
from visionflow.service.yolo_world import YoloWorldService
from visionflow.store import (
    ArtifactStore,
    Change,
    ChangeListener,
    Database,
    Registry,
    S3Bucket,
)
from visionflow.workflows import WorkflowLimits

__all__ = ["Services", "loaded_batchers", "pinned_keys"]


def pinned_keys(settings: Settings) -> list[str]:
    """Manager keys (``workspace/project/version``) of ``settings.pinned_models``; a bare
    ``project/version`` means the demo workspace's."""
    return qualified_keys(settings.pinned_models, settings.demo_workspace)


def loaded_batchers(manager: ModelManager) -> list[tuple[str, BatcherStats]]:
    """``(key, stats)`` of the loaded models whose sessions micro-batch."""
    found = ((entry.key, batcher_stats(entry.model)) for entry in manager.loaded())
    return [(key, stats) for key, stats in found if stats is not None]


@dataclass
class Services:
    settings: Settings
    database: Database
    registry: Registry
    artifacts: ArtifactStore
    architectures: ArchitectureRegistry
    manager: ModelManager
    authorizer: Authorizer
    images: ImageLoader
    inference: InferenceService
    models: ModelAdmin
    workflows: WorkflowService
    clip: ClipService
    yolo_world: YoloWorldService
    metrics: Metrics
    listener: ChangeListener | None = field(default=None)
    preloader: Preloader | None = field(default=None)

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        # A provider asked for but missing is a startup error (or a logged fallback), not a
        # surprise at the first model load.
        check_providers(settings.onnx_providers, fallback=settings.onnx_provider_fallback)
        database = Database(settings.resolved_database_url, timeout_s=settings.database_timeout_s)
        if migrate:
            database.migrate()
        registry = Registry(database, lookup_ttl_s=settings.model_lookup_cache_s)
        bucket = (
            None
            if settings.artifacts_url is None
            else S3Bucket(
                settings.artifacts_url,
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                timeout_s=settings.s3_timeout_s,
            )
        )
        artifacts = ArtifactStore(settings.artifacts_dir, bucket)
        # Temp files of writers killed mid-copy (e.g. `models add` under kill -9).
        artifacts.remove_orphans()
        architectures = ArchitectureRegistry()
        metrics = Metrics()
        manager = ModelManager(
            settings.max_loaded_models,
            listener=metrics,
            max_bytes=settings.max_loaded_model_bytes,
            size_of=session_bytes,
            pinned=pinned_keys(settings),
        )
        metrics.watch_batchers(lambda: loaded_batchers(manager))
        configure_ocr_engines(settings.ocr_engines)
        fetcher = UrlFetcher(settings)
        images = ImageLoader(settings, fetcher)
        inference = InferenceService(settings, registry, artifacts, manager, architectures, metrics)
        clip = ClipService(inference, images)
        yolo_world = YoloWorldService(inference, images)
        return cls(
            settings=settings,
            database=database,
            registry=registry,
            artifacts=artifacts,
            architectures=architectures,
            manager=manager,
            authorizer=Authorizer(registry, settings),
            images=images,
            inference=inference,
            models=ModelAdmin(registry, artifacts, architectures),
            workflows=WorkflowService(
                registry,
                inference,
                images,
                definition_ttl_s=settings.workflows_definition_cache_s,
                profiling_allowed=settings.workflows_profiling_allowed,
                max_concurrent_steps=settings.workflows_max_concurrent_steps,
                sink_fetcher=fetcher,
                sink_folder=settings.workflows_sink_folder,
                clip=clip,
                yolo_world=yolo_world,
                limits=WorkflowLimits.from_settings(settings),
                providers=provider_environment(settings),
                sink_outbound=OutboundSettings.from_settings(settings),
            ),
            clip=clip,
            yolo_world=yolo_world,
            metrics=metrics,
        )

    def start(self) -> None:
        """What a serving process runs beside its requests: the loading of the workflow blocks
        and of ``VISIONFLOW_PRELOAD_MODELS`` (in the background), and on a PostgreSQL registry the
        listener that drops cached stored workflows and model lookups when another process
        changes them."""
        if self.preloader is None:
            keys = qualified_keys(self.settings.preload_models, self.settings.demo_workspace)
            # The block catalog (~200 modules) loads in the background too, so the server
            # answers at once and the first workflow does not pay for it.
            self.preloader = Preloader(self.registry, self.inference, keys, self.workflows.blocks)
            self.preloader.start()
        if self.database.is_sqlite or self.listener is not None:
            return
        self.listener = ChangeListener(
            self.database.url,
            self.on_change,
            self.forget_all,
            connect_timeout_s=self.settings.database_timeout_s,
        )
        self.listener.start()

    def on_change(self, change: Change) -> None:
        """A change another process made to the shared registry: drop what it invalidates."""
        if change.kind in ("model", "workspace"):
            self.registry.forget_lookups()
        self.workflows.on_change(change)

    def forget_all(self) -> None:
        """Changes may have been missed (the listener reconnected): drop everything cached."""
        self.registry.forget_lookups()
        self.workflows.forget_all()

    def stop(self) -> None:
        """Stop what ``start`` started."""
        if self.preloader is not None:
            self.preloader.stop()
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def close(self) -> None:
        self.stop()
        self.workflows.close()
        self.manager.clear()
        self.database.dispose()
