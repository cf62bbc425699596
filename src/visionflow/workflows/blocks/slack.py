"""``slack_notification``: a message to a Slack channel through the Slack Web API at
``VISIONFLOW_WORKFLOWS_SLACK_API_URL`` (default ``https://slack.com/api``), the calls the
reference's ``slack_sdk`` makes: ``chat.postMessage``, or with attachments the external upload
flow (``files.getUploadURLExternal``, the file's bytes to the upload URL Slack gave,
``files.completeUploadExternal`` with the message as ``initial_comment``).

Every request passes the URL rules (the upload URL Slack answers with included). Slack answers
``{"ok": false, "error": "..."}`` when it refuses; that ``error`` is in ``message``. As
``slack_sdk``'s default client, a call whose connection fails is tried once more. The cooldown
lasts across runs per ``cooldown_session_key`` and token (the reference's cache), at most 15
minutes."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Annotated, Any

from pydantic import Field, field_validator

from visionflow.errors import ImageFetchError
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.notifications import (
    Cooldown,
    NotificationBlock,
    Send,
    as_bytes,
    check_cooldown_bounds,
    cooled_down,
    deliver,
    fill_message,
    message_values,
    secret_hash,
    throttled_across_runs,
)
from visionflow.workflows.blocks.outbound import ApiCall, ApiReply, Outbound
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

__all__ = ["SLACK_BLOCKS", "SlackApiError", "SlackNotificationV1"]

log = logging.getLogger("visionflow.workflows")


class SlackNotificationManifest(StepManifest):
    slack_token: str | SecretSelector
    channel: str | StringSelector
    message: str
    message_parameters: dict[str, AnySelector | str | int | float | bool] = Field(
        default_factory=dict
    )
    message_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    attachments: dict[
        str,
        Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.BYTES))],
    ] = Field(default_factory=dict)
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5
    cooldown_session_key: str

    _cooldown = field_validator("cooldown_seconds")(check_cooldown_bounds)


class SlackApiError(Exception):
    """Slack answered, but not ``ok``: ``str`` is Slack's ``error`` code."""


class _Slack:
    """The Web API calls of one notification."""

    def __init__(self, sinks: Outbound, token: str, timeout_s: float) -> None:
        self._sinks = sinks
        self._base = sinks.api_url("slack")
        self._auth = {"Authorization": f"Bearer {token}"}
        self._timeout_s = timeout_s

    def _send(self, request: ApiCall) -> ApiReply:
        try:
            return self._sinks.call(request)
        except ImageFetchError:  # the connection failed: once more, as slack_sdk does
            log.info("retrying the Slack call to %s", request.url)
            return self._sinks.call(request)

    def method(self, name: str, **fields: Any) -> dict[str, Any]:
        """POST a Web API method (form-encoded, as ``slack_sdk`` sends files methods; JSON for
        ``chat.postMessage``) and return its ``ok`` answer."""
        as_json = name == "chat.postMessage"
        reply = self._send(
            ApiCall(
                "POST",
                f"{self._base}/{name}",
                headers=self._auth,
                json=fields if as_json else None,
                data=None if as_json else fields,
                timeout_s=self._timeout_s,
                purpose="Slack API URL",
            )
        )
        try:
            answer = json.loads(reply.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SlackApiError(f"HTTP {reply.status_code} without a JSON answer from {name}")
        if not answer.get("ok"):
            raise SlackApiError(str(answer.get("error", "Not Available.")))
        return answer

    def upload(self, url: str, content: bytes) -> None:
        reply = self._send(
            ApiCall(
                "POST",
                url,
                content=content,
                headers={"Content-Type": "application/octet-stream"},
                timeout_s=self._timeout_s,
                purpose="Slack upload URL",
            )
        )
        if reply.status_code != 200:
            raise SlackApiError(f"the file upload answered HTTP {reply.status_code}")


def _post(
    slack: _Slack, channel: str, message: str, attachments: dict[str, bytes]
) -> tuple[bool, str]:
    try:
        if not attachments:
            slack.method("chat.postMessage", channel=channel, text=message)
        else:
            files = []
            for name, content in attachments.items():
                target = slack.method(
                    "files.getUploadURLExternal", filename=name, length=str(len(content))
                )
                slack.upload(str(target["upload_url"]), content)
                files.append({"id": str(target["file_id"]), "title": name})
            slack.method(
                "files.completeUploadExternal",
                files=json.dumps(files),
                channel_id=channel,
                initial_comment=message,
            )
    except Exception as exc:  # Slack's refusal, the URL guard's or a transport error
        log.warning("could not send Slack notification: %s", exc)
        return True, f"Failed to send Slack notification. Internal error details: {exc}"
    return False, "Notification sent successfully"


class SlackNotificationV1(NotificationBlock):
    """Posts ``message`` (placeholders filled with ``str`` of each parameter after its
    operations) to ``channel``; ``attachments`` are uploaded as files with the message as their
    comment."""

    type = "roboflow_core/slack_notification@v1"
    manifest = SlackNotificationManifest

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        token = inputs.as_str("slack_token")
        key = (secret_hash(token), inputs.as_str("cooldown_session_key"))
        if throttled_across_runs(inputs, context, key, local):
            return cooled_down()
        values = message_values(inputs, context, used_only=True)
        message = fill_message(inputs.as_str("message"), values, lambda _name, v: str(v))
        channel = inputs.as_str("channel")
        attachments = {name: as_bytes(v) for name, v in inputs["attachments"].items()}

        def send(timeout_s: float) -> Send:
            return partial(_post, _Slack(sinks, token, timeout_s), channel, message, attachments)

        return deliver(sinks, inputs, context, send)


SLACK_BLOCKS: tuple[type[Block], ...] = (SlackNotificationV1,)
