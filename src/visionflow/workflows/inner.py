"""Inlining ``inner_workflow`` steps: a child workflow's steps become steps of its parent.

As in the reference, an embedded ``roboflow_core/inner_workflow@v1`` step is expanded before the
parent is compiled. Its child — the inline ``workflow_definition``, or the stored workflow that
``workflow_workspace_id`` / ``workflow_id`` / ``workflow_version_id`` name, looked up through the
``ChildResolver`` the service layer passes (the caller's workspaces only) — is first expanded
itself, then compiled on its own (so its errors name the step that holds it), then inlined:

- each child step ``s`` becomes ``<step>__s`` (``__2``, ``__3``... where that name is taken), and
  the child's ``$steps.s`` selectors follow;
- the child's ``$inputs.x`` become what ``parameter_bindings["x"]`` gives (a parent selector or a
  literal), or the child's ``default_value`` for an unbound parameter that has one; every other
  child input must be bound, and every binding must name a child input;
- the parent's ``$steps.<step>.<output>`` become the child output's selector, and a bare
  ``$steps.<step>`` (a flow-control target) the first inlined step.

The child's steps thus run on the batches their bindings select and count as parent steps: the
expanded definition is held to the same ``WorkflowLimits`` (steps, bytes) and run under one
budget. Nesting is at most ``max_inner_depth`` levels (``VISIONFLOW_WORKFLOWS_MAX_INNER_DEPTH``);
a stored workflow that includes itself, directly or through others, is refused.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from visionflow.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from visionflow.workflows.definition import ParameterInput
from visionflow.workflows.errors import (
    BlockError,
    DuplicatedNameError,
    InnerWorkflowCompositionCycleError,
    InnerWorkflowInvalidStepEntryError,
    InnerWorkflowNestingDepthError,
    InnerWorkflowParameterBindingsMissingRequiredError,
    InnerWorkflowParameterBindingsUnknownInputError,
    InvalidReferenceTargetError,
    WorkflowDefinitionError,
    WorkflowError,
)
from visionflow.workflows.limits import (
    MAX_DEFINITION_BYTES_SETTING,
    MAX_INNER_DEPTH_SETTING,
    MAX_STEPS_SETTING,
    WorkflowLimits,
    check_definition,
)
from visionflow.workflows.plan import CompiledWorkflow
from visionflow.workflows.selectors import parse_selector

__all__ = [
    "EMBEDDED",
    "INNER_WORKFLOW_TYPE",
    "REMOTE_DISPATCH",
    "ChildResolver",
    "expand_inner_workflows",
    "has_inner_workflows",
    "has_stored_children",
]

INNER_WORKFLOW_TYPE = "roboflow_core/inner_workflow@v1"
EMBEDDED = "embedded"
REMOTE_DISPATCH = "remote_dispatch"

# (workspace, workflow id, version or None: the latest) → the stored definition; raises
# ``NotFoundError`` for one the caller cannot see.
ChildResolver = Callable[[str, str, str | None], Mapping[str, Any]]
# A definition without inner_workflow steps → its plan (the caller's compiler, with its cache).
FlatCompiler = Callable[[Mapping[str, Any]], CompiledWorkflow]
_Key = tuple[str, str, str | None]

_CONTEXT = "workflow_compilation | inner_workflow"
_STEP_REF = re.compile(r"\$steps\.([A-Za-z_\-0-9]+)")
_STEP_OUTPUT_REF = re.compile(r"\$steps\.([A-Za-z_\-0-9]+)(?:\.([A-Za-z_*0-9\-]+))?")
_INPUT_REF = re.compile(r"\$inputs\.([A-Za-z_0-9\-]+)")
_NAME = re.compile(r"^[A-Za-z_0-9\-]+$")


def _inner_steps(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps = definition.get("steps")
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, dict) and s.get("type") == INNER_WORKFLOW_TYPE]


def has_inner_workflows(definition: Mapping[str, Any]) -> bool:
    """Whether ``definition`` has ``inner_workflow`` steps (of either execution mode)."""
    return bool(_inner_steps(definition))


def _stripped(value: Any) -> str | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def _reference(step: Mapping[str, Any]) -> _Key | None:
    workspace, workflow = (
        _stripped(step.get("workflow_workspace_id")),
        _stripped(step.get("workflow_id")),
    )
    if workspace is None or workflow is None:
        return None
    return workspace, workflow, _stripped(step.get("workflow_version_id"))


def has_stored_children(definition: Mapping[str, Any]) -> bool:
    """Whether expanding ``definition`` reads stored workflows (what it compiles to can then
    change without the definition changing). Recursive: check the nesting first."""
    for step in _inner_steps(definition):
        if _reference(step) is not None:
            return True
        child = step.get("workflow_definition")
        if isinstance(child, dict) and has_stored_children(child):
            return True
    return False


def _fail(
    step: str,
    field_name: str | None,
    details: str,
    error: type[WorkflowDefinitionError] = WorkflowDefinitionError,
) -> WorkflowDefinitionError:
    return error(
        f"Step {step!r} ({INNER_WORKFLOW_TYPE}): {details}",
        context=None if error is not WorkflowDefinitionError else _CONTEXT,
        blocks_errors=[BlockError(step, INNER_WORKFLOW_TYPE, field_name, details)],
    )


def _within(error: WorkflowError, step: str, key: _Key | None) -> WorkflowError:
    """``error`` of a child workflow, as an error of the step that holds it (same class and
    status; the child's own locations stay in ``blocks_errors``)."""
    field_name = "workflow_definition" if key is None else "workflow_id"
    wrapped = type(error)(
        f"Step {step!r} ({INNER_WORKFLOW_TYPE}), child workflow {_label(key)}: {error.message}",
        context=error.context,
        blocks_errors=[
            BlockError(step, INNER_WORKFLOW_TYPE, field_name, error.message),
            *error.blocks_errors,
        ],
        inner=error,
    )
    wrapped.http_status = error.http_status
    return wrapped


def _label(key: _Key | None) -> str:
    if key is None:
        return "(inline)"
    workspace, workflow, version = key
    return f"{workspace}/{workflow}" + (f" version {version}" if version else "")


def _map_strings(value: Any, rewrite: Callable[[str], Any]) -> Any:
    """A copy of ``value`` with every string leaf (not dict keys) replaced by ``rewrite``'s."""
    if isinstance(value, dict):
        return {key: _map_strings(item, rewrite) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, rewrite) for item in value]
    return rewrite(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class _Child:
    """One inner step, inlined: its steps, and its outputs' selectors in the parent (with the
    child's own selectors, for errors)."""

    steps: list[dict[str, Any]]
    outputs: dict[str, tuple[Any, str]]


def _child_rewriter(renamed: Mapping[str, str], values: Mapping[str, Any]) -> Callable[[str], Any]:
    """Child step names first, then inputs (so a binding that selects a parent step named like
    a child step keeps its name): a string that is exactly ``$inputs.x`` becomes the value
    itself (any JSON value), ``$inputs.x`` inside a longer string its text."""

    def rewrite(text: str) -> Any:
        text = _STEP_REF.sub(lambda m: f"$steps.{renamed.get(m.group(1), m.group(1))}", text)
        whole = _INPUT_REF.fullmatch(text)
        if whole is not None and whole.group(1) in values:
            return copy.deepcopy(values[whole.group(1)])
        return _INPUT_REF.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text
        )

    return rewrite


def _values(step: str, raw: Mapping[str, Any], plan: CompiledWorkflow) -> dict[str, Any]:
    """What each child input becomes: its binding, or the default of an unbound parameter."""
    bindings = raw.get("parameter_bindings")
    if not isinstance(bindings, dict):
        raise _fail(
            step,
            "parameter_bindings",
            "`parameter_bindings` must be an object",
            InnerWorkflowInvalidStepEntryError,
        )
    declared = {compiled.name: compiled.declaration for compiled in plan.inputs}
    unknown = sorted(set(bindings) - set(declared))
    if unknown:
        raise _fail(
            step,
            "parameter_bindings",
            f"parameter_bindings names unknown child workflow inputs {unknown}; "
            f"the child's inputs: {sorted(declared)}",
            InnerWorkflowParameterBindingsUnknownInputError,
        )
    values = dict(bindings)
    missing = []
    for name, declaration in declared.items():
        if name in values:
            continue
        if isinstance(declaration, ParameterInput) and declaration.default_value is not None:
            values[name] = declaration.default_value
        else:
            missing.append(name)
    if missing:
        raise _fail(
            step,
            "parameter_bindings",
            f"parameter_bindings has no binding for the child workflow inputs {sorted(missing)} "
            "(only a WorkflowParameter with a default_value may be left out)",
            InnerWorkflowParameterBindingsMissingRequiredError,
        )
    return values


def _inline(
    step: str, child: Mapping[str, Any], values: Mapping[str, Any], taken: set[str]
) -> _Child:
    child_steps: list[dict[str, Any]] = child.get("steps") or []
    if not child_steps:
        raise _fail(
            step,
            "workflow_definition",
            "the child workflow has no steps to inline",
            InnerWorkflowInvalidStepEntryError,
        )
    renamed: dict[str, str] = {}
    for child_step in child_steps:
        base = f"{step}__{child_step['name']}"
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}__{suffix}", suffix + 1
        taken.add(name)
        renamed[str(child_step["name"])] = name
    rewrite = _child_rewriter(renamed, values)
    steps = []
    for child_step in child_steps:
        inlined = _map_strings({k: v for k, v in child_step.items() if k != "name"}, rewrite)
        steps.append({"name": renamed[str(child_step["name"])], **inlined})
    outputs = {
        str(output["name"]): (rewrite(str(output["selector"])), str(output["selector"]))
        for output in child.get("outputs") or []
    }
    return _Child(steps, outputs)


def _parent_rewriter(children: Mapping[str, _Child]) -> Callable[[str], str]:
    """``$steps.<inner step>.<output>`` → the child output's selector; a bare
    ``$steps.<inner step>`` → its first inlined step."""

    def replace(match: re.Match[str]) -> str:
        child = children.get(match.group(1))
        if child is None:
            return match.group(0)
        output = match.group(2)
        if output is None:
            return f"$steps.{child.steps[0]['name']}"
        if output not in child.outputs:
            details = (
                f"{match.group(0)}: the child workflow of step {match.group(1)!r} has no output "
                f"{output!r} (its outputs: {', '.join(sorted(child.outputs)) or 'none'}; "
                "inner workflow outputs are selected one by one)"
            )
            raise InvalidReferenceTargetError(
                details,
                context=_CONTEXT,
                blocks_errors=[BlockError(match.group(1), INNER_WORKFLOW_TYPE, output, details)],
            )
        selector, own = child.outputs[output]
        if not isinstance(selector, str) or parse_selector(selector) is None:
            # A child output of a child input bound to a literal: nothing to select.
            raise _fail(
                match.group(1),
                "parameter_bindings",
                f"{match.group(0)}: child output {output!r} selects {own!r}, which its binding "
                f"makes {selector!r}, not a selector",
                InnerWorkflowInvalidStepEntryError,
            )
        return selector

    return lambda text: _STEP_OUTPUT_REF.sub(replace, text)


@dataclass
class _Expansion:
    limits: WorkflowLimits
    compile_flat: FlatCompiler
    resolve: ChildResolver | None
    fetched: dict[_Key, Mapping[str, Any]] = field(default_factory=dict)
    fetched_bytes: int = 0

    def expand(self, definition: Mapping[str, Any], depth: int, chain: tuple[_Key, ...]) -> Any:
        raw_steps = definition.get("steps")
        if not has_inner_workflows(definition) or not isinstance(raw_steps, list):
            return definition
        # Only string names: the compiler reports missing or wrong ones, by step position.
        names = [
            s["name"] for s in raw_steps if isinstance(s, dict) and isinstance(s.get("name"), str)
        ]
        taken: set[str] = set()
        for name in names:
            if name in taken:
                raise DuplicatedNameError(
                    f"Workflow definition has two steps named {name!r}; names must be unique.",
                    blocks_errors=[BlockError(name, None, "name")],
                )
            taken.add(name)
        children: dict[str, _Child] = {}
        for raw in _inner_steps(definition):
            step = raw.get("name")
            if not isinstance(step, str) or not _NAME.match(step):
                raise _fail(
                    str(step),
                    "name",
                    "an inner_workflow step needs a valid `name`",
                    InnerWorkflowInvalidStepEntryError,
                )
            children[step] = self._child(step, raw, depth, chain, taken)
        rewrite = _parent_rewriter(children)
        steps: list[Any] = []
        for raw in raw_steps:
            embedded = isinstance(raw, dict) and raw.get("type") == INNER_WORKFLOW_TYPE
            inlined = children.get(str(raw.get("name"))) if embedded else None
            if inlined is not None:
                steps.extend(_map_strings(inlined.steps, rewrite))
            else:
                steps.append(_map_strings(raw, rewrite))
        if len(steps) > self.limits.max_steps:
            details = (
                f"has {len(steps)} steps once its inner workflows are inlined, more than the "
                f"{self.limits.max_steps} a definition may have ({MAX_STEPS_SETTING})"
            )
            raise WorkflowDefinitionError(
                f"The workflow definition {details}.",
                context=_CONTEXT,
                blocks_errors=[BlockError(None, None, "steps", details)],
                status_code=413,
            )
        outputs = _map_strings(definition.get("outputs"), rewrite)
        return {**definition, "steps": steps, "outputs": outputs}

    def _child(
        self,
        name: str,
        raw: Mapping[str, Any],
        depth: int,
        chain: tuple[_Key, ...],
        taken: set[str],
    ) -> _Child:
        if raw.get("execution_mode", EMBEDDED) != EMBEDDED:
            raise _fail(
                name,
                "execution_mode",
                f"execution_mode {raw.get('execution_mode')!r} is not supported by this server "
                "(it does not send workflows to other servers); use 'embedded'",
            )
        key, child = self._source(name, raw, depth, chain)
        try:
            flat = self.expand(child, depth + 1, (*chain, key) if key else chain)
            plan = self.compile_flat(flat)
        except WorkflowError as exc:
            raise _within(exc, name, key) from None
        return _inline(name, flat, _values(name, raw, plan), taken)

    def _source(
        self, name: str, raw: Mapping[str, Any], depth: int, chain: tuple[_Key, ...]
    ) -> tuple[_Key | None, Mapping[str, Any]]:
        inline = raw.get("workflow_definition")
        inline = inline if isinstance(inline, dict) and inline else None
        key = _reference(raw)
        if inline is not None and key is not None:
            raise _fail(
                name,
                "workflow_definition",
                "set either `workflow_definition` or `workflow_workspace_id` and "
                "`workflow_id`, not both",
            )
        if inline is None and key is None:
            raise _fail(
                name,
                "workflow_definition",
                "needs a non-empty `workflow_definition` object or both "
                "`workflow_workspace_id` and `workflow_id`",
            )
        if key is not None and key in chain:
            path = " -> ".join(_label(k) for k in (*chain[chain.index(key) :], key))
            raise _fail(
                name,
                "workflow_id",
                f"workflow {_label(key)} includes itself ({path}); an inner workflow cannot "
                f"recurse, it may nest at most {self.limits.max_inner_depth} levels "
                f"({MAX_INNER_DEPTH_SETTING})",
                InnerWorkflowCompositionCycleError,
            )
        if depth + 1 > self.limits.max_inner_depth:
            raise _fail(
                name,
                "workflow_definition" if key is None else "workflow_id",
                f"inner workflows nest {depth + 1} levels deep here, more than the "
                f"{self.limits.max_inner_depth} they may nest ({MAX_INNER_DEPTH_SETTING})",
                InnerWorkflowNestingDepthError,
            )
        if key is None:
            assert inline is not None
            return None, inline
        return key, self._fetch(name, key)

    def _fetch(self, name: str, key: _Key) -> Mapping[str, Any]:
        if self.resolve is None:
            raise _fail(
                name,
                "workflow_id",
                f"the stored workflow {_label(key)} cannot be looked up here (no caller's "
                "workspace); give the child inline in `workflow_definition`",
            )
        child = self.fetched.get(key)
        if child is None:
            try:
                child = self.resolve(*key)
            except (NotFoundError, InvalidInputError) as exc:
                raise _fail(name, "workflow_id", exc.message) from None
            self.fetched[key] = child
        # Every use of a stored child adds its size: a definition cannot multiply a large one.
        try:
            self.fetched_bytes += len(check_definition(child, self.limits))
        except WorkflowError as exc:
            raise _within(exc, name, key) from None
        if self.fetched_bytes > self.limits.max_definition_bytes:
            raise PayloadTooLargeError(
                f"Step {name!r} ({INNER_WORKFLOW_TYPE}): the stored inner workflows of this "
                f"definition add up to {self.fetched_bytes} bytes of JSON, more than the "
                f"{self.limits.max_definition_bytes} a definition may have "
                f"({MAX_DEFINITION_BYTES_SETTING})"
            )
        return child


def expand_inner_workflows(
    definition: Mapping[str, Any],
    *,
    limits: WorkflowLimits,
    compile_flat: FlatCompiler,
    resolve: ChildResolver | None = None,
) -> Mapping[str, Any]:
    """``definition`` with every embedded ``inner_workflow`` step inlined (itself when it has
    none; never modified). ``definition`` must be within ``limits`` already
    (``check_definition``); the result must be checked again (inlined steps count)."""
    result: Mapping[str, Any] = _Expansion(limits, compile_flat, resolve).expand(definition, 0, ())
    return result
