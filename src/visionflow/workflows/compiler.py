"""Definition → ``CompiledWorkflow``: parse, resolve blocks and selectors, type-check every edge
by kind, order the steps and check dimensionality. Pure; ``Compiler`` caches by definition hash.
A definition is first held to the ``WorkflowLimits`` (nesting, steps, bytes), so nothing below
walks a document deeper or larger than they allow; its ``inner_workflow`` steps are then inlined
(``workflows.inner``) and the result held to the same limits.

Every error names the step (``block_id``) and the field (``property_name``) it concerns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from visionflow.workflows.block import Block
from visionflow.workflows.definition import (
    ImageInput,
    JsonField,
    ParameterInput,
    VideoMetadataInput,
    WorkflowDefinition,
    check_engine_version,
    definition_hash,
    parse_definition,
)
from visionflow.workflows.errors import (
    BlockError,
    ControlFlowDefinitionError,
    DuplicatedNameError,
    InvalidReferenceTargetError,
    StepInputDimensionalityError,
    StepInputLineageError,
    WorkflowDefinitionError,
    WorkflowSyntaxError,
)
from visionflow.workflows.graph import Graph
from visionflow.workflows.inner import (
    ChildResolver,
    expand_inner_workflows,
    has_inner_workflows,
    has_stored_children,
)
from visionflow.workflows.limits import WorkflowLimits, check_definition
from visionflow.workflows.manifest import StepManifest
from visionflow.workflows.plan import (
    INPUT_LINEAGE,
    CompiledInput,
    CompiledOutput,
    CompiledStep,
    CompiledWorkflow,
    DataLineage,
)
from visionflow.workflows.registry import BlockRegistry
from visionflow.workflows.selectors import (
    Selector,
    SelectorKind,
    parse_selector,
)
from visionflow.workflows.unsupported import unknown_block_details

__all__ = ["Compiler", "compile_workflow"]


def _check_unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DuplicatedNameError(
                f"Workflow definition has two {kind} named {name!r}; names must be unique.",
                blocks_errors=[BlockError(name if kind == "steps" else None, None, "name")],
            )
        seen.add(name)


def _resolve_manifests(
    raw_steps: list[dict[str, Any]], registry: BlockRegistry
) -> list[tuple[Block, StepManifest]]:
    """Each step's block (by type id or alias) and validated manifest; all problems at once."""
    resolved: list[tuple[Block, StepManifest]] = []
    errors: list[tuple[str, BlockError]] = []
    for position, raw in enumerate(raw_steps):
        name = str(raw.get("name", f"#{position}"))
        block_type = raw.get("type")
        if not isinstance(block_type, str):
            details = "every step needs a 'type' naming its block"
            errors.append((f"Step {name!r}: {details}", BlockError(name, None, "type", details)))
            continue
        block = registry.find(block_type)
        if block is None:
            details = unknown_block_details(block_type, registry)
            errors.append(
                (f"Step {name!r}: {details}", BlockError(name, block_type, "type", details))
            )
            continue
        try:
            resolved.append((block, block.manifest.model_validate(raw)))
        except ValidationError as exc:
            reported: set[str] = set()
            for error in exc.errors():
                # One error per field: a union field reports once per alternative, the literal
                # alternative first (its message is the useful one).
                field = str(error["loc"][0]) if error["loc"] else "(manifest)"
                if field in reported:
                    continue
                reported.add(field)
                message = f"Step {name!r} ({block.type}): field {field!r}: {error['msg']}"
                errors.append((message, BlockError(name, block.type, field, error["msg"])))
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise WorkflowSyntaxError(
            errors[0][0] + more,
            context="workflow_compilation | workflow_definition_parsing",
            blocks_errors=[error for _message, error in errors],
        )
    return resolved


def _source_lineage(
    graph: Graph, compiled: dict[str, CompiledStep], selector: Selector
) -> DataLineage:
    if selector.kind is SelectorKind.INPUT:
        return INPUT_LINEAGE if graph.inputs[selector.name].is_batch else ()
    return compiled[selector.name].output_lineage


def _offsets_lineage(graph: Graph, compiled: dict[str, CompiledStep], name: str) -> DataLineage:
    """The lineage of a step whose block declares per-field dimensionality offsets: that of its
    reference field, every other batch field ``offset`` levels deeper under the same elements."""
    block = graph.steps[name][0]
    offsets = block.input_dimensionality_offsets
    reference = block.dimensionality_reference_property
    found = [
        (field, selector, _source_lineage(graph, compiled, selector))
        for field, selector in graph.sources[name]
    ]
    base = next((lin for field, _s, lin in found if field == reference and lin), None)

    def fail(field: str | None, details: str) -> StepInputDimensionalityError:
        return StepInputDimensionalityError(
            f"Step {name!r} ({block.type}): {details}",
            blocks_errors=[BlockError(name, block.type, field, details)],
        )

    if base is None:
        raise fail(reference, f"field {reference!r} must select batch data (e.g. images)")
    for field, selector, lineage in found:
        if not lineage:
            continue
        expected = len(base) + offsets.get(field, 0) - offsets.get(str(reference), 0)
        if len(lineage) != expected:
            raise fail(
                field,
                f"field {field!r} ({selector.raw}) has dimensionality {len(lineage)} but must "
                f"have {expected} (offset {offsets.get(field, 0)} from field {reference!r}, "
                f"dimensionality {len(base)})",
            )
        if lineage[: len(base)] != base:
            details = (
                f"field {field!r} ({selector.raw}) does not descend from the batch of field "
                f"{reference!r}"
            )
            raise StepInputLineageError(
                f"Step {name!r} ({block.type}): {details}",
                blocks_errors=[BlockError(name, block.type, field, details)],
            )
    return base


def _step_lineage(graph: Graph, compiled: dict[str, CompiledStep], name: str) -> DataLineage:
    block_type = graph.steps[name][0].type
    if graph.steps[name][0].input_dimensionality_offsets:
        return _offsets_lineage(graph, compiled, name)
    found: dict[DataLineage, tuple[str, str]] = {}
    for field, selector in graph.sources[name]:
        lineage = _source_lineage(graph, compiled, selector)
        if lineage:
            found.setdefault(lineage, (field, selector.raw))
    if len(found) <= 1:
        return next(iter(found), ())
    (first, (f1, s1)), (second, (f2, s2)) = list(found.items())[:2]
    if len(first) != len(second):
        details = (
            f"field {f1!r} ({s1}) has dimensionality {len(first)} but field {f2!r} ({s2}) has "
            f"{len(second)}; a block's batch inputs must have the same dimensionality"
        )
        error: type[StepInputDimensionalityError | StepInputLineageError] = (
            StepInputDimensionalityError
        )
    else:
        details = f"field {f1!r} ({s1}) and field {f2!r} ({s2}) come from different batches"
        error = StepInputLineageError
    raise error(
        f"Step {name!r} ({block_type}): {details}",
        blocks_errors=[BlockError(name, block_type, f2, details)],
    )


def _compile_step(graph: Graph, compiled: dict[str, CompiledStep], name: str) -> CompiledStep:
    block, manifest = graph.steps[name]
    lineage = _step_lineage(graph, compiled, name)
    offset = block.output_dimensionality_offset
    run_lineage, output_lineage = lineage, lineage
    if offset > 0:
        if not lineage:
            raise StepInputDimensionalityError(
                f"Step {name!r} ({block.type}) adds a dimension to its inputs, which must "
                "then be batches (e.g. images), not parameters",
                blocks_errors=[BlockError(name, block.type, None, "needs batch-oriented inputs")],
            )
        output_lineage = (*lineage, name)
    elif offset < 0:
        if len(lineage) < 2:
            raise StepInputDimensionalityError(
                f"Step {name!r} ({block.type}) removes a dimension, so its inputs must be nested "
                f"batches (e.g. results on crops); they have dimensionality {len(lineage)}",
                blocks_errors=[BlockError(name, block.type, None, "needs nested batch inputs")],
            )
        run_lineage = output_lineage = lineage[:-1]
    for gate in graph.gates[name]:
        gate_lineage = compiled[gate].run_lineage
        if run_lineage[: len(gate_lineage)] != gate_lineage:
            details = (
                f"gated by step {gate!r}, whose condition is evaluated on a different batch "
                f"(dimensionality {len(gate_lineage)}) than this step runs on "
                f"(dimensionality {len(run_lineage)})"
            )
            raise ControlFlowDefinitionError(
                f"Step {name!r} ({block.type}): {details}",
                blocks_errors=[BlockError(name, block.type, None, details)],
            )
    return CompiledStep(
        name=name,
        block=block,
        manifest=manifest,
        references=graph.references[name],
        selectors=graph.selectors[name],
        depends_on=frozenset(graph.data_deps[name]),
        lineage=lineage,
        run_lineage=run_lineage,
        output_lineage=output_lineage,
        gates=tuple(graph.gates[name]),
        targets=tuple(graph.targets[name]),
        outputs=graph.outputs[name],
    )


def _compile_output(
    graph: Graph, compiled: dict[str, CompiledStep], field: JsonField
) -> CompiledOutput:
    selector = parse_selector(field.selector)
    assert selector is not None  # the definition's pattern guarantees the syntax

    def fail(details: str) -> InvalidReferenceTargetError:
        return InvalidReferenceTargetError(
            f"Output {field.name!r}: {details}",
            blocks_errors=[BlockError(None, None, f"outputs.{field.name}", details)],
        )

    if selector.kind is SelectorKind.INPUT:
        if selector.name not in graph.inputs:
            raise fail(f"{selector.raw} names no input")
        lineage = INPUT_LINEAGE if graph.inputs[selector.name].is_batch else ()
    else:
        step = compiled.get(selector.name)
        if step is None:
            raise fail(f"{selector.raw} names no step")
        names = [output.name for output in step.outputs]
        if not selector.is_wildcard and selector.output not in names:
            raise fail(
                f"step {selector.name!r} has no output {selector.output!r} (its outputs: "
                f"{', '.join(names) or 'none'})"
            )
        lineage = step.output_lineage
    return CompiledOutput(field.name, selector, field.coordinates_system, lineage)


def _compile_inputs(document: WorkflowDefinition) -> dict[str, CompiledInput]:
    inputs: dict[str, CompiledInput] = {}
    for declaration in document.inputs:
        if not isinstance(declaration, ParameterInput) and declaration.dimensionality != 1:
            raise WorkflowDefinitionError(
                f"Input {declaration.name!r}: nested batch inputs (dimensionality "
                f"{declaration.dimensionality}) are not supported yet; use dimensionality 1",
                blocks_errors=[BlockError(None, None, f"inputs.{declaration.name}")],
            )
        kinds = tuple(declaration.kind)
        if isinstance(declaration, ImageInput) and "image" not in kinds:
            kinds = ("image", *kinds)
        if isinstance(declaration, VideoMetadataInput) and "video_metadata" not in kinds:
            kinds = ("video_metadata", *kinds)
        inputs[declaration.name] = CompiledInput(declaration.name, declaration, kinds)
    return inputs


def _checked(definition: Any, limits: WorkflowLimits) -> bytes:
    """The canonical JSON of ``definition``, a JSON object within ``limits``."""
    if not isinstance(definition, Mapping):
        raise WorkflowSyntaxError("A workflow definition must be a JSON object")
    return check_definition(definition, limits)


def compile_workflow(
    definition: Mapping[str, Any],
    registry: BlockRegistry,
    limits: WorkflowLimits | None = None,
    resolve: ChildResolver | None = None,
) -> CompiledWorkflow:
    """Compile ``definition``, its ``inner_workflow`` steps inlined first (stored children
    looked up with ``resolve``); raises a ``WorkflowError`` (400, or 413 for a definition past
    ``limits``' size) naming the step and field."""
    checked_limits = limits or WorkflowLimits()

    def compile_flat(flat: Mapping[str, Any]) -> CompiledWorkflow:
        return _compile(flat, registry, definition_hash(flat, _checked(flat, checked_limits)))

    canonical = _checked(definition, checked_limits)
    if has_inner_workflows(definition):
        definition = expand_inner_workflows(
            definition, limits=checked_limits, compile_flat=compile_flat, resolve=resolve
        )
        canonical = _checked(definition, checked_limits)
    return _compile(definition, registry, definition_hash(definition, canonical))


def _compile(
    definition: Mapping[str, Any], registry: BlockRegistry, digest: str
) -> CompiledWorkflow:
    document = parse_definition(definition)
    check_engine_version(document.version)
    _check_unique("inputs", [declaration.name for declaration in document.inputs])
    _check_unique(
        "steps", [str(s["name"]) for s in document.steps if isinstance(s.get("name"), str)]
    )
    _check_unique("outputs", [output.name for output in document.outputs])
    inputs = _compile_inputs(document)
    resolved = _resolve_manifests(document.steps, registry)
    graph = Graph(inputs, {manifest.name: (block, manifest) for block, manifest in resolved})
    graph.link()
    compiled: dict[str, CompiledStep] = {}
    order, depth = graph.order()
    layers: list[list[str]] = []
    for name in order:
        compiled[name] = _compile_step(graph, compiled, name)
        if depth[name] == len(layers):
            layers.append([])
        layers[depth[name]].append(name)
    outputs = tuple(_compile_output(graph, compiled, field) for field in document.outputs)
    return CompiledWorkflow(
        definition_hash=digest,
        inputs=tuple(inputs.values()),
        steps=compiled,
        layers=tuple(tuple(layer) for layer in layers),
        outputs=outputs,
    )


class Compiler:
    """``compile_workflow`` with an LRU cache keyed by the definition's hash; every definition,
    cached or not, is held to ``limits``."""

    def __init__(
        self,
        registry: BlockRegistry,
        cache_size: int = 64,
        limits: WorkflowLimits | None = None,
    ) -> None:
        self.registry = registry
        self.limits = limits or WorkflowLimits()
        self._cache: OrderedDict[str, CompiledWorkflow] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def compile(
        self, definition: Mapping[str, Any], resolve: ChildResolver | None = None
    ) -> tuple[CompiledWorkflow, bool]:
        """The compiled workflow and whether it came from the cache. ``inner_workflow`` steps
        are inlined first; a definition with stored children (looked up with ``resolve``) is
        cached by what it expands to, since they may change while it does not."""
        key = definition_hash(definition, _checked(definition, self.limits))
        if has_stored_children(definition):
            definition = self._expand(definition, resolve)
            key = definition_hash(definition, _checked(definition, self.limits))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached, True
        if has_inner_workflows(definition):
            definition = self._expand(definition, resolve)
            _checked(definition, self.limits)
        plan = _compile(definition, self.registry, key)
        with self._lock:
            self._cache[key] = plan
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return plan, False

    def _expand(
        self, definition: Mapping[str, Any], resolve: ChildResolver | None
    ) -> Mapping[str, Any]:
        return expand_inner_workflows(
            definition,
            limits=self.limits,
            compile_flat=lambda flat: self.compile(flat)[0],
            resolve=resolve,
        )
