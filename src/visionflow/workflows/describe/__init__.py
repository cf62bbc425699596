"""Introspection of workflows and blocks, for the describe endpoints (wire reference §4.15):
``BlocksDescriber`` (every registered block, the definition's JSON schema, a step's outputs)
and ``describe_interface`` (a compiled workflow's inputs and outputs by kind)."""

from visionflow.workflows.describe._blocks import (
    DEFAULT_ENGINE_COMPATIBILITY,
    BlocksDescriber,
    describe_blocks,
)
from visionflow.workflows.describe._interface import describe_interface
from visionflow.workflows.describe._kinds import Kind, kind, kind_schemas, typing_hints
from visionflow.workflows.describe._schema import definition_schema, manifest_schema

__all__ = [
    "DEFAULT_ENGINE_COMPATIBILITY",
    "BlocksDescriber",
    "Kind",
    "definition_schema",
    "describe_blocks",
    "describe_interface",
    "kind",
    "kind_schemas",
    "manifest_schema",
    "typing_hints",
]
