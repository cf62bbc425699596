"""``inner_workflow``: a workflow run as a step of another (``roboflow_core/inner_workflow@v1``).

The child is an inline ``workflow_definition`` or a stored workflow
(``workflow_workspace_id`` + ``workflow_id``, optionally ``workflow_version_id``), its inputs fed
by ``parameter_bindings`` (child input name → parent selector or literal). In the default
``execution_mode="embedded"`` the compiler inlines the child's steps into the parent before
compiling it (``workflows.inner``), as the reference does, so this block never runs: the child's
steps run as parent steps named ``<step>__<child step>``, on the batches their bindings select,
and ``$steps.<step>.<child output>`` reads a child output with its own kind and dimensionality.

``execution_mode="remote_dispatch"`` (the reference's fire-and-forget POST of the child to another
inference server) is refused with a 400 when the definition compiles: this server does not send
workflows to other servers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.errors import BlockError, WorkflowDefinitionError
from visionflow.workflows.inner import INNER_WORKFLOW_TYPE, REMOTE_DISPATCH
from visionflow.workflows.manifest import AnySelector, StepManifest

__all__ = ["INNER_WORKFLOW_BLOCKS", "InnerWorkflowManifestV1", "InnerWorkflowV1"]


def _present(value: str | None) -> bool:
    return bool(value and value.strip())


class InnerWorkflowManifestV1(StepManifest):
    execution_mode: Literal["embedded", "remote_dispatch"] = "embedded"
    remote_target: str | None = None
    workflow_definition: dict[str, Any] | None = None
    workflow_workspace_id: str | None = None
    workflow_id: str | None = None
    workflow_version_id: str | None = None
    parameter_bindings: dict[str, AnySelector]

    @model_validator(mode="after")
    def _one_source(self) -> InnerWorkflowManifestV1:
        if self.remote_target is not None and not self.remote_target.strip():
            raise ValueError("`remote_target` must be a non-empty URL when provided.")
        inline = bool(self.workflow_definition)
        stored = _present(self.workflow_workspace_id) and _present(self.workflow_id)
        if inline and stored:
            raise ValueError(
                "Provide either `workflow_definition` or workflow reference fields "
                "(`workflow_workspace_id` and `workflow_id`), not both."
            )
        if not (inline or stored):
            raise ValueError(
                "inner_workflow requires a non-empty `workflow_definition` object or both "
                "`workflow_workspace_id` and `workflow_id`."
            )
        return self


class InnerWorkflowV1(Block):
    """Inlined by the compiler when embedded (see the module docstring); a remote-dispatch step
    has no outputs and refuses to run."""

    type = INNER_WORKFLOW_TYPE
    manifest = InnerWorkflowManifestV1
    outputs = (OutputDefinition("*", (k.WILDCARD,)),)
    block_type = "flow_control"
    execution_engine_compatibility = ">=1.4.0,<2.0.0"

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, InnerWorkflowManifestV1)
        return () if manifest.execution_mode == REMOTE_DISPATCH else self.outputs

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        if inputs["execution_mode"] == REMOTE_DISPATCH:
            details = (
                "execution_mode 'remote_dispatch' is not supported by this server (it does not "
                "send workflows to other servers); use 'embedded'"
            )
        else:
            details = "an embedded inner workflow must be inlined by the compiler before it runs"
        raise WorkflowDefinitionError(
            f"Step {inputs.step!r} ({self.type}): {details}",
            context="workflow_execution | inner_workflow",
            blocks_errors=[BlockError(inputs.step, self.type, "execution_mode", details)],
        )


INNER_WORKFLOW_BLOCKS: tuple[type[Block], ...] = (InnerWorkflowV1,)
