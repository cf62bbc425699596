"""Formatters: ``property_definition`` (query-language operations on a value),
``first_non_empty_or_default``, ``json_parser`` (fields of a JSON text, e.g. a model's answer,
as outputs named at run time) and ``string_template`` (text from a template and data)."""

from __future__ import annotations

import json
import re
import string
from typing import Annotated, Any

from pydantic import Field, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.expressions import apply_data_operations
from visionflow.workflows.manifest import AnySelector, Reference, StepManifest, StringSelector
from visionflow.workflows.query import Operation, QueryError, apply_operations
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "FORMATTER_BLOCKS",
    "FirstNonEmptyOrDefaultV1",
    "JsonParserV1",
    "PropertyDefinitionV1",
    "StringTemplateV1",
    "render_template",
]


class PropertyDefinitionManifest(StepManifest):
    data: AnySelector
    operations: list[Operation]


class PropertyDefinitionV1(Block):
    """``output`` = ``data`` put through ``operations`` (e.g. ``SequenceLength``)."""

    type = "roboflow_core/property_definition@v1"
    aliases = ("PropertyDefinition", "PropertyExtraction")
    manifest = PropertyDefinitionManifest
    outputs = (OutputDefinition("output", (k.WILDCARD,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        try:
            output = apply_operations(inputs["data"], inputs["operations"], budget=context.budget)
            return {"output": output}
        except QueryError as exc:
            raise inputs.fail("operations", str(exc)) from None


class FirstNonEmptyOrDefaultManifest(StepManifest):
    data: list[AnySelector] = Field(min_length=1)
    default: Any = None


class FirstNonEmptyOrDefaultV1(Block):
    """``output`` = the first of ``data`` that has a value (its step ran), else ``default``."""

    type = "roboflow_core/first_non_empty_or_default@v1"
    aliases = ("FirstNonEmptyOrDefault",)
    manifest = FirstNonEmptyOrDefaultManifest
    outputs = (OutputDefinition("output", (k.WILDCARD,)),)
    accepts_empty_values = True

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        for value in inputs["data"]:
            if value is not None:
                return {"output": value}
        return {"output": inputs["default"]}


LanguageModelOutputSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.LANGUAGE_MODEL_OUTPUT,))
]
_JSON_MARKDOWN_BLOCK = re.compile(r"```json([\s\S]*?)```", flags=re.IGNORECASE)
_ERROR_STATUS = "error_status"


class JsonParserManifest(StepManifest):
    raw_json: str | LanguageModelOutputSelector
    expected_fields: list[str]

    @field_validator("expected_fields")
    @classmethod
    def _not_reserved(cls, value: list[str]) -> list[str]:
        if _ERROR_STATUS in value:
            raise ValueError(f"{_ERROR_STATUS!r} is a reserved output name")
        return value


def parse_json_fields(raw: str, fields: list[str]) -> tuple[bool, dict[str, Any]]:
    """``(error, values)``: the ``fields`` of the JSON in ``raw`` (or in its first ```json
    markdown block); a missing field is ``None`` and sets ``error``, as does invalid JSON."""
    blocks = _JSON_MARKDOWN_BLOCK.findall(raw)
    try:
        parsed = json.loads(blocks[0] if blocks else raw)
    except ValueError:
        return True, dict.fromkeys(fields)
    if not isinstance(parsed, dict):
        return True, dict.fromkeys(fields)
    return any(f not in parsed for f in fields), {f: parsed.get(f) for f in fields}


class JsonParserV1(Block):
    """One output per ``expected_fields`` entry, read from the JSON text ``raw_json``, and
    ``error_status`` (``true`` when the text is not a JSON object or lacks a field)."""

    type = "roboflow_core/json_parser@v1"
    manifest = JsonParserManifest
    outputs = (
        OutputDefinition(_ERROR_STATUS, (k.BOOLEAN,)),
        OutputDefinition("*", (k.WILDCARD,)),
    )

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, JsonParserManifest)
        fields = tuple(OutputDefinition(f, (k.WILDCARD,)) for f in manifest.expected_fields)
        return (self.outputs[0], *fields)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        error, values = parse_json_fields(
            inputs.as_str("raw_json"), list(inputs["expected_fields"])
        )
        return {_ERROR_STATUS: error, **values}


class StringTemplateManifest(StepManifest):
    template: StringSelector | str
    data: dict[str, AnySelector | str | int | float | bool] = Field(default_factory=dict)
    data_operations: dict[str, list[Operation]] = Field(default_factory=dict)


# Widths and precisions in format specs beyond this are refused: ``{x:>999999999}`` would
# allocate a gigabyte.
_MAX_FORMAT_NUMBER = 10_000
_NUMBER = re.compile(r"\d+")


class TemplateError(ValueError):
    """A template that cannot be rendered with the data it is given (the message says why)."""


def _placeholders(template: str, variables: dict[str, Any]) -> None:
    """Checks that every placeholder of ``template`` (and of its format specs) is a plain name
    of ``variables`` and that its format spec asks for no huge width or precision."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise TemplateError("positional placeholders are not supported: use {name}")
        if "." in name or "[" in name:
            raise TemplateError(
                f"{{{name}}}: attribute and index access are not supported "
                "(extract the value with data_operations)"
            )
        if name not in variables:
            raise TemplateError(f"{{{name}}} is not in data (data has: {sorted(variables)})")
        if spec and "{" in spec:
            _placeholders(spec, variables)
            spec = spec.format(**variables)
        if any(int(n) > _MAX_FORMAT_NUMBER for n in _NUMBER.findall(spec or "")):
            raise TemplateError(f"{{{name}:{spec}}}: widths and precisions stop at 10000")


def render_template(template: str, variables: dict[str, Any]) -> str:
    """``template`` with each ``{name}`` (optionally ``{name:spec}``, Python's format spec)
    replaced by ``variables[name]``; ``TemplateError`` names what does not fit."""
    _placeholders(template, variables)
    try:
        return template.format(**variables)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TemplateError(f"{exc} (does a format spec fit the type of its value?)") from None


class StringTemplateV1(Block):
    """``output``: ``template`` with its ``{name}`` placeholders filled from ``data`` (after
    ``data_operations``), e.g. a prompt built from a list joined with ``SequenceJoin``."""

    type = "roboflow_core/string_template@v1"
    manifest = StringTemplateManifest
    outputs = (OutputDefinition("output", (k.STRING,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        template = inputs.as_str("template")
        data = apply_data_operations(
            inputs, inputs["data"], "data_operations", inputs["data_operations"], context.budget
        )
        try:
            return {"output": render_template(template, data)}
        except TemplateError as exc:
            raise inputs.fail("template", str(exc)) from None


FORMATTER_BLOCKS: tuple[type[Block], ...] = (
    PropertyDefinitionV1,
    FirstNonEmptyOrDefaultV1,
    JsonParserV1,
    StringTemplateV1,
)
