"""Flow control by value: ``switch_case`` runs the step its value names; ``delta_filter`` runs
its ``next_steps`` only when a value changed since the previous frame of the same video."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from pydantic import Field, model_validator

from visionflow.workflows.block import Block, Decision, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.video import frame_metadata, video_state
from visionflow.workflows.manifest import AnySelector, ImageSelector, StepManifest, StepSelector

__all__ = ["FLOW_CONTROL_BLOCKS", "DeltaFilterV1", "SwitchCaseV1"]


class SwitchCaseManifestV1(StepManifest):
    value: str | int | float | bool | AnySelector
    cases: dict[str, StepSelector] = Field(default_factory=dict)
    case_insensitive: bool = False
    default_next_steps: list[StepSelector] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets_once(self) -> SwitchCaseManifestV1:
        targets = [*self.cases.values(), *self.default_next_steps]
        duplicated = sorted({t for t in targets if targets.count(t) > 1})
        if duplicated:
            raise ValueError(
                "Each step may be targeted at most once across `cases` and "
                f"`default_next_steps`. Duplicated targets: {duplicated}"
            )
        if self.case_insensitive:
            lowered = [key.lower() for key in self.cases]
            if len(set(lowered)) != len(lowered):
                raise ValueError(
                    "`cases` contains keys that collide when case_insensitive is enabled"
                )
        return self


def _step_name(selector: str) -> str:
    return selector.removeprefix("$steps.").split(".")[0]


class SwitchCaseV1(Block):
    """Compares ``str(value)`` (``True``, ``1.0``, ``None`` as Python writes them) with the keys
    of ``cases`` and runs the one step that matches, else ``default_next_steps``, else none."""

    type = "roboflow_core/switch_case@v1"
    aliases = ("SwitchCase",)
    manifest = SwitchCaseManifestV1
    flow_control = True
    block_type = "flow_control"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        value = inputs.get("value")
        cases: dict[str, str] = inputs["cases"]
        text = str(value)
        if inputs["case_insensitive"]:
            text = text.lower()
            matched = next((t for key, t in cases.items() if key.lower() == text), None)
        else:
            matched = cases.get(text)
        if matched is not None:
            return Decision(proceed=True, only=frozenset({_step_name(matched)}))
        defaults: list[str] = inputs["default_next_steps"]
        if defaults:
            return Decision(proceed=True, only=frozenset(_step_name(t) for t in defaults))
        return Decision(proceed=False)


class DeltaFilterManifestV1(StepManifest):
    image: ImageSelector
    value: AnySelector
    next_steps: list[StepSelector]


class DeltaFilterV1(Block):
    """Runs ``next_steps`` on a frame only when ``value`` differs from the value of the
    previous frame of the same video (the first frame always passes). Frames are of one video
    when they carry the same ``video_identifier``: across requests when they come with video
    metadata, within one batch otherwise (``blocks.video``)."""

    type = "roboflow_core/delta_filter@v1"
    manifest = DeltaFilterManifestV1
    flow_control = True
    block_type = "flow_control"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        local: dict[Hashable, Any] = {}
        decisions: list[StepResult] = []
        for inputs in batch:
            metadata, explicit = frame_metadata(inputs, None)
            last: dict[str, Any]
            with video_state(context, inputs, metadata, "", explicit, local, _new_memo) as last:
                value = inputs.get("value")
                changed = "value" not in last or not _equal(last["value"], value)
                if changed:
                    last["value"] = value
            decisions.append(Decision(proceed=changed and bool(inputs["next_steps"])))
        return decisions


def _new_memo() -> dict[str, Any]:
    return {}


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays / detections compare element-wise
        return a is b


FLOW_CONTROL_BLOCKS: tuple[type[Block], ...] = (SwitchCaseV1, DeltaFilterV1)
