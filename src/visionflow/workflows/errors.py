"""Workflow errors, with the reference server's error body.

Definition problems answer 400 and step failures 500, with the body
``{"message", "error_type", "context", "inner_error_type", "inner_error_message", "blocks_errors"}``
(wire reference §4.15). ``error_type`` is the reference's error class name, so clients that branch
on it keep working; every error names the step (``block_id``) and field (``property_name``).

An error that wraps another (``inner``: a model not found inside a step, an image input that does
not decode) may answer with the inner error's status instead of the class's: the reference's
``ClientCausedStepExecutionError`` answers 400, 401, 403 or 404 as its cause does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from visionflow.errors import InvalidInputError, NotFoundError, VisionflowError

__all__ = [
    "BlockError",
    "ClientCausedStepExecutionError",
    "ControlFlowDefinitionError",
    "DuplicatedNameError",
    "ExecutionGraphStructureError",
    "InnerWorkflowCompositionCycleError",
    "InnerWorkflowCompositionError",
    "InnerWorkflowInvalidStepEntryError",
    "InnerWorkflowNestingDepthError",
    "InnerWorkflowParameterBindingsError",
    "InnerWorkflowParameterBindingsMissingRequiredError",
    "InnerWorkflowParameterBindingsUnknownInputError",
    "InvalidInputTypeError",
    "InvalidReferenceTargetError",
    "NotSupportedExecutionEngineError",
    "PluginLoadingError",
    "ReferenceTypeError",
    "RuntimeInputError",
    "StepExecutionError",
    "StepInputDimensionalityError",
    "StepInputLineageError",
    "WorkflowDefinitionError",
    "WorkflowError",
    "WorkflowNotFoundError",
    "WorkflowSyntaxError",
]


@dataclass(frozen=True)
class BlockError:
    """Where a problem is: the step (``block_id``), its block type and the field."""

    block_id: str | None
    block_type: str | None = None
    property_name: str | None = None
    property_details: str | None = None


class WorkflowError(VisionflowError):
    """Base of the workflow errors; the body carries ``context`` and ``blocks_errors``."""

    status_code = 500
    code = "WorkflowError"
    default_context: ClassVar[str] = "workflow_compilation"

    def __init__(
        self,
        message: str,
        *,
        context: str | None = None,
        blocks_errors: Sequence[BlockError] = (),
        inner: BaseException | None = None,
        status_code: int | None = None,
    ) -> None:
        self.blocks_errors = tuple(blocks_errors)
        self.context = context or self.default_context
        self.inner = inner
        details: dict[str, Any] = {
            "context": self.context,
            "inner_error_type": type(inner).__name__ if inner is not None else None,
            "inner_error_message": str(inner) if inner is not None else None,
            "blocks_errors": [asdict(error) for error in self.blocks_errors],
        }
        super().__init__(message, details=details)
        if status_code is not None:
            self.http_status = status_code


class _BadRequestError(WorkflowError, InvalidInputError):
    status_code = 400


class WorkflowDefinitionError(_BadRequestError):
    code = "WorkflowDefinitionError"


class WorkflowSyntaxError(WorkflowDefinitionError):
    """The document or a step manifest does not parse (unknown block type, bad field value)."""

    code = "WorkflowSyntaxError"


class DuplicatedNameError(WorkflowDefinitionError):
    code = "DuplicatedNameError"


class NotSupportedExecutionEngineError(WorkflowDefinitionError):
    code = "NotSupportedExecutionEngineError"


class InnerWorkflowCompositionError(WorkflowDefinitionError):
    """How ``inner_workflow`` steps nest workflows is wrong (this and the ``InnerWorkflow*``
    errors below are the reference's types, so clients may branch on ``error_type``)."""

    code = "InnerWorkflowCompositionError"
    default_context = "workflow_compilation | inner_workflow | composition"


class InnerWorkflowCompositionCycleError(InnerWorkflowCompositionError):
    code = "InnerWorkflowCompositionCycleError"


class InnerWorkflowNestingDepthError(InnerWorkflowCompositionError):
    code = "InnerWorkflowNestingDepthError"


class InnerWorkflowInvalidStepEntryError(InnerWorkflowCompositionError):
    code = "InnerWorkflowInvalidStepEntryError"


class InnerWorkflowParameterBindingsError(WorkflowDefinitionError):
    code = "InnerWorkflowParameterBindingsError"
    default_context = "workflow_compilation | inner_workflow | parameter_bindings"


class InnerWorkflowParameterBindingsUnknownInputError(InnerWorkflowParameterBindingsError):
    code = "InnerWorkflowParameterBindingsUnknownInputError"


class InnerWorkflowParameterBindingsMissingRequiredError(InnerWorkflowParameterBindingsError):
    code = "InnerWorkflowParameterBindingsMissingRequiredError"


class InvalidReferenceTargetError(_BadRequestError):
    """A selector points at an input, step or output that does not exist."""

    code = "InvalidReferenceTargetError"


class ReferenceTypeError(_BadRequestError):
    """A selector's kind is not one the field accepts."""

    code = "ReferenceTypeError"


class ExecutionGraphStructureError(_BadRequestError):
    """The steps do not form a DAG (a cycle)."""

    code = "ExecutionGraphStructureError"


class StepInputDimensionalityError(_BadRequestError):
    code = "StepInputDimensionalityError"


class StepInputLineageError(_BadRequestError):
    code = "StepInputLineageError"


class ControlFlowDefinitionError(_BadRequestError):
    code = "ControlFlowDefinitionError"


class RuntimeInputError(_BadRequestError):
    """A request's ``inputs`` do not fit the definition (missing image, batch size mismatch)."""

    code = "RuntimeInputError"
    default_context = "workflow_execution | runtime_input_validation"


class InvalidInputTypeError(_BadRequestError):
    """A step received a value of the wrong type at run time (e.g. a parameter of a wrong kind)."""

    code = "InvalidInputTypeError"
    default_context = "workflow_execution | step_input_assembling"


class StepExecutionError(WorkflowError):
    """A step failed while running; the body names the step and its block type."""

    code = "StepExecutionError"
    default_context = "workflow_execution | step_execution"


class ClientCausedStepExecutionError(WorkflowError):
    """A step failed because of the request: its model does not exist or is of another task, a
    value it was given is wrong. Answers the cause's status (``status_code``), not 500."""

    code = "ClientCausedStepExecutionError"
    default_context = "workflow_execution | step_execution"


class PluginLoadingError(WorkflowError):
    """A block plugin could not be registered (bad entry point, duplicate type id)."""

    code = "PluginLoadingError"
    default_context = "blocks_loading"


class WorkflowNotFoundError(NotFoundError):
    code = "workflow_not_found"
