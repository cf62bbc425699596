"""Step manifests: the pydantic model each block declares for its step's fields.

A field that accepts data from other steps carries a ``Reference`` marker (the kinds it accepts)
inside its annotation, e.g. ``confidence: float | FloatZeroToOneSelector``. A selector may be the
whole value, or an item of a list or dict field. ``StepReference`` marks flow-control targets
(``$steps.<name>``). ``field_references`` reads the markers back for the compiler.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from visionflow.workflows import kinds as k
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN, STEP_SELECTOR_PATTERN

__all__ = [
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
StepSelector = Annotated[str, Field(pattern=STEP_SELECTOR_PATTERN), StepReference()]


class StepManifest(BaseModel):
    """Base of every block manifest: ``type`` (the block id or an alias) and the step ``name``.

    Unknown fields are ignored, as the reference does, so definitions written for newer block
    versions still parse.
    """

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    type: str
    name: str = Field(pattern=r"^[A-Za-z_0-9\-]+$")


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
