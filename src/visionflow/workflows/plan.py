"""A compiled workflow: everything the executor needs, checked and ordered.

Data lineage: a batch value's lineage is the tuple of what created its dimensions — the input
batch (``INPUT_LINEAGE``) and then each step that increased dimensionality (a crop step adds its
name). Non-batch values (parameters, results of steps fed only by parameters) have lineage ``()``.
A batch value is addressed by an index with one integer per lineage element: ``(i,)`` for the
i-th input image, ``(i, j)`` for its j-th crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from visionflow.workflows.block import Block, OutputDefinition
from visionflow.workflows.definition import (
    BatchInput,
    ImageInput,
    ParameterInput,
    VideoMetadataInput,
)
from visionflow.workflows.manifest import FieldReferences, StepManifest
from visionflow.workflows.selectors import Selector

__all__ = [
    "INPUT_LINEAGE",
    "CompiledInput",
    "CompiledOutput",
    "CompiledStep",
    "CompiledWorkflow",
    "DataLineage",
    "Index",
]

DataLineage = tuple[str, ...]
Index = tuple[int, ...]
INPUT_LINEAGE: DataLineage = ("$inputs",)


@dataclass(frozen=True)
class CompiledInput:
    name: str
    declaration: ImageInput | ParameterInput | BatchInput | VideoMetadataInput
    kinds: tuple[str, ...]

    @property
    def is_batch(self) -> bool:
        return not isinstance(self.declaration, ParameterInput)

    @property
    def is_image(self) -> bool:
        return self.is_batch and "image" in self.kinds

    @property
    def is_video_metadata(self) -> bool:
        """Values are frames' video metadata (read into ``VideoMetadata`` at input assembly)."""
        return isinstance(self.declaration, VideoMetadataInput) or (
            self.is_batch and self.kinds == ("video_metadata",)
        )

    @property
    def default_value(self) -> Any:
        declaration = self.declaration
        return declaration.default_value if isinstance(declaration, ParameterInput) else None


@dataclass(frozen=True)
class CompiledStep:
    """A step with its validated manifest and its place in the graph.

    ``selectors`` maps each selector string used in a data field to its parse; ``lineage`` is the
    lineage of the step's batch inputs (``()`` if none), ``run_lineage`` that of the indices it
    runs on (one level up for a dimensionality decrease) and ``output_lineage`` that of its
    outputs. ``gates`` are the flow-control steps deciding whether it runs; ``targets`` the steps
    a flow-control step decides for. ``outputs`` are the step's outputs (``block.outputs_for``).
    """

    name: str
    block: Block
    manifest: StepManifest
    references: dict[str, FieldReferences]
    selectors: dict[str, Selector]
    depends_on: frozenset[str]
    lineage: DataLineage
    run_lineage: DataLineage
    output_lineage: DataLineage
    gates: tuple[str, ...]
    targets: tuple[str, ...]
    outputs: tuple[OutputDefinition, ...]

    @property
    def block_type(self) -> str:
        return self.block.type

    @property
    def selector(self) -> str:
        return f"$steps.{self.name}"


@dataclass(frozen=True)
class CompiledOutput:
    name: str
    selector: Selector
    coordinates_system: Literal["own", "parent"]
    lineage: DataLineage


@dataclass(frozen=True)
class CompiledWorkflow:
    """Steps are in a valid execution order; ``layers`` group steps that may run concurrently."""

    definition_hash: str
    inputs: tuple[CompiledInput, ...]
    steps: dict[str, CompiledStep]
    layers: tuple[tuple[str, ...], ...]
    outputs: tuple[CompiledOutput, ...]

    def input(self, name: str) -> CompiledInput:
        return self._inputs_by_name[name]

    @cached_property
    def _inputs_by_name(self) -> dict[str, CompiledInput]:
        return {item.name: item for item in self.inputs}
