"""The block contract: a namespaced, versioned type id, a manifest, declared outputs, ``run``.

A block is a class with class-level declarations and a few hooks, all but ``run`` optional:

- ``type`` (``"roboflow_core/dynamic_crop@v1"``), ``aliases``, ``manifest`` (a ``StepManifest``
  subclass whose fields declare the kinds they accept), ``outputs`` (names and kinds);
- ``run(inputs, context)`` — required: one element's resolved inputs → its outputs;
- ``run_batch(batch, context)`` — optional: every element of the step at once (model blocks use
  it to send one batch to the model); the default calls ``run`` for each;
- ``accepts_empty_values`` — optional: run even where an input is missing (skipped branch);
- ``output_dimensionality_offset`` — optional: ``+1`` when ``run`` returns a list of outputs per
  element (crops), ``-1`` when it receives lists of the nested level and returns one value;
- ``flow_control`` — optional: ``run`` returns a ``Decision`` that gates the step's targets;
- ``input_dimensionality_offsets`` with ``dimensionality_reference_property`` — optional: fields
  one level deeper than the reference field (``{"image": 0, "predictions": 1}``); the block runs
  once per element of the reference field and gets each deeper field as a list, one item (``None``
  where absent) per nested element under it;
- ``outputs_for(manifest)`` — optional: the outputs of one step when they depend on its manifest
  (``json_parser``'s ``expected_fields``); the default is ``outputs``;
- ``concurrent`` — optional: ``True`` for blocks whose time goes to a model, the network or the
  disk, whose steps then run on helper threads beside the other steps of their layer.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import supervision as sv

from visionflow.workflows.errors import BlockError, InvalidInputTypeError
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import StepManifest
from visionflow.workflows.memory import MemoryScope
from visionflow.workflows.runner import ModelRunner

__all__ = [
    "Block",
    "Decision",
    "OutputDefinition",
    "RunContext",
    "StepInputs",
    "StepOutputs",
    "StepResult",
]

StepOutputs = dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """What a flow-control block returns: whether its target steps run for this element, and
    when ``only`` is given, which of them (step names; the others are skipped), as the
    reference's ``FlowControl(mode="select_step", context=[...])`` picks among its targets."""

    proceed: bool
    only: frozenset[str] | None = None


StepResult = StepOutputs | list[StepOutputs] | Decision


@dataclass(frozen=True)
class OutputDefinition:
    name: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class RunContext:
    """What the executor hands to blocks besides their inputs."""

    models: ModelRunner
    # The sink environment (``blocks.sinks.Sinks``) the service provides; ``None``: no sinks.
    sinks: object | None = None
    # The outbound-call environment of the API-model blocks (``blocks.llm_egress``); ``None``:
    # they refuse to run.
    providers: object | None = None
    # Whose run this is (the caller's workspace): stateful blocks never share state across it.
    tenant: str = ""
    # Set by the executor: state that lasts across runs of this workflow (``workflows.memory``);
    # ``None`` outside an executor run, where state lasts one ``run_batch`` call.
    memory: MemoryScope | None = None
    # Set by the executor: the run's deadline and limits (blocks pass it to the query language
    # and check it in long loops); no deadline outside an executor run.
    budget: RunBudget = dataclasses.field(default_factory=RunBudget)


class StepInputs(Mapping[str, Any]):
    """One element's resolved step inputs (selectors replaced by values), with typed accessors
    that report a wrong type as a 400 naming the step and the field."""

    def __init__(self, step: str, block_type: str, values: Mapping[str, Any]) -> None:
        self.step = step
        self.block_type = block_type
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def fail(self, field: str, details: str) -> InvalidInputTypeError:
        """A 400 saying what is wrong with ``field`` of this step (for the block to raise)."""
        return InvalidInputTypeError(
            f"Step {self.step!r} ({self.block_type}): field {field!r}: {details}",
            blocks_errors=[BlockError(self.step, self.block_type, field, details)],
        )

    def _wrong(self, field: str, expected: str) -> InvalidInputTypeError:
        value = self._values.get(field)
        return self.fail(
            field, f"expected {expected}, got {type(value).__name__} {_preview(value)}"
        )

    def image(self, field: str) -> WorkflowImage:
        value = self._values.get(field)
        if not isinstance(value, WorkflowImage):
            raise self._wrong(field, "an image")
        return value

    def detections(self, field: str) -> sv.Detections:
        value = self._values.get(field)
        if not isinstance(value, sv.Detections):
            raise self._wrong(field, "detections")
        return value

    def as_float(self, field: str, *, low: float | None = None, high: float | None = None) -> float:
        value = self._values.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(field, "a number")
        # Written so that NaN (JSON's NaN literal) is out of any bounds.
        if (low is not None and not value >= low) or (high is not None and not value <= high):
            raise self._wrong(field, f"a number within [{low}, {high}]")
        return float(value)

    def as_int(self, field: str, *, low: int | None = None, high: int | None = None) -> int:
        value = self._values.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(field, "an integer")
        if high is not None and (value > high or (low is not None and value < low)):
            raise self._wrong(field, f"an integer within [{low}, {high}]")
        if low is not None and value < low:
            raise self._wrong(field, f"an integer >= {low}")
        return value

    def as_size_wh(
        self, width_field: str, height_field: str, *, max_pixels: int, setting: str
    ) -> tuple[int, int]:
        """``(width, height)`` in pixels from two integer fields (each >= 1) whose product is at
        most ``max_pixels`` (the error names ``setting``, which raises it)."""
        width, height = self.as_int(width_field, low=1), self.as_int(height_field, low=1)
        if width * height > max_pixels:
            raise self.fail(
                width_field,
                f"{width} x {height} px is more than the {max_pixels} pixels an image may have "
                f"({setting})",
            )
        return width, height

    def as_bool(self, field: str) -> bool:
        value = self._values.get(field)
        if not isinstance(value, bool):
            raise self._wrong(field, "a boolean")
        return value

    def as_str(self, field: str) -> str:
        value = self._values.get(field)
        if not isinstance(value, str):
            raise self._wrong(field, "a string")
        return value

    def as_str_list(self, field: str) -> list[str] | None:
        value = self._values.get(field)
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self._wrong(field, "a list of strings")
        return list(value)


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Block:
    """Base class of workflow blocks; see the module docstring for the contract."""

    type: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    manifest: ClassVar[builtins.type[StepManifest]]
    outputs: ClassVar[tuple[OutputDefinition, ...]] = ()
    accepts_empty_values: ClassVar[bool] = False
    output_dimensionality_offset: ClassVar[int] = 0
    flow_control: ClassVar[bool] = False
    input_dimensionality_offsets: ClassVar[Mapping[str, int]] = {}
    dimensionality_reference_property: ClassVar[str | None] = None
    # Whether the block's time goes outside the Python interpreter (a model run, a network or
    # disk call): such steps run on helper threads beside the other steps of their layer. The
    # others (Python and NumPy work, where threads would only take turns holding the GIL, each
    # hand-off costing more than it gives) run one after another on the run's own thread.
    concurrent: ClassVar[bool] = False

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        """The outputs of the step ``manifest`` describes (names the compiler checks selectors
        against and the executor stores); ``outputs`` unless they depend on the manifest."""
        return self.outputs

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        raise NotImplementedError

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        results: list[StepResult] = []
        for position, inputs in enumerate(batch):
            context.budget.check(f"element {position} of step {inputs.step!r}")
            results.append(self.run(inputs, context))
        return results
