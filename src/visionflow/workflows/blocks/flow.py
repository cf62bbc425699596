"""Flow control: ``continue_if`` runs its ``next_steps`` only where its condition holds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from visionflow.workflows.block import Block, Decision, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import AnySelector, FloatSelector, StepManifest, StepSelector
from visionflow.workflows.query import QueryError, StatementGroup, evaluate

__all__ = ["FLOW_BLOCKS", "ContinueIfV1"]


class ContinueIfManifest(StepManifest):
    condition_statement: StatementGroup
    evaluation_parameters: dict[str, AnySelector] = Field(default_factory=dict)
    next_steps: list[StepSelector]
    # Video only in the reference (keeps a branch open for a while); accepted, not used here.
    stop_delay: FloatSelector | float = 0


class ContinueIfV1(Block):
    """Evaluates ``condition_statement`` over ``evaluation_parameters`` (named values) for each
    element; where it is false, the ``next_steps`` (and what depends on them) are skipped."""

    type = "roboflow_core/continue_if@v1"
    aliases = ("ContinueIf",)
    manifest = ContinueIfManifest
    flow_control = True

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        params: dict[str, Any] = inputs["evaluation_parameters"]
        statement: StatementGroup = inputs["condition_statement"]
        if not inputs["next_steps"]:
            return Decision(proceed=False)
        try:
            return Decision(proceed=evaluate(statement, params))
        except QueryError as exc:
            raise inputs.fail("condition_statement", str(exc)) from None


FLOW_BLOCKS: tuple[type[Block], ...] = (ContinueIfV1,)
