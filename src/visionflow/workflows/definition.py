"""The workflow definition document (wire reference §6.1–§6.4), parsed with pydantic.

Steps stay plain dicts here: each is validated against its block's manifest by the compiler, so
an error can name the step and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from visionflow.workflows.errors import (
    BlockError,
    NotSupportedExecutionEngineError,
    WorkflowDefinitionError,
    WorkflowSyntaxError,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "EXECUTION_ENGINE_VERSION",
    "BatchInput",
    "ImageInput",
    "InputDeclaration",
    "JsonField",
    "ParameterInput",
    "VideoMetadataInput",
    "WorkflowDefinition",
    "canonical_json",
    "check_engine_version",
    "definition_hash",
    "parse_definition",
]

_NAME_PATTERN = r"^[A-Za-z_0-9\-]+$"


def _kind_names(value: Any) -> Any:
    """Kinds may be given as names or as ``{"name": ...}`` objects (describe-endpoint style)."""
    if isinstance(value, list):
        return [item.get("name") if isinstance(item, dict) else item for item in value]
    return value


KindList = Annotated[list[str], BeforeValidator(_kind_names)]


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=_NAME_PATTERN)


class ImageInput(_Declaration):
    """A batch of images (``WorkflowImage``, legacy ``InferenceImage``)."""

    type: Literal["WorkflowImage", "InferenceImage"]
    kind: KindList = Field(default_factory=lambda: ["image"])
    dimensionality: int = Field(default=1, ge=1)


class ParameterInput(_Declaration):
    """A scalar parameter (``WorkflowParameter``, legacy ``InferenceParameter``)."""

    type: Literal["WorkflowParameter", "InferenceParameter"]
    kind: KindList = Field(default_factory=lambda: ["*"])
    default_value: Any = None


class BatchInput(_Declaration):
    """A batch of arbitrary values (``WorkflowBatchInput``)."""

    type: Literal["WorkflowBatchInput"]
    kind: KindList = Field(default_factory=lambda: ["*"])
    dimensionality: int = Field(default=1, ge=1)


class VideoMetadataInput(_Declaration):
    """A batch of video frames' metadata (``WorkflowVideoMetadata``), one per input image."""

    type: Literal["WorkflowVideoMetadata"]
    kind: KindList = Field(default_factory=lambda: ["video_metadata"])
    dimensionality: int = Field(default=1, ge=1, le=1)


InputDeclaration = Annotated[
    ImageInput | ParameterInput | BatchInput | VideoMetadataInput, Field(discriminator="type")
]


class JsonField(BaseModel):
    """One output: ``name`` in each result dict, filled from ``selector``."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["JsonField"]
    name: str
    selector: str = Field(pattern=DATA_SELECTOR_PATTERN)
    coordinates_system: Literal["own", "parent"] = "parent"


class WorkflowDefinition(BaseModel):
    """``{"version", "inputs", "steps", "outputs"}``; unknown top-level keys (``id``) are kept."""

    model_config = ConfigDict(extra="allow")

    version: str
    inputs: list[InputDeclaration]
    steps: list[dict[str, Any]]
    outputs: list[JsonField]


def canonical_json(definition: Mapping[str, Any]) -> bytes:
    """``definition`` as compact UTF-8 JSON with sorted keys (key order and spacing do not
    matter; what is not JSON is written as its ``str``). Recursive: check the nesting first
    (``limits.check_definition``)."""
    text = json.dumps(
        definition, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    )
    # ``surrogatepass``: a lone surrogate (refused at the HTTP edge) still has a hash here.
    return text.encode("utf-8", "surrogatepass")


def definition_hash(definition: Mapping[str, Any], canonical: bytes | None = None) -> str:
    """sha256 of the canonical JSON of ``definition`` (``canonical`` when already computed)."""
    return hashlib.sha256(
        canonical if canonical is not None else canonical_json(definition)
    ).hexdigest()


# The reference's Execution Engine version this engine follows (1.8.3 registers 1.17.0).
EXECUTION_ENGINE_VERSION = "1.17.0"
_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")


def _version_tuple(raw: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(raw)
    if match is None:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


def check_engine_version(raw: str) -> None:
    """``>= requested, < next major`` must contain our engine version; ``""`` means newest."""
    if raw == "":
        return
    requested = _version_tuple(raw)
    if requested is None:
        raise WorkflowDefinitionError(
            f"Workflow definition contains `version` defined as {raw!r}, which cannot be parsed "
            "as a version (expected e.g. '1.0').",
            context="workflow_compilation | engine_initialisation",
        )
    engine = _version_tuple(EXECUTION_ENGINE_VERSION)
    assert engine is not None
    if not (requested <= engine and engine[0] == requested[0]):
        raise NotSupportedExecutionEngineError(
            f"Workflow definition requested Execution Engine version >={raw},<{requested[0] + 1}, "
            f"which this server does not have. Available: {[EXECUTION_ENGINE_VERSION]}.",
            context="workflow_compilation | engine_initialisation",
        )


def _loc(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_definition(definition: Mapping[str, Any]) -> WorkflowDefinition:
    """The document, or a ``WorkflowSyntaxError`` listing every problem with its location."""
    try:
        return WorkflowDefinition.model_validate(definition)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            block_id = None
            if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
                steps = definition.get("steps")
                if isinstance(steps, list) and isinstance(steps[loc[1]], dict):
                    block_id = steps[loc[1]].get("name")
            errors.append(BlockError(block_id, None, _loc(loc), error["msg"]))
        first = errors[0]
        raise WorkflowSyntaxError(
            f"Invalid workflow definition: {first.property_name}: {first.property_details}"
            + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""),
            context="workflow_compilation | workflow_definition_parsing",
            blocks_errors=errors,
            inner=exc,
        ) from None
