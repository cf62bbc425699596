"""Flow control: ``continue_if`` runs its ``next_steps`` only where its condition holds;
``rate_limiter`` lets them run at most once per cooldown."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from visionflow.workflows.block import Block, Decision, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    AnySelector,
    FloatSelector,
    ImageSelector,
    StepManifest,
    StepSelector,
)
from visionflow.workflows.query import QueryError, StatementGroup, evaluate

__all__ = ["FLOW_BLOCKS", "ContinueIfV1", "RateLimiterV1"]


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
            return Decision(proceed=evaluate(statement, params, budget=context.budget))
        except QueryError as exc:
            raise inputs.fail("condition_statement", str(exc)) from None


class RateLimiterManifest(StepManifest):
    cooldown_seconds: Annotated[float, Field(ge=0.0)] = 1.0
    depends_on: AnySelector
    next_steps: list[StepSelector]
    video_reference_image: ImageSelector | None = None


class RateLimiterV1(Block):
    """Runs ``next_steps`` for an element only if they last ran at least ``cooldown_seconds``
    before (wall-clock time), so a batch fires once per cooldown.

    State lasts one run, as on the reference's HTTP server (which builds its execution engine per
    request): successive requests are not throttled against each other. Images carry no video
    metadata here, so ``video_reference_image`` cannot switch to frame time and is not used."""

    type = "roboflow_core/rate_limiter@v1"
    manifest = RateLimiterManifest
    flow_control = True

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        decisions: list[StepResult] = []
        last: float | None = None
        for inputs in batch:
            cooldown = inputs.as_float("cooldown_seconds", low=0.0)
            now = time.monotonic()
            proceed = bool(inputs["next_steps"]) and (last is None or now - last >= cooldown)
            if proceed:
                last = now
            decisions.append(Decision(proceed=proceed))
        return decisions


FLOW_BLOCKS: tuple[type[Block], ...] = (ContinueIfV1, RateLimiterV1)
