"""Formatters: ``property_definition`` (query-language operations on a value) and
``first_non_empty_or_default``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import AnySelector, StepManifest
from visionflow.workflows.query import Operation, QueryError, apply_operations

__all__ = ["FORMATTER_BLOCKS", "FirstNonEmptyOrDefaultV1", "PropertyDefinitionV1"]


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
            return {"output": apply_operations(inputs["data"], inputs["operations"])}
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


FORMATTER_BLOCKS: tuple[type[Block], ...] = (PropertyDefinitionV1, FirstNonEmptyOrDefaultV1)
