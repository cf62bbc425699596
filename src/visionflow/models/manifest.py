"""``model.json``: the manifest of a visionflow model package (see docs/model-package.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from visionflow.errors import InvalidModelPackageError

__all__ = [
    "MANIFEST_FILE",
    "PACKAGE_FORMAT",
    "InputSpec",
    "ModelManifest",
    "Normalization",
    "WeightFile",
]

PACKAGE_FORMAT = "visionflow-model-package/1"
MANIFEST_FILE = "model.json"

Task = Literal[
    "object-detection",
    "instance-segmentation",
    "keypoint-detection",
    "classification",
    "semantic-segmentation",
    # CLIP-style encoders: image and text in, vectors out (no classes).
    "embedding",
    # YOLO-World-style detectors: the class names come with each request.
    "open-vocabulary-detection",
]

# Tasks whose models have no fixed label set.
_CLASSLESS_TASKS = frozenset({"embedding", "open-vocabulary-detection"})


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normalization(_Strict):
    """Per-channel ``(x / scaling_factor - mean) / std``, in the package's colour order."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class InputSpec(_Strict):
    """How an image becomes the network input tensor ``(B, 3, height, width) float32``."""

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    resize_mode: Literal["stretch", "letterbox", "center-crop"] = "letterbox"
    padding_value: int = Field(default=114, ge=0, le=255)
    color_mode: Literal["rgb", "bgr"] = "rgb"
    scaling_factor: float = Field(default=255.0, gt=0)
    normalization: Normalization | None = None
    # Tensor layout of the graph input: channels first (most exports) or last (TF converts).
    layout: Literal["nchw", "nhwc"] = "nchw"
    # ``None``: the graph accepts any batch size; an int: the graph's fixed batch size.
    batch_size: int | None = Field(default=None, gt=0)


class WeightFile(_Strict):
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in {"", ".", ".."}:
            raise ValueError("weight file must be a plain file name inside the package folder")
        return value


class ModelManifest(_Strict):
    """Everything needed to run a model, besides its weights."""

    format: Literal["visionflow-model-package/1"] = "visionflow-model-package/1"
    task: Task
    architecture: str
    # Required (non-empty) for every task but the classless ones (``_CLASSLESS_TASKS``).
    class_names: tuple[str, ...] = ()
    input: InputSpec
    weights: dict[str, WeightFile] = Field(min_length=1)
    # Task-specific settings of later tasks (keypoint names, skeleton, ...).
    extra: dict[str, Any] = Field(default_factory=dict)
    # Where the package came from (importer name, original metadata); informational only.
    source: dict[str, Any] = Field(default_factory=dict)

    @field_validator("class_names")
    @classmethod
    def _classes_for_task(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        task = info.data.get("task")
        if not value and task not in _CLASSLESS_TASKS:
            raise ValueError(f"at least one class name is needed for task {task!r}")
        return value

    def to_json_bytes(self) -> bytes:
        """Canonical bytes (sorted keys): the sha256 of these is the package checksum."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2).encode() + b"\n"

    @classmethod
    def create(cls, origin: str, **fields: Any) -> ModelManifest:
        """Validate ``fields`` into a manifest; problems become ``InvalidModelPackageError``."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise InvalidModelPackageError(f"{origin} is invalid: {_problems(exc)}") from None

    @classmethod
    def from_json_bytes(cls, data: bytes, *, origin: str = MANIFEST_FILE) -> ModelManifest:
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidModelPackageError(f"{origin} is not valid JSON: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InvalidModelPackageError(f"{origin} is invalid: {_problems(exc)}") from None

    @classmethod
    def read(cls, path: Path) -> ModelManifest:
        return cls.from_json_bytes(path.read_bytes(), origin=str(path))
