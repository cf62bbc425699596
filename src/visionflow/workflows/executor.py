"""Runs a ``CompiledWorkflow`` on a request's inputs.

The executor owns batching (one result dict per input image), running independent steps
concurrently, flow control (steps gated by ``continue_if`` are skipped where its condition is
false; whatever depends on a skipped step is skipped too, so its outputs are ``null`` or empty
lists), fan-out over crops (a dimensionality increase nests results one list deeper) and back
(a decrease gathers them), coordinate mapping of outputs, error attribution and profiling.

Every run has a wall-clock budget (``WorkflowLimits.max_run_s``, in ``RunContext.budget``): it is
checked before each step, each batch element a block runs (``Block.run_batch``) and each query
operation, and a run past it ends with a ``RunTimeoutError`` (408) naming the setting. A step
already running is not interrupted (a Python thread cannot be stopped), so a run ends at most
one element's work after its deadline.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import supervision as sv

from visionflow.errors import RunTimeoutError, VisionflowError
from visionflow.workflows.block import Decision, RunContext, StepInputs, StepResult
from visionflow.workflows.errors import (
    BlockError,
    ClientCausedStepExecutionError,
    RuntimeInputError,
    StepExecutionError,
    WorkflowError,
)
from visionflow.workflows.inputs import ImageDecoder, assemble_inputs
from visionflow.workflows.limits import RunBudget, WorkflowLimits
from visionflow.workflows.lineage import to_root_coordinates
from visionflow.workflows.memory import StepMemory
from visionflow.workflows.nesting import MAX_VALUE_DEPTH, nesting_depth
from visionflow.workflows.plan import (
    INPUT_LINEAGE,
    CompiledOutput,
    CompiledStep,
    CompiledWorkflow,
    DataLineage,
    Index,
)
from visionflow.workflows.profiler import Profiler
from visionflow.workflows.selectors import Selector, SelectorKind
from visionflow.workflows.serialize import serialize_value
from visionflow.workflows.state import INPUTS, MISSING, ExecutionState

__all__ = ["Executor"]

log = logging.getLogger("visionflow.workflows")

_SKIP = object()


def _absent(value: Any) -> bool:
    return value is MISSING or value is None


class Executor:
    """Runs compiled workflows; ``memory`` holds what stateful blocks keep between runs (one per
    process, shared by every run of this executor); ``limits`` give each run its budget."""

    def __init__(
        self,
        max_concurrent_steps: int = 8,
        memory: StepMemory | None = None,
        limits: WorkflowLimits | None = None,
    ) -> None:
        self.max_concurrent_steps = max_concurrent_steps
        self._helper_pool: ThreadPoolExecutor | None = None
        self._helpers_lock = threading.Lock()
        self.limits = limits or WorkflowLimits()
        self.memory = (
            memory if memory is not None else StepMemory(max_bytes=self.limits.state_max_bytes)
        )

    def run(
        self,
        plan: CompiledWorkflow,
        inputs: Mapping[str, Any],
        *,
        context: RunContext,
        decode_image: ImageDecoder,
        profiler: Profiler | None = None,
        excluded_fields: Collection[str] = (),
        serialize: bool = True,
    ) -> list[dict[str, Any]]:
        """One dict per element of the input batch (one dict when every output is non-batch).
        The run's budget starts now, unless ``context`` brings one with a deadline."""
        profiler = profiler or Profiler(enabled=False)
        if context.budget.deadline is None:
            context = dataclasses.replace(context, budget=RunBudget.start(self.limits))
        if context.memory is None:
            scope = self.memory.scope(context.tenant, plan.definition_hash)
            context = dataclasses.replace(context, memory=scope)
        with profiler.phase("workflow_input_assembly"):
            state = assemble_inputs(plan, inputs, decode_image)
        for layer in plan.layers:
            self._run_layer(plan, [plan.steps[name] for name in layer], state, context, profiler)
        context.budget.check("constructing the outputs")
        with profiler.phase("outputs_construction"):
            outputs = _construct_outputs(plan, state, set(excluded_fields))
            return (
                [{k: serialize_value(v) for k, v in o.items()} for o in outputs]
                if serialize
                else outputs
            )

    def _helpers(self) -> ThreadPoolExecutor:
        """The threads that run a layer's steps of ``concurrent`` blocks while the caller runs
        the others: made on first use, shared by every run of this executor (no threads started
        and joined per run)."""
        with self._helpers_lock:
            if self._helper_pool is None:
                self._helper_pool = ThreadPoolExecutor(
                    max_workers=max(1, self.max_concurrent_steps - 1),
                    thread_name_prefix="visionflow-step",
                )
            return self._helper_pool

    def _run_layer(
        self,
        plan: CompiledWorkflow,
        steps: list[CompiledStep],
        state: ExecutionState,
        context: RunContext,
        profiler: Profiler,
    ) -> None:
        """Runs the layer's steps: those of ``concurrent`` blocks on the helper threads, the
        others meanwhile on the calling thread (when all are concurrent, the caller runs the
        first). A step no helper has started yet (all busy with other runs) is taken back and
        run here, so a run never waits for a helper and never deadlocks on them. Every step
        runs; the first failure in definition order is raised."""
        beside = [step for step in steps if step.block.concurrent]
        here = [step for step in steps if not step.block.concurrent]
        if self.max_concurrent_steps == 1 or len(beside) + bool(here) <= 1:
            outcomes = {step.name: _outcome(plan, step, state, context, profiler) for step in steps}
        else:
            if not here:
                here = [beside.pop(0)]
            helpers = self._helpers()
            futures = [
                (step, helpers.submit(_run_step, plan, step, state, context, profiler))
                for step in beside
            ]
            outcomes = {step.name: _outcome(plan, step, state, context, profiler) for step in here}
            for step, future in futures:
                taken_back = future.cancel()
                outcomes[step.name] = (
                    _outcome(plan, step, state, context, profiler)
                    if taken_back
                    else future.exception()
                )
        for step in steps:
            if (error := outcomes[step.name]) is not None:
                raise error


def _outcome(
    plan: CompiledWorkflow,
    step: CompiledStep,
    state: ExecutionState,
    context: RunContext,
    profiler: Profiler,
) -> BaseException | None:
    """Runs ``step`` here: the exception it raised, or ``None``."""
    try:
        _run_step(plan, step, state, context, profiler)
    except Exception as exc:
        return exc
    return None


# -- steps ----------------------------------------------------------------------------------------


def _source_lineage(plan: CompiledWorkflow, selector: Selector) -> DataLineage:
    if selector.kind is SelectorKind.INPUT:
        return INPUT_LINEAGE if plan.input(selector.name).is_batch else ()
    return plan.steps[selector.name].output_lineage


def _fetch(plan: CompiledWorkflow, state: ExecutionState, selector: Selector, index: Index) -> Any:
    lineage = _source_lineage(plan, selector)
    producer = INPUTS if selector.kind is SelectorKind.INPUT else selector.name
    output = selector.name if selector.kind is SelectorKind.INPUT else str(selector.output)
    return state.get(producer, output, index[: len(lineage)])


def _resolve_one(
    plan: CompiledWorkflow, step: CompiledStep, state: ExecutionState, raw: str, index: Index
) -> Any:
    """The value of selector ``raw`` for the step's element ``index``; ``_SKIP`` if absent."""
    selector = step.selectors[raw]
    lineage = _source_lineage(plan, selector)
    if lineage and step.block.output_dimensionality_offset < 0:
        values = [_fetch(plan, state, selector, c) for c in state.children(lineage, index)]
        return [v for v in values if not _absent(v)]
    if len(lineage) > len(index):  # a field deeper than the step (input dimensionality offset)
        return _gather(plan, state, selector, lineage, index)
    value = _fetch(plan, state, selector, index)
    if value is MISSING or (lineage and value is None):
        return None if step.block.accepts_empty_values else _SKIP
    return value


def _gather(
    plan: CompiledWorkflow,
    state: ExecutionState,
    selector: Selector,
    lineage: DataLineage,
    index: Index,
) -> list[Any]:
    """The values of ``selector`` under ``index``, nested one list per level, ``None`` where
    absent (so items stay aligned with the nested elements, e.g. crops with detections)."""
    children = state.children(lineage[: len(index) + 1], index)
    if len(index) + 1 < len(lineage):
        return [_gather(plan, state, selector, lineage, child) for child in children]
    values = [_fetch(plan, state, selector, child) for child in children]
    return [None if value is MISSING else value for value in values]


def _resolve(
    plan: CompiledWorkflow, step: CompiledStep, state: ExecutionState, index: Index
) -> StepInputs | None:
    values: dict[str, Any] = {}
    for field in type(step.manifest).model_fields:
        if field in ("type", "name"):
            continue
        raw = getattr(step.manifest, field)
        refs = step.references.get(field)
        if refs is None or refs.kinds is None:
            values[field] = raw
            continue

        def resolve(item: Any) -> Any:
            if isinstance(item, str) and item in step.selectors:
                return _resolve_one(plan, step, state, item, index)
            return item

        if refs.container == "list" and isinstance(raw, list):
            resolved: Any = [resolve(item) for item in raw]
            skip = any(item is _SKIP for item in resolved)
        elif refs.container == "dict" and isinstance(raw, dict):
            resolved = {key: resolve(item) for key, item in raw.items()}
            skip = any(item is _SKIP for item in resolved.values())
        else:
            resolved = resolve(raw)
            skip = resolved is _SKIP
        if skip:
            return None
        values[field] = resolved
    return StepInputs(step.name, step.block_type, values)


def _gates_open(
    plan: CompiledWorkflow, step: CompiledStep, state: ExecutionState, index: Index
) -> bool:
    for gate in step.gates:
        depth = len(plan.steps[gate].run_lineage)
        decided = state.decision(gate, index[:depth])
        if decided is not True and not (isinstance(decided, frozenset) and step.name in decided):
            return False
    return True


def _attribute(step: CompiledStep, exc: Exception) -> VisionflowError:
    """``exc`` raised by a step, as an error that names the step (a run past its deadline
    answers as such: the step only noticed it)."""
    if isinstance(exc, WorkflowError | RunTimeoutError):
        return exc
    where = BlockError(step.name, step.block_type, None, str(exc))
    if isinstance(exc, VisionflowError):
        # A model that does not exist or is of another task, a bad value: the request's fault,
        # answered with the cause's 4xx as the reference's ClientCausedStepExecutionError.
        error = ClientCausedStepExecutionError if exc.status_code < 500 else StepExecutionError
        return error(
            f"Step {step.name!r} ({step.block_type}): {exc.message}",
            blocks_errors=[where],
            inner=exc,
            status_code=exc.status_code,
        )
    log.exception("workflow step %s failed", step.name, exc_info=exc)
    return StepExecutionError(
        f"Error during execution of step: {step.selector}. Details: {exc}",
        blocks_errors=[where],
        inner=exc,
    )


def _run_step(
    plan: CompiledWorkflow,
    step: CompiledStep,
    state: ExecutionState,
    context: RunContext,
    profiler: Profiler,
) -> None:
    context.budget.check(f"step {step.name!r}")
    with profiler.phase("step_execution", step_selector=step.selector):
        indices = state.domain(step.run_lineage) if step.run_lineage else [()]
        jobs: list[tuple[Index, StepInputs]] = []
        for index in indices:
            if not _gates_open(plan, step, state, index):
                continue
            inputs = _resolve(plan, step, state, index)
            if inputs is not None:
                jobs.append((index, inputs))
        if not jobs:
            return
        try:
            results = step.block.run_batch([inputs for _index, inputs in jobs], context)
        except Exception as exc:
            raise _attribute(step, exc) from exc
        if len(results) != len(jobs):
            raise _attribute(
                step, RuntimeError(f"block returned {len(results)} results for {len(jobs)} inputs")
            )
        for (index, _inputs), result in zip(jobs, results, strict=True):
            _store(step, state, index, result)


def _store(step: CompiledStep, state: ExecutionState, index: Index, result: StepResult) -> None:
    def bad(expected: str) -> VisionflowError:
        return _attribute(
            step, TypeError(f"block returned {type(result).__name__}, not {expected}")
        )

    if step.block.flow_control:
        if not isinstance(result, Decision):
            raise bad("a Decision")
        chosen = result.only if result.proceed and result.only is not None else result.proceed
        state.decide(step.name, index, chosen)
        return
    if step.block.output_dimensionality_offset > 0:
        if not isinstance(result, list):
            raise bad("a list of outputs")
        children = [(*index, j) for j in range(len(result))]
        state.add_children(step.output_lineage, children)
        for child, outputs in zip(children, result, strict=True):
            _put_outputs(step, state, child, outputs)
        return
    if not isinstance(result, dict):
        raise bad("a dict of outputs")
    _put_outputs(step, state, index, result)


def _put_outputs(step: CompiledStep, state: ExecutionState, index: Index, outputs: Any) -> None:
    for output in step.outputs:
        value = outputs.get(output.name) if isinstance(outputs, dict) else None
        state.put(step.name, output.name, index, value)


# -- outputs --------------------------------------------------------------------------------------


def _to_parent_coordinates(value: Any) -> Any:
    """``value`` with its detections in root image coordinates (``value`` is no deeper than
    ``MAX_VALUE_DEPTH``: ``_construct_outputs`` checked)."""
    if isinstance(value, sv.Detections):
        return to_root_coordinates(value)
    if isinstance(value, dict):
        return {key: _to_parent_coordinates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_parent_coordinates(item) for item in value]
    return value


def _too_deep(output: str) -> RuntimeInputError:
    details = f"nests lists/objects more than {MAX_VALUE_DEPTH} levels deep"
    return RuntimeInputError(
        f"Workflow output {output!r} {details}: the data it comes from (an input, a literal in "
        "the definition, a parsed JSON text) is too deeply nested",
        context="workflow_execution | output_construction",
        blocks_errors=[BlockError(None, None, f"outputs.{output}", details)],
    )


def _output_value(
    plan: CompiledWorkflow, state: ExecutionState, output: CompiledOutput, index: Index
) -> Any:
    selector = output.selector
    if selector.kind is SelectorKind.INPUT or not selector.is_wildcard:
        value = _fetch(plan, state, selector, index)
        return None if value is MISSING else value
    step = plan.steps[selector.name]
    if not state.has_any(step.name, index):
        return None
    return {
        out.name: None if (v := state.get(step.name, out.name, index)) is MISSING else v
        for out in step.outputs
    }


def _nested(
    plan: CompiledWorkflow, state: ExecutionState, output: CompiledOutput, index: Index
) -> Any:
    if len(index) == len(output.lineage):
        return _output_value(plan, state, output, index)
    deeper = output.lineage[: len(index) + 1]
    return [_nested(plan, state, output, child) for child in state.children(deeper, index)]


def _construct_outputs(
    plan: CompiledWorkflow, state: ExecutionState, excluded: set[str]
) -> list[dict[str, Any]]:
    def finish(output: CompiledOutput, value: Any) -> Any:
        if nesting_depth(value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH:
            raise _too_deep(output.name)
        return _to_parent_coordinates(value) if output.coordinates_system == "parent" else value

    kept = [output for output in plan.outputs if output.name not in excluded]
    non_batch = {
        output.name: finish(output, _output_value(plan, state, output, ()))
        for output in kept
        if not output.lineage
    }
    if not any(output.lineage for output in plan.outputs):
        return [non_batch]
    results: list[dict[str, Any]] = []
    for top in state.domain(INPUT_LINEAGE):
        results.append(
            {
                output.name: (
                    finish(output, _nested(plan, state, output, top))
                    if output.lineage
                    else non_batch[output.name]
                )
                for output in kept
            }
        )
    return results
