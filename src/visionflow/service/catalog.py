"""The model catalog: every registered model a caller may use (not only the loaded ones
``/model/registry`` lists), with what a client needs to show and draw its results, and model
uploads from a single file.

A caller sees its own workspace's models first, then the demo workspace's; a model id that is
in both is the caller's own (as ``InferenceService.resolve`` picks it).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionflow.core.wire import TASK_ROUTES
from visionflow.errors import InvalidInputError, VisionflowError
from visionflow.models.manifest import ModelManifest
from visionflow.service.auth import Principal
from visionflow.store import ArtifactStore, ModelVersionRecord, Registry

if TYPE_CHECKING:
    from visionflow.service.services import Services

__all__ = ["CatalogEntry", "describe_model", "list_models", "upload_model"]

# What an uploaded file may be: the importers read single ONNX files (Ultralytics exports).
_UPLOAD_SUFFIXES = (".onnx",)
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True)
class CatalogEntry:
    record: ModelVersionRecord
    # ``None`` when the stored manifest cannot be read (the model then fails to load, too).
    manifest: ModelManifest | None
    loaded: bool
    versions: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        record, manifest = self.record, self.manifest
        keypoints = manifest.extra.get("keypoints", {}) if manifest else {}
        return {
            "model_id": record.model_id,
            "workspace": record.workspace,
            "project": record.project,
            "version": record.version,
            "versions": list(self.versions),
            "task_type": record.task,
            "architecture": record.architecture,
            "request_path": TASK_ROUTES.get(record.task, ""),
            "class_names": list(manifest.class_names) if manifest else [],
            "input_width": manifest.input.width if manifest else None,
            "input_height": manifest.input.height if manifest else None,
            "keypoint_names": keypoints.get("names", {}),
            "skeleton": keypoints.get("skeleton", []),
            "loaded": self.loaded,
            "package_sha256": record.package_sha256,
            "created_at": record.created_at.isoformat(),
        }


def _manifest(artifacts: ArtifactStore, record: ModelVersionRecord) -> ModelManifest | None:
    try:
        return ModelManifest.from_json_bytes(artifacts.read_bytes(record.package_sha256))
    except (OSError, VisionflowError):
        return None


def list_models(svc: Services, principal: Principal) -> list[CatalogEntry]:
    """Every model version ``principal`` may run, own workspace first, each id once."""
    loaded = {record.model_id for record, _info in svc.inference.loaded(principal)}
    records: list[ModelVersionRecord] = []
    seen: set[str] = set()
    for workspace in principal.visible_workspaces:
        for record in svc.registry.list_model_versions(workspace):
            if record.model_id not in seen:
                seen.add(record.model_id)
                records.append(record)
    versions: dict[tuple[str, str], list[int]] = {}
    for record in records:
        versions.setdefault((record.workspace, record.project), []).append(record.version)
    return [
        CatalogEntry(
            record,
            _manifest(svc.artifacts, record),
            record.model_id in loaded,
            tuple(sorted(versions[(record.workspace, record.project)])),
        )
        for record in records
    ]


def describe_model(
    registry: Registry, artifacts: ArtifactStore, record: ModelVersionRecord
) -> CatalogEntry:
    """``record`` with its manifest and its project's versions (``loaded`` is about a server's
    memory, which this process does not know: always ``False``)."""
    versions = tuple(
        sorted(
            r.version
            for r in registry.list_model_versions(record.workspace)
            if r.project == record.project
        )
    )
    return CatalogEntry(record, _manifest(artifacts, record), False, versions)


def upload_model(
    svc: Services, principal: Principal, model_id: str, filename: str, data: bytes
) -> ModelVersionRecord:
    """Register ``data`` (an ONNX export named ``filename``) as ``model_id`` in the caller's
    workspace (the demo workspace for the anonymous owner of a loopback server)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in _UPLOAD_SUFFIXES:
        raise InvalidInputError(
            f"cannot import {filename!r} from an upload: send one ONNX file (.onnx, e.g. an "
            "Ultralytics export); register package folders with 'visionflow models add'"
        )
    if not data:
        raise InvalidInputError("the uploaded model file is empty")
    workspace = principal.workspace or svc.settings.demo_workspace
    if principal.workspace is None:
        svc.registry.ensure_workspace(workspace)
    with tempfile.TemporaryDirectory(prefix="visionflow-upload-") as folder:
        # Named as uploaded (without folders), so import errors name the caller's file.
        name = Path(filename).name
        path = Path(folder) / (name if _SAFE_NAME.fullmatch(name) else f"model{suffix}")
        path.write_bytes(data)
        return svc.models.add_from_path(workspace, model_id, path)
