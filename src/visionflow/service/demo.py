"""The built-in demo: a public ``demo`` workspace with the shipped models, and a key to try them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from visionflow.config import Settings
from visionflow.service.models import ModelAdmin
from visionflow.store import Registry

__all__ = ["DEMO_MODELS", "DemoSetup", "demo_model_path", "ensure_demo"]

# model id in the demo workspace → file or package folder shipped under visionflow/demo/models/
DEMO_MODELS: dict[str, str] = {
    "shapes/1": "shapes-det.onnx",
    "shapes-seg/1": "shapes-seg.onnx",
    "shapes-cls/1": "shapes-cls.onnx",
    "keypoints/1": "shapes-pose",
    "semantic/1": "selfie-seg",
}
_KEY_FILE = "demo-api-key"


@dataclass(frozen=True)
class DemoSetup:
    api_key: str
    registered: tuple[str, ...]
    key_file: Path
    # True when this start created the key (show it once; later starts name only its file).
    key_created: bool = False


def demo_model_path(file_name: str) -> Path:
    return Path(str(resources.files("visionflow.demo") / "models" / file_name))


def ensure_demo(settings: Settings, registry: Registry, admin: ModelAdmin) -> DemoSetup:
    """Create the demo workspace, register missing demo models, and return a demo API key.

    The registry stores only key hashes; for the demo's convenience the plaintext of the demo key
    is also kept in ``$VISIONFLOW_HOME/demo-api-key`` (mode 600), so every start can print it.
    """
    workspace = settings.demo_workspace
    registry.ensure_workspace(workspace)
    registered: list[str] = []
    if settings.register_demo_models:
        for model_id, file_name in DEMO_MODELS.items():
            project, version = model_id.split("/")
            if registry.find_model_version(workspace, project, int(version)) is not None:
                continue
            path = demo_model_path(file_name)
            if not path.exists():
                continue
            admin.add_from_path(workspace, model_id, path)
            registered.append(model_id)
    key_file = settings.home / _KEY_FILE
    key = key_file.read_text().strip() if key_file.is_file() else ""
    created = not key or registry.workspace_for_key(key) is None
    if created:
        _record, key = registry.create_api_key(workspace, name="demo (created by first start)")
        settings.home.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key + "\n")
        os.chmod(key_file, 0o600)
    return DemoSetup(
        api_key=key, registered=tuple(registered), key_file=key_file, key_created=created
    )
