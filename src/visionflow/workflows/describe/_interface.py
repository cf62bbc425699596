"""``describe_interface``: what a compiled workflow takes and gives, by kind (wire reference §4.15).

An input's kinds are those of the step fields it feeds (an image feeding ``images`` is
``["image"]``, a parameter feeding ``confidence`` is ``["float_zero_to_one"]``); an input that
feeds only wildcard fields, or nothing, keeps its declared kinds. An output's kinds are those its
step declares for it; ``$steps.<step>.*`` gives a dict of every output of the step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from visionflow.workflows.describe._kinds import kind_schemas, typing_hints
from visionflow.workflows.kinds import WILDCARD
from visionflow.workflows.manifest import FieldReferences
from visionflow.workflows.plan import CompiledOutput, CompiledWorkflow
from visionflow.workflows.selectors import SelectorKind

__all__ = ["describe_interface"]

OutputKinds = list[str] | dict[str, list[str]]


def _selector_strings(value: Any, refs: FieldReferences) -> Iterator[str]:
    if refs.container == "list" and isinstance(value, list | tuple):
        candidates = list(value)
    elif refs.container == "dict" and isinstance(value, dict):
        candidates = list(value.values())
    else:
        candidates = [value]
    yield from (candidate for candidate in candidates if isinstance(candidate, str))


def _input_kinds(plan: CompiledWorkflow) -> dict[str, list[str]]:
    fed: dict[str, list[str]] = {item.name: [] for item in plan.inputs}
    for step in plan.steps.values():
        for field, refs in step.references.items():
            if refs.kinds is None:
                continue
            for raw in _selector_strings(getattr(step.manifest, field), refs):
                selector = step.selectors.get(raw)
                if selector is None or selector.kind is not SelectorKind.INPUT:
                    continue
                kinds = fed[selector.name]
                kinds.extend(k for k in refs.kinds if k != WILDCARD and k not in kinds)
    return {item.name: fed[item.name] or list(item.kinds) for item in plan.inputs}


def _output_kinds(
    plan: CompiledWorkflow, output: CompiledOutput, inputs: dict[str, list[str]]
) -> OutputKinds:
    selector = output.selector
    if selector.kind is SelectorKind.INPUT:
        return list(inputs[selector.name])
    declared = {item.name: list(item.kinds) for item in plan.steps[selector.name].outputs}
    if selector.is_wildcard:
        return declared
    return declared[str(selector.output)]


def describe_interface(plan: CompiledWorkflow) -> dict[str, Any]:
    """``{"inputs", "outputs", "typing_hints", "kinds_schemas"}`` of ``plan``."""
    inputs = _input_kinds(plan)
    outputs = {output.name: _output_kinds(plan, output, inputs) for output in plan.outputs}
    used = {kind for kinds in inputs.values() for kind in kinds}
    for kinds in outputs.values():
        for group in kinds.values() if isinstance(kinds, dict) else [kinds]:
            used.update(group)
    return {
        "inputs": inputs,
        "outputs": outputs,
        "typing_hints": typing_hints(used),
        "kinds_schemas": kind_schemas(used),
    }
