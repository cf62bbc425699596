"""Model resolution, lazy loading through the ModelManager, and inference."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.config import Settings
from visionflow.errors import (
    InvalidModelIdError,
    InvalidModelPackageError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.base import Model
from visionflow.models.manager import Acquired, ModelManager
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import TaskParams
from visionflow.runtime import OnnxSession
from visionflow.service.auth import Principal
from visionflow.service.executor import (
    LoadedInfo,
    LocalExecutor,
    ModelExecutor,
    ModelRun,
    model_key,
)
from visionflow.service.metrics import Metrics
from visionflow.store import ArtifactStore, ModelVersionRecord, Registry

__all__ = ["InferenceService", "LoadedModelView", "parse_model_id"]


# Versions are 32-bit INTEGER columns in the registry (PostgreSQL's too).
_MAX_VERSION = 2**31 - 1


def parse_model_id(model_id: str) -> tuple[str, int]:
    """``"project/3"`` → ``("project", 3)``; anything else is a 400 that says what was expected."""
    parts = model_id.strip().split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidModelIdError(
            f"Invalid Model ID {model_id!r}: expected '<project>/<version>', e.g. 'shapes/1'"
        )
    project, version = parts
    # ASCII digits only: str.isdigit() also accepts '¹' and '٣', which int() refuses or reads.
    digits = version.isascii() and version.isdigit() and len(version) <= 10
    if not digits or int(version) > _MAX_VERSION:
        raise InvalidModelIdError(
            f"Invalid Model ID {model_id!r}: the version must be an integer from 0 to "
            f"{_MAX_VERSION}, e.g. '{project}/1'"
        )
    return project, int(version)


@dataclass(frozen=True)
class LoadedModelView:
    record: ModelVersionRecord
    model: Model
    load_time_s: float
    cold_start: bool
    # Told the seconds of each ``infer`` call (the per-model inference-time metric).
    observe: Callable[[float], None] | None = None

    def infer(self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: TaskParams) -> list[Any]:
        """``model.infer``, timed."""
        started = time.perf_counter()
        results = list(self.model.infer(images_bgr, params))
        if self.observe is not None:
            self.observe(time.perf_counter() - started)
        return results


class InferenceService:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        artifacts: ArtifactStore,
        manager: ModelManager,
        architectures: ArchitectureRegistry,
        metrics: Metrics | None = None,
        executor: ModelExecutor | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._artifacts = artifacts
        self._manager = manager
        self._architectures = architectures
        self._metrics = metrics
        # Where registered models run: this process unless told otherwise (Ray Serve).
        self._executor: ModelExecutor = executor or LocalExecutor(manager, self.load_model, metrics)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def executor(self) -> ModelExecutor:
        return self._executor

    def use_executor(self, executor: ModelExecutor) -> None:
        """Run models through ``executor`` from now on (set once, while wiring)."""
        self._executor = executor

    @staticmethod
    def manager_key(record: ModelVersionRecord) -> str:
        return model_key(record)

    def resolve(self, principal: Principal, model_id: str) -> ModelVersionRecord:
        """The version ``model_id`` names in the caller's workspaces (own first, then demo)."""
        project, version = parse_model_id(model_id)
        workspaces = tuple(principal.visible_workspaces)
        record = self._registry.find_model_version_in(workspaces, project, version)
        if record is not None:
            return record
        known = [
            r.model_id
            for ws in principal.visible_workspaces
            for r in self._registry.list_model_versions(ws)
        ]
        close = difflib.get_close_matches(model_id, known, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        where = ", ".join(repr(w) for w in principal.visible_workspaces)
        raise ModelNotFoundError(
            f"Model {model_id!r} not found in workspace(s) {where}.{hint}",
            details={"model_id": model_id, "close_matches": close},
        )

    def load_package(self, record: ModelVersionRecord) -> ModelPackage:
        """The stored package of ``record``, verified against its sha256 pins (once per load:
        flipped bytes in an artifact must fail here, not be served)."""

        def corrupt(what: str) -> ModelIntegrityError:
            return ModelIntegrityError(
                f"Model {record.model_id!r} cannot be loaded: its {what} "
                "(the stored copy is missing or corrupt). Register the model's files again "
                "with 'visionflow models add' to repair it.",
                details={"model_id": record.model_id},
                retry_after_s=60,
            )

        if not self._artifacts.intact(record.package_sha256):
            raise corrupt("package manifest fails its sha256 check")
        manifest = ModelManifest.from_json_bytes(
            self._artifacts.read_bytes(record.package_sha256), origin=f"{record.model_id} manifest"
        )
        files = {key: self._artifacts.local_path(w.sha256) for key, w in manifest.weights.items()}
        package = ModelPackage(manifest=manifest, files=files)
        try:
            package.verify()
        except InvalidModelPackageError as exc:
            # A rotted local copy of a bucket's file is fetched again (``intact``).
            digests = [w.sha256 for w in manifest.weights.values()]
            if self._artifacts.bucket is None or not all(map(self._artifacts.intact, digests)):
                raise corrupt(f"weights fail their sha256 check: {exc.message}") from None
        return package

    def _session(self, path: Path) -> OnnxSession:
        return OnnxSession(
            path,
            providers=self._settings.onnx_providers,
            intra_op_threads=self._settings.onnx_intra_op_threads,
            provider_fallback=self._settings.onnx_provider_fallback,
            trt_cache_dir=self._settings.home / "trt-cache",
            allow_spinning=self._settings.onnx_allow_spinning,
            max_batch=self._settings.effective_batch_max,
            max_wait_s=self._settings.batch_wait_ms / 1000,
        )

    def load_model(self, record: ModelVersionRecord) -> Model:
        """Build ``record``'s model from its verified stored package (no caching)."""
        return self._architectures.load(self.load_package(record), self._session)

    def prepare(self, principal: Principal, model_id: str) -> ModelRun:
        """Load ``model_id`` where the executor runs models (``/model/add``)."""
        return self._executor.prepare(self.resolve(principal, model_id))

    def run(
        self,
        record: ModelVersionRecord,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]:
        """Run a resolved model through the executor (local or Ray Serve)."""
        return self._executor.run(record, images_bgr, params)

    def acquire(self, principal: Principal, model_id: str) -> LoadedModelView:
        """The model itself, loaded in this process: for callers that need more than ``run``
        (CLIP embeddings, YOLO-World's class prompts)."""
        record = self.resolve(principal, model_id)

        def load() -> Model:
            return self.load_model(record)

        key = self.manager_key(record)
        acquired: Acquired = self._manager.get(key, load)
        observe = None
        if self._metrics is not None:
            observe = self._metrics.inference_seconds.labels(key).observe
        return LoadedModelView(
            record, acquired.entry.model, acquired.entry.load_time_s, acquired.cold_start, observe
        )

    def infer(
        self,
        principal: Principal,
        model_id: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]:
        return self.run(self.resolve(principal, model_id), images_bgr, params)

    def loaded(self, principal: Principal) -> list[tuple[ModelVersionRecord, LoadedInfo]]:
        """Models loaded where the executor runs them that the caller can see (own first)."""
        found: list[tuple[ModelVersionRecord, LoadedInfo]] = []
        seen: set[str] = set()
        entries = {info.key: info for info in self._executor.loaded()}
        for workspace in principal.visible_workspaces:
            for record in self._registry.list_model_versions(workspace):
                info = entries.get(self.manager_key(record))
                if info is None or record.model_id in seen:
                    continue
                seen.add(record.model_id)
                found.append((record, info))
        return found

    def unload(self, principal: Principal, model_id: str) -> bool:
        """Unload ``model_id`` of the caller's own workspace: a tenant cannot unload models of
        the demo workspace that others use. Anonymous callers (allowed only where keys are not
        required, i.e. the owner on loopback) act on every workspace: the official SDK sends
        no key to ``/model/remove``."""
        project, version = parse_model_id(model_id)
        if principal.workspace is None:
            suffix = f"/{project}/{version}"
            return self._executor.unload(lambda key: key.endswith(suffix)) > 0
        own = f"{principal.workspace}/{project}/{version}"
        return self._executor.unload(lambda key: key == own) > 0

    def unload_all(self, principal: Principal) -> int:
        """Unload every model of the caller's own workspace (every model, for anonymous)."""
        if principal.workspace is None:
            return self._executor.unload(lambda _key: True)
        prefix = f"{principal.workspace}/"
        return self._executor.unload(lambda key: key.startswith(prefix))
