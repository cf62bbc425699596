"""Manifests of the API-model blocks, built from ``hosted_manifests.json``: for each block its
fields in the reference's order (name, value types, the kinds its selectors accept, default),
aliases and outputs, as the reference's ``blocks/describe`` states them. Fifty manifests of
twelve near-identical fields read better as one table than as fifty classes.

Value types: ``string``, ``integer``, ``number``, ``boolean``, ``null``, ``dict_str`` (string
values), ``list_str``, ``object``, ``params`` (values or selectors), ``operations`` (per-key
operation chains), or an enum's name (its values in ``enums``). Defaults: a value,
``{"required": true}`` or ``{"factory": true}`` (an empty dict, shown without a default).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model, model_validator

from visionflow.workflows.block import OutputDefinition
from visionflow.workflows.blocks.llm_tasks import missing_task_fields
from visionflow.workflows.manifest import AnySelector, Reference, StepManifest
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["HostedManifest", "hosted_spec"]


class HostedManifest(StepManifest):
    """Base of the API-model manifests: a task that needs a prompt, classes or an output
    structure refuses to compile without it (the reference's validator)."""

    @model_validator(mode="after")
    def _task_needs(self) -> HostedManifest:
        task = getattr(self, "task_type", None)
        if isinstance(task, str):
            problem = missing_task_fields(
                task,
                getattr(self, "prompt", None),
                getattr(self, "classes", None),
                getattr(self, "output_structure", None),
            )
            if problem:
                raise ValueError(problem)
        return self


_SIMPLE: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
    "dict_str": dict[str, str],
    "list_str": list[str],
    "object": dict[str, Any],
    "params": dict[str, AnySelector | str | int | float | bool],
    "operations": dict[str, list[Any]],
}


@cache
def _table() -> dict[str, Any]:
    text = resources.files("visionflow.workflows.blocks").joinpath("hosted_manifests.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


def _annotation(types: list[str], kinds: list[str] | None) -> Any:
    options: list[Any] = []
    if kinds is not None:
        options.append(
            Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(tuple(kinds))]
        )
    enums = _table()["enums"]
    for name in types:
        options.append(Literal[tuple(enums[name])] if name in enums else _SIMPLE[name])
    return options[0] if len(options) == 1 else Union[tuple(options)]  # noqa: UP007


def _class_name(block_type: str) -> str:
    name, version = block_type.split("/", 1)[1].split("@")
    return "".join(part.capitalize() for part in name.split("_")) + version.upper() + "Manifest"


@cache
def hosted_spec(
    block_type: str,
) -> tuple[type[StepManifest], tuple[str, ...], tuple[OutputDefinition, ...]]:
    """The manifest class, aliases and outputs of ``block_type``."""
    entry = _table()["blocks"][block_type]
    fields: dict[str, Any] = {}
    for name, types, kinds, default in entry["fields"]:
        annotation = _annotation(types, kinds)
        if default == {"required": True}:
            fields[name] = (annotation, ...)
        elif default == {"factory": True}:
            fields[name] = (annotation, Field(default_factory=dict))
        else:
            fields[name] = (annotation, default)
    manifest = create_model(_class_name(block_type), __base__=HostedManifest, **fields)
    outputs = tuple(OutputDefinition(n, tuple(kinds)) for n, kinds in entry["outputs"])
    return manifest, tuple(entry["aliases"]), outputs
