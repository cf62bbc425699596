"""``email_notification`` v1 and v2: an e-mail through an SMTP server over implicit TLS (SMTPS,
port 465 by default, the certificate checked as the reference does), logged in as the sender.

v1 sends ``message`` as plain text; v2's "Custom SMTP" sends it as HTML (parameters escaped,
image parameters inline by ``cid:``, newlines as ``<br>``) with images attached as JPEG.
v2's default, "Roboflow Managed API Key", relays through the Roboflow platform; a self-hosted
server has none (the reference's offline platform client refuses the same way). The operator may
name an SMTPS relay to stand in for it (``VISIONFLOW_WORKFLOWS_EMAIL_RELAY``, trusted as
configured URLs are); without one such a step answers ``error_status`` at once with what to set.

Unlike the reference, Cc and Bcc recipients are in the SMTP envelope (the reference writes their
headers but delivers only to ``receiver_email``) and no ``Bcc`` header is sent. Cooldowns last
one run, as the reference's do behind HTTP."""

from __future__ import annotations

import html
import logging
from email.message import EmailMessage
from email.policy import SMTP
from typing import Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from visionflow.config import EmailRelay
from visionflow.core.visualization import encode_jpeg
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.notifications import (
    Cooldown,
    NotificationBlock,
    Send,
    as_bytes,
    deliver,
    fill_message,
    message_values,
    outcome,
)
from visionflow.workflows.blocks.outbound import MailDelivery, Outbound
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

__all__ = ["EMAIL_BLOCKS", "EmailNotificationV1", "EmailNotificationV2"]

log = logging.getLogger("visionflow.workflows")

RecipientsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.LIST_OF_VALUES))
]
Recipients = str | list[str] | RecipientsSelector
ParameterValue = AnySelector | str | int | float | bool
MANAGED: Final = "Roboflow Managed API Key"
NO_RELAY = (
    "Failed to send e-mail via proxy: email_provider 'Roboflow Managed API Key' relays through "
    "the Roboflow platform, which a self-hosted visionflow server does not use; set "
    "email_provider to 'Custom SMTP' with smtp_server, sender_email and sender_email_password, "
    "or ask the operator to set VISIONFLOW_WORKFLOWS_EMAIL_RELAY"
)


def _no_empty_list(value: Any) -> Any:
    if isinstance(value, list) and not value:
        raise ValueError("E-mail notification must have at least one receiver defined.")
    return value


class EmailNotificationV1Manifest(StepManifest):
    subject: str
    sender_email: str | StringSelector
    receiver_email: Recipients
    message: str
    message_parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    message_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    cc_receiver_email: Recipients | None = None
    bcc_receiver_email: Recipients | None = None
    attachments: dict[
        str,
        Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.BYTES))],
    ] = Field(default_factory=dict)
    smtp_server: str | StringSelector
    sender_email_password: str | SecretSelector
    smtp_port: int = 465
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5

    _receivers = field_validator("receiver_email")(_no_empty_list)


class EmailNotificationV2Manifest(StepManifest):
    email_provider: Literal["Roboflow Managed API Key", "Custom SMTP"] = MANAGED
    subject: str
    receiver_email: Recipients
    message: str
    message_parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    message_parameters_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    sender_email: str | StringSelector | None = None
    smtp_server: str | StringSelector | None = None
    sender_email_password: str | SecretSelector | None = None
    cc_receiver_email: Recipients | None = None
    bcc_receiver_email: Recipients | None = None
    smtp_port: int = 465
    attachments: dict[
        str,
        Annotated[
            str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.STRING, k.BYTES, k.IMAGE))
        ],
    ] = Field(default_factory=dict)
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5

    _receivers = field_validator("receiver_email")(_no_empty_list)


def _addresses(inputs: StepInputs, field: str) -> list[str]:
    value = inputs.get(field)
    if value is None:
        return []
    found = [value] if isinstance(value, str) else value
    if not isinstance(found, list | tuple) or not all(isinstance(a, str) for a in found):
        raise inputs.fail(field, "expected an e-mail address or a list of them")
    if any("\r" in a or "\n" in a for a in found):
        raise inputs.fail(field, "an e-mail address may not contain line breaks")
    return list(found)


def _headers(inputs: StepInputs, sender: str) -> tuple[EmailMessage, tuple[str, ...]]:
    """The message with its headers, and the envelope's recipients."""
    to = _addresses(inputs, "receiver_email")
    if not to:
        raise inputs.fail("receiver_email", "at least one receiver is needed")
    cc = _addresses(inputs, "cc_receiver_email")
    bcc = _addresses(inputs, "bcc_receiver_email")
    mail = EmailMessage(policy=SMTP)
    try:
        mail["From"] = sender
        mail["To"] = ", ".join(to)
        if cc:
            mail["Cc"] = ", ".join(cc)
        mail["Subject"] = inputs.as_str("subject")
    except ValueError as exc:  # a header with a line break
        raise inputs.fail("subject", str(exc)) from None
    return mail, tuple(dict.fromkeys([*to, *cc, *bcc]))


def _smtp(inputs: StepInputs) -> EmailRelay:
    """The workflow's own SMTP server and account."""
    port = inputs.as_int("smtp_port", low=1, high=65535)
    sender = inputs.as_str("sender_email")
    if "\r" in sender or "\n" in sender:
        raise inputs.fail("sender_email", "an e-mail address may not contain line breaks")
    password = inputs.as_str("sender_email_password")
    return EmailRelay(inputs.as_str("smtp_server"), port, sender, password, sender)


def _sender(sinks: Outbound, delivery: MailDelivery) -> Send:
    def send() -> tuple[bool, str]:
        try:
            sinks.send_mail(delivery)
        except Exception as exc:  # any refusal or SMTP error is the step's outcome
            log.warning("could not send e-mail through %s: %s", delivery.host, exc)
            return True, f"Failed to send e-mail. Internal error details: {exc}"
        return False, "Notification sent successfully"

    return send


def _delivery(
    account: EmailRelay,
    mail: EmailMessage,
    recipients: tuple[str, ...],
    timeout_s: float,
    *,
    guarded: bool = True,
) -> MailDelivery:
    return MailDelivery(
        account.host,
        account.port,
        account.username,
        account.password,
        recipients,
        mail.as_bytes(),
        timeout_s,
        guarded,
    )


class _EmailBlock(NotificationBlock):
    def _held(self, inputs: StepInputs, local: Cooldown) -> bool:
        return local.throttles(inputs)


class EmailNotificationV1(_EmailBlock):
    """Plain-text ``message`` (placeholders filled with ``str`` of each parameter after its
    operations) with ``attachments`` as ``application/octet-stream`` files."""

    type = "roboflow_core/email_notification@v1"
    manifest = EmailNotificationV1Manifest

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        values = message_values(inputs, context, used_only=True)
        text = fill_message(inputs.as_str("message"), values, lambda _name, value: str(value))
        account = _smtp(inputs)
        mail, recipients = _headers(inputs, account.sender)
        mail.set_content(text)
        for name, value in inputs["attachments"].items():
            mail.add_attachment(
                as_bytes(value), maintype="application", subtype="octet-stream", filename=name
            )
        local.fired()
        return deliver(
            sinks,
            inputs,
            context,
            lambda timeout_s: _sender(sinks, _delivery(account, mail, recipients, timeout_s)),
        )


class EmailNotificationV2(_EmailBlock):
    """``email_provider`` "Custom SMTP": ``message`` as HTML (each parameter HTML-escaped, an
    image parameter shown inline from a ``cid:image_<name>`` JPEG part), ``attachments`` as
    files (an image as JPEG, ``.jpg`` added to its name when missing). "Roboflow Managed API
    Key" sends the same through the operator's VISIONFLOW_WORKFLOWS_EMAIL_RELAY, or without
    one says in ``message`` that it cannot be served here."""

    type = "roboflow_core/email_notification@v2"
    manifest = EmailNotificationV2Manifest

    def _notify(
        self, sinks: Outbound, inputs: StepInputs, context: RunContext, local: Cooldown
    ) -> StepResult:
        relay = sinks.email_relay if inputs["email_provider"] == MANAGED else None
        if inputs["email_provider"] == MANAGED and relay is None:
            return outcome(True, NO_RELAY)
        if relay is None and not all(
            inputs.get(f) for f in ("sender_email", "smtp_server", "sender_email_password")
        ):
            return outcome(
                True, "Custom SMTP requires sender_email, smtp_server, and sender_email_password"
            )
        account = relay or _smtp(inputs)
        values = message_values(inputs, context, used_only=True)
        inline: dict[str, bytes] = {}

        def render(name: str, value: Any) -> str:
            if isinstance(value, WorkflowImage):
                inline[f"image_{name}"] = encode_jpeg(value.pixels_bgr, 95)
                return (
                    f'<img src="cid:image_{name}" alt="{name}" '
                    'style="max-width: 600px; height: auto;">'
                )
            return html.escape(str(value))

        body = fill_message(inputs.as_str("message"), values, render).replace("\n", "<br>\n")
        mail, recipients = _headers(inputs, account.sender)
        mail.set_content(body, subtype="html")
        for cid, jpeg in inline.items():
            mail.add_related(
                jpeg, maintype="image", subtype="jpeg", cid=f"<{cid}>", disposition="inline"
            )
        for name, value in inputs["attachments"].items():
            if isinstance(value, WorkflowImage) and not name.lower().endswith((".jpg", ".jpeg")):
                name = f"{name}.jpg"
            mail.add_attachment(
                as_bytes(value), maintype="application", subtype="octet-stream", filename=name
            )
        local.fired()
        return deliver(
            sinks,
            inputs,
            context,
            lambda timeout_s: _sender(
                sinks,
                _delivery(account, mail, recipients, timeout_s, guarded=relay is None),
            ),
        )


EMAIL_BLOCKS: tuple[type[Block], ...] = (EmailNotificationV1, EmailNotificationV2)
