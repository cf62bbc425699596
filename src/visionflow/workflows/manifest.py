"""Step manifests: the pydantic model each block declares for its step's fields.

A field that accepts data from other steps carries a ``Reference`` marker (the kinds it accepts)
inside its annotation, e.g. ``confidence: float | FloatZeroToOneSelector``. A selector may be the
whole value, or an item of a list or dict field. ``StepReference`` marks flow-control targets
(``$steps.<name>``). ``field_references`` reads the markers back for the compiler.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from visionflow.workflows import kinds as k
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN, STEP_SELECTOR_PATTERN

__all__ = [
    "FIELD_ALIASES",
    "AnySelector",
    "BooleanSelector",
    "DetectionsSelector",
    "FieldReferences",
    "FloatSelector",
    "FloatZeroToOneSelector",
    "ImageSelector",
    "IntegerSelector",
    "ListOfValuesSelector",
    "ModelIdSelector",
    "ProjectSelector",
    "Reference",
    "RgbColorSelector",
    "StepManifest",
    "StepReference",
    "StepSelector",
    "StringSelector",
    "field_references",
]

Container = Literal["value", "list", "dict"]


@dataclass(frozen=True)
class Reference:
    """Marks a ``str`` as a data selector accepting these kinds (``("*",)``: any)."""

    kinds: tuple[str, ...]


@dataclass(frozen=True)
class StepReference:
    """Marks a ``str`` as a step selector (``$steps.<name>``), for flow-control targets."""


ImageSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.IMAGE,))]
DetectionsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(k.DETECTION_KINDS)
]
FloatZeroToOneSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.FLOAT_ZERO_TO_ONE,))
]
FloatSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.FLOAT,))]
IntegerSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INTEGER,))]
BooleanSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.BOOLEAN,))]
StringSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING,))]
ListOfValuesSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.LIST_OF_VALUES,))
]
ModelIdSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.ROBOFLOW_MODEL_ID,))
]
ProjectSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.ROBOFLOW_PROJECT,))
]
RgbColorSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.RGB_COLOR,))]
AnySelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.WILDCARD,))]
# An API key, token or password: a string or a secret (``environment_secrets_store``).
SecretSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.SECRET))
]
StepSelector = Annotated[str, Field(pattern=STEP_SELECTOR_PATTERN), StepReference()]


# Other names a field also accepts, in every manifest that has the field: the reference declares
# its image inputs with ``validation_alias=AliasChoices("images", "image")`` (its
# ``ImageInputField``), so older definitions that write ``"image": "$inputs.image"`` on a model
# block, ``Crop``, a code detector or ``perspective_correction`` still validate. Validation only:
# schemas and describe output keep the field's own name, as the reference's do.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {"images": ("image",)}


class StepManifest(BaseModel):
    """Base of every block manifest: ``type`` (the block id or an alias) and the step ``name``.

    Unknown fields are ignored, as the reference does, so definitions written for newer block
    versions still parse. A field listed in ``field_aliases`` may also be given under one of its
    aliases (the field's own name wins when both are there).
    """

    model_config = ConfigDict(extra="ignore", protected_namespaces=())
    field_aliases: ClassVar[Mapping[str, tuple[str, ...]]] = FIELD_ALIASES

    type: str
    name: str = Field(pattern=r"^[A-Za-z_0-9\-]+$")

    @model_validator(mode="before")
    @classmethod
    def _accept_aliases(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        renamed: dict[str, Any] | None = None
        for field, aliases in cls.field_aliases.items():
            if field not in cls.model_fields or field in data:
                continue
            alias = next((a for a in aliases if a in data and a not in cls.model_fields), None)
            if alias is not None:
                renamed = dict(data) if renamed is None else renamed
                renamed[field] = renamed.pop(alias)
        return data if renamed is None else renamed


@dataclass(frozen=True)
class FieldReferences:
    """What a manifest field accepts from other steps: data kinds (``None``: no data selectors),
    flow-control step selectors, and where selectors sit (the value, list items, dict values)."""

    field: str
    kinds: tuple[str, ...] | None
    steps: bool
    container: Container


def _walk(annotation: Any, container: Container, found: list[tuple[Any, Container]]) -> None:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        for marker in metadata:
            if isinstance(marker, Reference | StepReference):
                found.append((marker, container))
        _walk(base, container, found)
    elif origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            _walk(arg, container, found)
    elif origin in (list, tuple, set, frozenset):
        for arg in typing.get_args(annotation):
            _walk(arg, "list", found)
    elif origin is dict:
        args = typing.get_args(annotation)
        if len(args) == 2:
            _walk(args[1], "dict", found)


def _field_markers(info: FieldInfo) -> list[tuple[Any, Container]]:
    found: list[tuple[Any, Container]] = [
        (marker, "value")
        for marker in info.metadata
        if isinstance(marker, Reference | StepReference)
    ]
    _walk(info.annotation, "value", found)
    return found


def field_references(manifest: type[StepManifest]) -> dict[str, FieldReferences]:
    """The fields of ``manifest`` that accept selectors, keyed by field name."""
    result: dict[str, FieldReferences] = {}
    for name, info in manifest.model_fields.items():
        markers = _field_markers(info)
        if not markers:
            continue
        kinds: list[str] = []
        steps = False
        for marker, _container in markers:
            if isinstance(marker, Reference):
                kinds.extend(kind for kind in marker.kinds if kind not in kinds)
            else:
                steps = True
        result[name] = FieldReferences(
            field=name,
            kinds=tuple(kinds) if kinds else None,
            steps=steps,
            container=markers[0][1],
        )
    return result
