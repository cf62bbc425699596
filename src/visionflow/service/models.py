"""Registering model versions from files users bring (any importer format)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.importers import import_model
from visionflow.models.package import ModelPackage
from visionflow.service.inference import parse_model_id
from visionflow.store import ArtifactStore, ModelVersionRecord, Registry

__all__ = ["ModelAdmin"]


class ModelAdmin:
    def __init__(
        self, registry: Registry, artifacts: ArtifactStore, architectures: ArchitectureRegistry
    ) -> None:
        self._registry = registry
        self._artifacts = artifacts
        self._architectures = architectures

    def store_package(
        self, package: ModelPackage, progress: Callable[[int], object] | None = None
    ) -> str:
        """Copy the weights and the manifest into the artifact store; returns the package sha256."""
        package.verify()
        self._architectures.loader(package.manifest.architecture)  # fail early on unknown ones
        for key in package.manifest.weights:
            self._artifacts.add_file(package.files[key], progress)
        return self._artifacts.add_bytes(package.manifest.to_json_bytes())

    def add_from_path(
        self,
        workspace: str,
        model_id: str,
        path: Path,
        progress: Callable[[int], object] | None = None,
    ) -> ModelVersionRecord:
        """Import ``path`` (ONNX file or package folder) and register it as ``model_id``."""
        project, version = parse_model_id(model_id)
        self._registry.get_workspace(workspace)
        package = import_model(path)
        digest = self.store_package(package, progress)
        return self._registry.add_model_version(
            workspace,
            project,
            version,
            task=package.manifest.task,
            architecture=package.manifest.architecture,
            package_sha256=digest,
        )

    @staticmethod
    def package_size(path: Path) -> int:
        """Bytes an import of ``path`` will hash, for progress bars."""
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
