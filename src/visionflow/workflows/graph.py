"""The step graph of a workflow being compiled: every selector resolved and kind-checked, the
data and control edges between steps, and an execution order (with each step's depth).

Errors name the step (``block_id``) and the field (``property_name``) they concern.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from visionflow.workflows.block import Block, OutputDefinition
from visionflow.workflows.errors import (
    BlockError,
    ExecutionGraphStructureError,
    InvalidReferenceTargetError,
    ReferenceTypeError,
)
from visionflow.workflows.kinds import kinds_compatible
from visionflow.workflows.manifest import FieldReferences, StepManifest, field_references
from visionflow.workflows.plan import CompiledInput
from visionflow.workflows.selectors import (
    Selector,
    SelectorKind,
    looks_like_selector,
    parse_selector,
)

__all__ = ["Graph"]


def _selector_strings(value: Any, refs: FieldReferences) -> Iterator[str]:
    if refs.container == "value":
        candidates: list[Any] = [value]
    elif refs.container == "list":
        candidates = list(value) if isinstance(value, list | tuple) else [value]
    else:
        candidates = list(value.values()) if isinstance(value, dict) else [value]
    for candidate in candidates:
        if looks_like_selector(candidate):
            yield candidate


def _step_outputs(block: Block, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
    """The step's outputs; a name-pattern output (``*``) stands for the run-time ones."""
    return tuple(output for output in block.outputs_for(manifest) if output.name != "*")


class Graph:
    """Compilation state shared by the compiler's passes: resolved selectors, data and control
    edges, and the order steps run in."""

    def __init__(
        self, inputs: dict[str, CompiledInput], steps: dict[str, tuple[Block, StepManifest]]
    ):
        self.inputs = inputs
        self.steps = steps
        # Read once per manifest class: every step of one block shares its fields.
        by_manifest: dict[type[StepManifest], dict[str, FieldReferences]] = {}
        self.references: dict[str, dict[str, FieldReferences]] = {}
        for name, (_block, manifest) in steps.items():
            cls = type(manifest)
            if cls not in by_manifest:
                by_manifest[cls] = field_references(cls)
            self.references[name] = by_manifest[cls]
        self.selectors: dict[str, dict[str, Selector]] = {name: {} for name in steps}
        self.data_deps: dict[str, set[str]] = {name: set() for name in steps}
        self.targets: dict[str, list[str]] = {name: [] for name in steps}
        self.gates: dict[str, list[str]] = {name: [] for name in steps}
        self.sources: dict[str, list[tuple[str, Selector]]] = {name: [] for name in steps}
        self.outputs = {name: _step_outputs(b, m) for name, (b, m) in steps.items()}

    def fail_reference(self, step: str, field: str, message: str) -> InvalidReferenceTargetError:
        block_type = self.steps[step][0].type
        return InvalidReferenceTargetError(
            f"Step {step!r} ({block_type}): field {field!r}: {message}",
            blocks_errors=[BlockError(step, block_type, field, message)],
        )

    def produced_kinds(self, step: str, field: str, selector: Selector) -> tuple[str, ...]:
        if selector.kind is SelectorKind.INPUT:
            declared = self.inputs.get(selector.name)
            if declared is None:
                known = ", ".join(sorted(self.inputs)) or "none"
                raise self.fail_reference(
                    step, field, f"{selector.raw} names no input (declared inputs: {known})"
                )
            return declared.kinds
        producer = self.steps.get(selector.name)
        if producer is None:
            raise self.fail_reference(step, field, f"{selector.raw} names no step")
        if selector.is_wildcard:
            raise self.fail_reference(
                step, field, f"{selector.raw}: '*' selects all outputs, usable only in outputs"
            )
        outputs = {output.name: output.kinds for output in self.outputs[selector.name]}
        if selector.output not in outputs:
            known = ", ".join(outputs) or "none"
            raise self.fail_reference(
                step,
                field,
                f"step {selector.name!r} has no output {selector.output!r} (its outputs: {known})",
            )
        return outputs[selector.output]

    def link(self) -> None:
        """Resolve and kind-check every selector; collect data and control edges."""
        for name, (block, manifest) in self.steps.items():
            for field, refs in self.references[name].items():
                for raw in _selector_strings(getattr(manifest, field), refs):
                    self._link_one(name, block, field, refs, raw)

    def _link_one(
        self, name: str, block: Block, field: str, refs: FieldReferences, raw: str
    ) -> None:
        selector = parse_selector(raw)
        if selector is None:
            raise self.fail_reference(name, field, f"{raw!r} is not a valid selector")
        if selector.kind is SelectorKind.STEP:
            if not refs.steps:
                raise self.fail_reference(
                    name, field, f"{raw} selects a step, not data; use $steps.<step>.<output>"
                )
            if selector.name not in self.steps:
                raise self.fail_reference(name, field, f"{raw} names no step")
            if not block.flow_control:
                raise self.fail_reference(name, field, "only flow-control blocks select steps")
            self.targets[name].append(selector.name)
            self.gates[selector.name].append(name)
            return
        if refs.kinds is None:
            raise self.fail_reference(name, field, f"{raw}: this field takes step selectors only")
        produced = self.produced_kinds(name, field, selector)
        if not kinds_compatible(refs.kinds, produced):
            details = f"{raw} is of kind {list(produced)}, but the field accepts {list(refs.kinds)}"
            raise ReferenceTypeError(
                f"Step {name!r} ({block.type}): field {field!r}: {details}",
                blocks_errors=[BlockError(name, block.type, field, details)],
            )
        self.selectors[name][raw] = selector
        self.sources[name].append((field, selector))
        if selector.kind is SelectorKind.STEP_OUTPUT:
            self.data_deps[name].add(selector.name)

    def order(self) -> tuple[list[str], dict[str, int]]:
        """Steps in a valid execution order and each step's depth (the longest chain of steps
        it waits for): by depth, in definition order among steps of one depth.

        Kahn's algorithm, linear in steps and edges: a step is ready once every step it depends
        on (data or a gate) is done, and its depth is one more than theirs.
        """
        deps = {name: self.data_deps[name] | set(self.gates[name]) for name in self.steps}
        dependents: dict[str, list[str]] = {name: [] for name in self.steps}
        waiting: dict[str, int] = {}
        for name, needs in deps.items():
            waiting[name] = len(needs)
            for need in needs:
                dependents[need].append(name)
        depth = {name: 0 for name, count in waiting.items() if count == 0}
        ready = deque(depth)
        while ready:
            name = ready.popleft()
            for dependent in dependents[name]:
                depth[dependent] = max(depth.get(dependent, 0), depth[name] + 1)
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    ready.append(dependent)
        stuck = {name: deps[name] for name in self.steps if waiting[name] > 0}
        if stuck:
            raise self._cycle_error(stuck)
        position = {name: index for index, name in enumerate(self.steps)}
        return sorted(self.steps, key=lambda name: (depth[name], position[name])), depth

    def _cycle_error(self, deps: dict[str, set[str]]) -> ExecutionGraphStructureError:
        # Walk from the first stuck step along its first stuck dependency until a step repeats.
        path = [next(iter(deps))]
        seen = {path[0]: 0}
        while True:
            step = min(d for d in deps[path[-1]] if d in deps)
            path.append(step)
            if step in seen:
                break
            seen[step] = len(path) - 1
        cycle = path[seen[path[-1]] :]
        arrow = " → ".join(cycle)
        return ExecutionGraphStructureError(
            f"Workflow steps form a cycle ({arrow}); a step cannot depend on its own output.",
            context="workflow_compilation | execution_graph_construction",
            blocks_errors=[
                BlockError(step, self.steps[step][0].type, None, f"part of the cycle {arrow}")
                for step in cycle[:-1]
            ],
        )
