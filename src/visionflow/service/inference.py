"""Model resolution, lazy loading through the ModelManager, and inference."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from visionflow.config import Settings
from visionflow.errors import InvalidModelIdError, ModelNotFoundError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.base import Model
from visionflow.models.manager import Acquired, ModelManager
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.runtime import OnnxSession
from visionflow.service.auth import Principal
from visionflow.store import ArtifactStore, ModelVersionRecord, Registry

__all__ = ["InferenceService", "LoadedModelView", "parse_model_id"]


def parse_model_id(model_id: str) -> tuple[str, int]:
    """``"project/3"`` → ``("project", 3)``; anything else is a 400 that says what was expected."""
    parts = model_id.strip().split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidModelIdError(
            f"Invalid Model ID {model_id!r}: expected '<project>/<version>', e.g. 'shapes/1'"
        )
    project, version = parts
    if not version.isdigit():
        raise InvalidModelIdError(
            f"Invalid Model ID {model_id!r}: the version must be an integer, e.g. '{project}/1'"
        )
    return project, int(version)


@dataclass(frozen=True)
class LoadedModelView:
    record: ModelVersionRecord
    model: Model
    load_time_s: float
    cold_start: bool


class InferenceService:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        artifacts: ArtifactStore,
        manager: ModelManager,
        architectures: ArchitectureRegistry,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._artifacts = artifacts
        self._manager = manager
        self._architectures = architectures

    @property
    def settings(self) -> Settings:
        return self._settings

    @staticmethod
    def manager_key(record: ModelVersionRecord) -> str:
        return f"{record.workspace}/{record.model_id}"

    def resolve(self, principal: Principal, model_id: str) -> ModelVersionRecord:
        """The version ``model_id`` names in the caller's workspaces (own first, then demo)."""
        project, version = parse_model_id(model_id)
        for workspace in principal.visible_workspaces:
            record = self._registry.find_model_version(workspace, project, version)
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
        manifest = ModelManifest.from_json_bytes(
            self._artifacts.read_bytes(record.package_sha256), origin=f"{record.model_id} manifest"
        )
        files = {key: self._artifacts.path_for(w.sha256) for key, w in manifest.weights.items()}
        return ModelPackage(manifest=manifest, files=files)

    def _session(self, path: Path) -> OnnxSession:
        return OnnxSession(
            path,
            providers=self._settings.onnx_providers,
            intra_op_threads=self._settings.onnx_intra_op_threads,
        )

    def acquire(self, principal: Principal, model_id: str) -> LoadedModelView:
        record = self.resolve(principal, model_id)

        def load() -> Model:
            return self._architectures.load(self.load_package(record), self._session)

        acquired: Acquired = self._manager.get(self.manager_key(record), load)
        return LoadedModelView(
            record, acquired.entry.model, acquired.entry.load_time_s, acquired.cold_start
        )

    def infer(
        self,
        principal: Principal,
        model_id: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: object,
    ) -> tuple[LoadedModelView, list[object]]:
        view = self.acquire(principal, model_id)
        return view, list(view.model.infer(images_bgr, params))

    def loaded(self, principal: Principal) -> list[LoadedModelView]:
        """Loaded models the caller can see, with the model id it would use."""
        views: list[LoadedModelView] = []
        seen: set[str] = set()
        entries = {entry.key: entry for entry in self._manager.loaded()}
        for workspace in principal.visible_workspaces:
            for record in self._registry.list_model_versions(workspace):
                entry = entries.get(self.manager_key(record))
                if entry is None or record.model_id in seen:
                    continue
                seen.add(record.model_id)
                views.append(LoadedModelView(record, entry.model, entry.load_time_s, False))
        return views

    def unload(self, principal: Principal, model_id: str) -> bool:
        """Unload ``model_id``. Anonymous callers (allowed only where keys are not required,
        i.e. on loopback) act on every workspace: the official SDK sends no key to
        ``/model/remove``, and unloading only drops a cache entry."""
        if principal.workspace is None:
            parse_model_id(model_id)
            suffix = f"/{model_id.strip()}"
            return self._manager.clear(lambda key: key.endswith(suffix)) > 0
        return self._manager.remove(self.manager_key(self.resolve(principal, model_id)))

    def unload_all(self, principal: Principal) -> int:
        if principal.workspace is None:
            return self._manager.clear()
        prefixes = tuple(f"{w}/" for w in principal.visible_workspaces)
        return self._manager.clear(lambda key: key.startswith(prefixes))
