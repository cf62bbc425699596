"""What the notification sinks (email, Slack, Twilio) share with the reference's: messages with
``{{ $parameters.name }}`` placeholders filled from ``message_parameters`` after their
operations, ``disable_sink`` and the request's ``disable_sinks``, cooldowns, and
``fire_and_forget`` (the call goes to the sink pool and the step answers at once).

Each notification outcome is ``{"error_status", "throttling_status", "message"}`` with the
reference's messages; a call that fails is reported there, never raised."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from visionflow.core.visualization import encode_jpeg
from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.expressions import apply_data_operations
from visionflow.workflows.blocks.outbound import Outbound, outbound_of
from visionflow.workflows.blocks.sinks import EGRESS_OFF, THROTTLED_SINK_OUTPUTS
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.serialize import serialize_value

__all__ = [
    "Cooldown",
    "NotificationBlock",
    "Send",
    "as_bytes",
    "call_timeout_s",
    "check_cooldown_bounds",
    "cooled_down",
    "deliver",
    "fill_message",
    "message_values",
    "outcome",
    "preflight",
    "present",
    "secret_hash",
    "throttled_across_runs",
]

log = logging.getLogger("visionflow.workflows")

PARAMETER = re.compile(r"({{\s*\$parameters\.(\w+)\s*}})")
# The reference keeps Slack / Twilio v1 cooldowns in its cache for 15 minutes, so
# ``cooldown_seconds`` may be at most that.
MAX_COOLDOWN_S = 15 * 60

# A delivery: (error_status, message), never raising.
Send = Callable[[], tuple[bool, str]]


def outcome(error: bool, message: str, throttled: bool = False) -> StepResult:
    return {"error_status": error, "throttling_status": throttled, "message": message}


def preflight(inputs: StepInputs, context: RunContext) -> tuple[Outbound | None, StepResult | None]:
    """The sink environment, or the outcome of a step that sends nothing: disabled by its
    ``disable_sink`` or the request's ``disable_sinks``, no sinks on this server, or outbound
    calls off."""
    sinks = outbound_of(context)
    if sinks is not None and sinks.disabled:
        return None, outcome(False, "Sink was disabled by workflow execution policy")
    if inputs.as_bool("disable_sink"):
        return None, outcome(False, "Sink was disabled by parameter `disable_sink`")
    if sinks is None:
        return None, outcome(False, "Sink skipped: this server has no sinks configured")
    if not sinks.allow_egress:
        return None, outcome(True, EGRESS_OFF)
    return sinks, None


def present(sinks: Outbound | None) -> Outbound:
    """``sinks`` where ``preflight`` found no reason to skip (it is then never ``None``)."""
    if sinks is None:
        raise RuntimeError("a sink step ran without a sink environment")
    return sinks


def message_values(inputs: StepInputs, context: RunContext, *, used_only: bool) -> dict[str, Any]:
    """``message_parameters`` after ``message_parameters_operations``; ``used_only``: only the
    parameters ``message`` uses (the reference runs no operations for the others)."""
    values: dict[str, Any] = dict(inputs["message_parameters"])
    if used_only:
        used = {name for _, name in PARAMETER.findall(inputs.as_str("message"))}
        values = {name: value for name, value in values.items() if name in used}
    operations = {
        name: chain
        for name, chain in inputs["message_parameters_operations"].items()
        if name in values and chain
    }
    return apply_data_operations(
        inputs, values, "message_parameters_operations", operations, context.budget
    )


def fill_message(message: str, values: dict[str, Any], render: Callable[[str, Any], str]) -> str:
    """``message`` with each placeholder of a known parameter replaced by ``render(name,
    value)``; placeholders of unknown parameters stay as written."""

    def replace_one(match: re.Match[str]) -> str:
        name = match.group(2)
        return render(name, values[name]) if name in values else match.group(1)

    return PARAMETER.sub(replace_one, message)


def as_bytes(value: Any) -> bytes:
    """An attachment's bytes: bytes as they are, text as UTF-8, an image as JPEG, anything else
    as its serialized JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, WorkflowImage):
        return encode_jpeg(value.pixels_bgr, 95)
    return json.dumps(serialize_value(value)).encode()


def secret_hash(*secrets: str) -> str:
    """A key for state kept per credential (cooldowns), never holding the credential."""
    return ":".join(hashlib.sha256(secret.encode()).hexdigest() for secret in secrets)


def call_timeout_s(sinks: Outbound, context: RunContext, waited: bool) -> float:
    """The timeout of one call: the sink timeout, and for a call the step waits for, no longer
    than what is left of the run."""
    remaining = context.budget.remaining_s()
    if not waited or remaining is None:
        return sinks.timeout_s
    return max(min(sinks.timeout_s, remaining), 1e-3)


class Cooldown:
    """At most one notification per ``cooldown_seconds``: the reference's check (a cooldown of
    0 never throttles). ``last`` holds the monotonic time of the last one sent."""

    def __init__(self) -> None:
        self.last: float | None = None

    def throttles(self, inputs: StepInputs, *, high: int | None = None) -> bool:
        seconds = inputs.as_int("cooldown_seconds", low=0, high=high)
        if self.last is not None and time.monotonic() - self.last < seconds:
            log.info("%s: sink cooldown applies", inputs.block_type)
            return True
        return False

    def fired(self) -> None:
        self.last = time.monotonic()


def cooled_down() -> StepResult:
    """The outcome of a notification the cooldown holds back (a new dict each time: results
    are the executor's to keep)."""
    return outcome(False, "Sink cooldown applies", throttled=True)


def throttled_across_runs(
    inputs: StepInputs, context: RunContext, key: tuple[str, ...], local: Cooldown
) -> bool:
    """The cooldown of Slack / Twilio v1, which the reference keeps in its cache for 15 minutes
    per ``cooldown_session_key`` and credentials: here in the workflow's memory (``local``, one
    run's, outside an executor run). Marks a notification fired when it is not throttled."""
    if context.memory is None:
        throttled = local.throttles(inputs, high=MAX_COOLDOWN_S)
        if not throttled:
            local.fired()
        return throttled
    with context.memory.hold(("cooldown", inputs.block_type, *key), Cooldown) as kept:
        throttled = kept.throttles(inputs, high=MAX_COOLDOWN_S)
        if not throttled:
            kept.fired()
        return throttled


def check_cooldown_bounds(value: Any) -> Any:
    """The reference's manifest check of Slack / Twilio v1 ``cooldown_seconds``."""
    if isinstance(value, int) and not 0 <= value <= MAX_COOLDOWN_S:
        raise ValueError(f"`cooldown_seconds` must be in range [0, {MAX_COOLDOWN_S}]")
    return value


def deliver(
    sinks: Outbound, inputs: StepInputs, context: RunContext, send: Callable[[float], Send]
) -> StepResult:
    """Run ``send(timeout_s)`` now, or in the sink pool when ``fire_and_forget``."""
    if inputs.as_bool("fire_and_forget"):
        task = send(call_timeout_s(sinks, context, waited=False))
        sinks.submit(task)
        return outcome(False, "Notification sent in the background task")
    error, message = send(call_timeout_s(sinks, context, waited=True))()
    return outcome(error, message)


class NotificationBlock(Block):
    """The notification sinks' common shape: the outcome outputs, and each element of a batch
    through ``preflight`` and then ``_notify`` (with one ``Cooldown`` for the batch, which
    ``_held`` may consult first)."""

    concurrent = True

    outputs = THROTTLED_SINK_OUTPUTS

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        local = Cooldown()
        results: list[StepResult] = []
        for inputs in batch:
            sinks, skipped = preflight(inputs, context)
            if skipped is None and self._held(inputs, local):
                skipped = cooled_down()
            results.append(skipped or self._notify(present(sinks), inputs, context, local))
        return results

    def _held(self, inputs: StepInputs, local: Cooldown) -> bool:
        """Whether the batch's cooldown holds this element back before ``_notify`` (blocks that
        throttle across runs do it inside ``_notify``, where their cooldown key is known)."""
        return False

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        raise NotImplementedError
