"""``twilio_sms_notification`` v1 and v2: an SMS (v2: or MMS) through Twilio's REST API at
``VISIONFLOW_WORKFLOWS_TWILIO_API_URL`` (default ``https://api.twilio.com``): the request the
reference's ``twilio`` client makes, ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``
with HTTP basic auth (account SID and auth token) and form fields ``To``, ``From``, ``Body``
(v2: ``MediaUrl`` per media URL). The request passes the URL rules. As the ``twilio`` client,
nothing is retried; Twilio's error answer (``{"code", "message", ...}``) is in ``message``.

v1 truncates the message to ``length_limit`` characters (ending ``[...]``) and keeps its cooldown
across runs per ``cooldown_session_key`` and credentials (the reference's cache), at most 15
minutes; v2 truncates at Twilio's 1600 characters and its cooldown lasts one run.

v2's default ``sms_provider``, "Roboflow Managed API Key", relays through the Roboflow platform,
which a self-hosted server has not: it uses the operator's Twilio account
(``VISIONFLOW_WORKFLOWS_SMS_RELAY``) when one is set, else says so in ``message``. Images as
``media_url`` are uploaded by the reference to a public file host; not here (``error_status``)."""

from __future__ import annotations

import base64
import json
import logging
import re
from functools import partial
from typing import Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.notifications import (
    Cooldown,
    NotificationBlock,
    Send,
    check_cooldown_bounds,
    cooled_down,
    deliver,
    fill_message,
    message_values,
    outcome,
    secret_hash,
    throttled_across_runs,
)
from visionflow.workflows.blocks.outbound import ApiCall, Outbound
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    AnySelector,
    BooleanSelector,
    IntegerSelector,
    Reference,
    SecretSelector,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.query import Operation
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["TWILIO_BLOCKS", "TwilioSmsNotificationV1", "TwilioSmsNotificationV2"]

log = logging.getLogger("visionflow.workflows")

MediaSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.STRING, k.LIST_OF_VALUES, k.IMAGE)),
]
ParameterValue = AnySelector | str | int | float | bool
TRUNCATION_MARKER = "[...]"
MMS_CHAR_LIMIT = 1600
MANAGED: Final = "Roboflow Managed API Key"
NO_RELAY = (
    "Failed to send SMS via proxy: sms_provider 'Roboflow Managed API Key' relays through the "
    "Roboflow platform, which a self-hosted visionflow server does not use; set sms_provider to "
    "'Custom Twilio' with twilio_account_sid, twilio_auth_token and sender_number, or ask the "
    "operator to set VISIONFLOW_WORKFLOWS_SMS_RELAY"
)
_SID = re.compile(r"^[A-Za-z0-9]+$")


class TwilioSmsV1Manifest(StepManifest):
    twilio_account_sid: str | SecretSelector
    twilio_auth_token: str | SecretSelector
    sender_number: str | StringSelector
    receiver_number: str | StringSelector
    message: str
    message_parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    message_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5
    cooldown_session_key: str
    length_limit: int | IntegerSelector = 160

    _cooldown = field_validator("cooldown_seconds")(check_cooldown_bounds)

    @field_validator("length_limit")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value <= 0:
            raise ValueError("Length limit for SMS must be greater than 0")
        return value


class TwilioSmsV2Manifest(StepManifest):
    sms_provider: Literal["Roboflow Managed API Key", "Custom Twilio"] = MANAGED
    receiver_number: str | StringSelector
    message: str
    message_parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    message_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    media_url: str | list[str] | MediaSelector | None = None
    twilio_account_sid: str | SecretSelector | None = None
    twilio_auth_token: str | SecretSelector | None = None
    sender_number: str | StringSelector | None = None
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5


def _truncated(message: str, limit: int) -> str:
    if len(message) <= limit:
        return message
    return f"{message[: limit - 1 - len(TRUNCATION_MARKER)]} {TRUNCATION_MARKER}"


def _twilio_error(status: int, body: bytes) -> str:
    """What the ``twilio`` client's exception says: ``HTTP 400 error: Unable to create record:
    <Twilio's message>``."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    detail = answer.get("message") if isinstance(answer, dict) else None
    text = str(detail) if detail else body[:200].decode("utf-8", "replace")
    return f"HTTP {status} error: Unable to create record: {text}"


def _send_sms(
    sinks: Outbound,
    sid: str,
    token: str,
    fields: dict[str, Any],
    timeout_s: float,
) -> tuple[bool, str]:
    credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
    try:
        reply = sinks.call(
            ApiCall(
                "POST",
                f"{sinks.api_url('twilio')}/2010-04-01/Accounts/{sid}/Messages.json",
                headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"},
                data=fields,
                timeout_s=timeout_s,
                purpose="Twilio API URL",
            )
        )
        if not 200 <= reply.status_code < 300:
            raise RuntimeError(_twilio_error(reply.status_code, reply.body))
    except Exception as exc:  # Twilio's refusal, the URL guard's or a transport error
        log.warning("could not send Twilio SMS notification: %s", exc)
        return True, f"Failed to send Twilio SMS notification. Internal error details: {exc}"
    return False, "Notification sent successfully"


def _credentials(inputs: StepInputs) -> tuple[str, str]:
    sid, token = inputs.as_str("twilio_account_sid"), inputs.as_str("twilio_auth_token")
    if not _SID.match(sid):
        raise inputs.fail("twilio_account_sid", "an account SID is letters and digits only")
    return sid, token


class TwilioSmsNotificationV1(NotificationBlock):
    """``message`` (placeholders filled with ``str`` of each parameter after its operations,
    then cut to ``length_limit``) from ``sender_number`` to ``receiver_number``."""

    type = "roboflow_core/twilio_sms_notification@v1"
    manifest = TwilioSmsV1Manifest

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        sid, token = _credentials(inputs)
        key = (secret_hash(sid, token), inputs.as_str("cooldown_session_key"))
        if throttled_across_runs(inputs, context, key, local):
            return cooled_down()
        values = message_values(inputs, context, used_only=True)
        text = fill_message(inputs.as_str("message"), values, lambda _name, v: str(v))
        text = _truncated(text, inputs.as_int("length_limit", low=len(TRUNCATION_MARKER) + 2))
        fields = {
            "To": inputs.as_str("receiver_number"),
            "From": inputs.as_str("sender_number"),
            "Body": text,
        }

        def send(timeout_s: float) -> Send:
            return partial(_send_sms, sinks, sid, token, fields, timeout_s)

        return deliver(sinks, inputs, context, send)


class TwilioSmsNotificationV2(NotificationBlock):
    """``sms_provider`` "Custom Twilio" (or the managed mode with the operator's relay):
    ``message`` cut to 1600 characters, with ``media_url`` (a URL or a list of them) as MMS
    media. An image as ``media_url`` would need a public host for it, so such a step answers
    ``error_status``."""

    type = "roboflow_core/twilio_sms_notification@v2"
    manifest = TwilioSmsV2Manifest

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        if local.throttles(inputs):
            return cooled_down()
        relay = sinks.sms_relay if inputs["sms_provider"] == MANAGED else None
        if inputs["sms_provider"] == MANAGED and relay is None:
            local.fired()
            return outcome(True, NO_RELAY)
        if relay is None and not all(
            inputs.get(f) for f in ("twilio_account_sid", "twilio_auth_token", "sender_number")
        ):
            return outcome(
                True,
                "Custom Twilio requires twilio_account_sid, twilio_auth_token, and sender_number",
            )
        sid, token = (relay.account_sid, relay.auth_token) if relay else _credentials(inputs)
        media = inputs.get("media_url")
        items = [] if media is None else media if isinstance(media, list | tuple) else [media]
        if any(isinstance(item, WorkflowImage) for item in items):
            local.fired()
            return outcome(
                True,
                "Failed to send Twilio SMS notification: an image as media_url would have to be "
                "uploaded to a public file host, which visionflow does not do; give the URL of "
                "an image Twilio can fetch",
            )
        if not all(isinstance(item, str) for item in items):
            raise inputs.fail("media_url", "expected a URL or a list of URLs")
        values = message_values(inputs, context, used_only=True)
        text = fill_message(inputs.as_str("message"), values, lambda _name, v: str(v))
        fields: dict[str, Any] = {
            "To": inputs.as_str("receiver_number"),
            "From": relay.sender if relay else inputs.as_str("sender_number"),
            "Body": _truncated(text, MMS_CHAR_LIMIT),
        }
        if items:
            fields["MediaUrl"] = list(items)
        local.fired()

        def send(timeout_s: float) -> Send:
            return partial(_send_sms, sinks, sid, token, fields, timeout_s)

        return deliver(sinks, inputs, context, send)


TWILIO_BLOCKS: tuple[type[Block], ...] = (TwilioSmsNotificationV1, TwilioSmsNotificationV2)
