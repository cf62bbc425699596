"""Model-family version ids (``clip_version_id``, ``yolo_world_version_id``) → registered model
ids, and the 404s that say how to add a missing one.

Each family maps its reference version ids (``ViT-B-16``, ``v2-s``, …) to model ids through a
``Settings`` entry (``VISIONFLOW_<FAMILY>_MODELS``); a ``<project>/<version>`` model id is
accepted directly. The model then resolves in the caller's workspaces like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from visionflow.errors import ModelNotFoundError
from visionflow.service.auth import Principal
from visionflow.service.inference import InferenceService, LoadedModelView

__all__ = ["VersionMap"]


@dataclass(frozen=True)
class VersionMap:
    """One family's version ids → model ids, and what the error messages name."""

    family: str  # "CLIP", "YOLO-World"
    request_field: str  # "clip_version_id"
    setting: str  # the environment variable: "VISIONFLOW_CLIP_MODELS"
    export_script: str  # "scripts/export_clip.py"
    example_model_id: str  # the id the "how to add it" hint registers: "clip/2"
    default: str
    versions: Mapping[str, str]

    def name(self, version: str | None) -> str:
        """``version``, or the default version when it is missing or blank."""
        return (version or "").strip() or self.default

    def model_id(self, version: str | None) -> str:
        """The registered model id that ``version`` (or the default version) maps to."""
        name = self.name(version)
        if name in self.versions:
            return self.versions[name]
        if "/" in name:
            return name
        configured = ", ".join(f"{k}={v}" for k, v in self.versions.items()) or "none"
        raise ModelNotFoundError(
            f"{self.family} version {name!r} is not mapped to a model (configured: "
            f"{configured}). To add it: export a checkpoint with {self.export_script}, register "
            f"the package with 'visionflow models add {self.example_model_id} <package folder>', "
            f"and set {self.setting}='{name}={self.example_model_id}'.",
            details={self.request_field: name, "configured": dict(self.versions)},
        )

    def acquire(
        self, inference: InferenceService, principal: Principal, version: str | None
    ) -> LoadedModelView:
        """The loaded model ``version`` maps to; a 404 that names the version and how to add
        the model when it is not registered in the caller's workspaces."""
        model_id = self.model_id(version)
        try:
            return inference.acquire(principal, model_id)
        except ModelNotFoundError as exc:
            name = self.name(version)
            raise ModelNotFoundError(
                f"{exc.message} {self.family} version {name!r} maps to {model_id!r}: export a "
                f"{self.family} checkpoint with {self.export_script} and register it with "
                f"'visionflow models add {model_id} <package folder>' (or map the version "
                f"elsewhere with {self.setting}).",
                details={self.request_field: name, "model_id": model_id},
            ) from None
