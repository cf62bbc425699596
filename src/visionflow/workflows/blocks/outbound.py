"""What the notification and storage sinks (email, Slack, Twilio, S3) need from the layers above,
beside what ``blocks.sinks.Sinks`` gives the webhook: HTTP calls whose answer body is read (an
API's error answer included), SMTP sessions, S3 uploads, MQTT publishes and PostgreSQL
inserts.

The service's sink environment implements ``Outbound`` (``context.sinks``): HTTP calls, mail
servers and databases pass the server's URL rules (public addresses only unless configured; the
connection is pinned to the checked address), every call has the sink timeout, and the operator
may turn all outbound calls off (``VISIONFLOW_WORKFLOWS_ALLOW_EGRESS``). Blocks build the
request; the environment sends it and raises ``OutboundError`` (or the URL guard's error) when it
fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from visionflow.config import EmailRelay, SmsRelay
from visionflow.workflows.block import RunContext
from visionflow.workflows.blocks.sink_environment import Sinks, sinks_of

__all__ = [
    "ApiCall",
    "ApiReply",
    "MailDelivery",
    "MqttPublish",
    "ObjectUpload",
    "Outbound",
    "OutboundError",
    "RowsInsert",
    "outbound_of",
]


class OutboundError(Exception):
    """A call that failed; ``retryable``: a transport fault or throttling, worth another try."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class ApiCall:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    # form fields (a list value repeats the field, as Twilio's ``MediaUrl``)
    data: Mapping[str, Any] | None = None
    content: bytes | None = None
    timeout_s: float = 10.0
    # What the URL is, as refusals name it ("Slack API URL host '10.0.0.1' resolves to ...").
    purpose: str = "URL"


@dataclass(frozen=True)
class ApiReply:
    status_code: int
    body: bytes


@dataclass(frozen=True)
class MailDelivery:
    """One message for an SMTP server over implicit TLS (SMTPS), logged in as ``sender``."""

    host: str
    port: int
    sender: str
    password: str
    # The envelope's recipients (To, Cc and Bcc together).
    recipients: tuple[str, ...]
    message: bytes
    timeout_s: float = 10.0
    # The server is the operator's (VISIONFLOW_WORKFLOWS_EMAIL_RELAY), not the workflow's: it
    # is trusted, as configured base URLs are.
    guarded: bool = True


@dataclass(frozen=True)
class ObjectUpload:
    """One object for an S3 bucket, with the workflow's own credentials."""

    bucket: str
    key: str
    body: bytes
    content_type: str
    access_key_id: str
    secret_access_key: str
    region: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class MqttPublish:
    """One message for an MQTT broker (MQTT 3.1.1), over TLS when ``tls`` (the broker's
    certificate checked against the system's authorities, or ``ca_file``'s)."""

    host: str
    port: int
    topic: str
    payload: str
    qos: int = 0
    retain: bool = False
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    # The connection, the broker's CONNACK and the publish acknowledgement each wait this long.
    timeout_s: float = 0.5


@dataclass(frozen=True)
class RowsInsert:
    """Rows for one PostgreSQL table, inserted in one transaction. ``host`` is a TCP host name
    or address (the URL rules apply to what it resolves to)."""

    host: str
    port: int
    database: str
    username: str
    password: str | None
    schema_name: str
    table_name: str
    # Every row has the same columns, in the first row's order.
    rows: tuple[Mapping[str, Any], ...]
    sslmode: str = "require"
    connect_timeout_s: int = 10
    statement_timeout_ms: int = 10000


@runtime_checkable
class Outbound(Sinks, Protocol):
    @property
    def allow_egress(self) -> bool:
        """Outbound calls are allowed at all (``VISIONFLOW_WORKFLOWS_ALLOW_EGRESS``)."""
        ...

    @property
    def timeout_s(self) -> float:
        """The longest one call may take (``VISIONFLOW_WORKFLOWS_SINK_TIMEOUT_S``)."""
        ...

    def api_url(self, service: str) -> str:
        """The base URL of ``"slack"`` or ``"twilio"``, without a trailing slash."""
        ...

    @property
    def email_relay(self) -> EmailRelay | None:
        """The operator's SMTP server for Roboflow-relayed e-mail, if configured."""
        ...

    @property
    def sms_relay(self) -> SmsRelay | None:
        """The operator's Twilio account for Roboflow-relayed SMS, if configured."""
        ...

    def call(self, request: ApiCall) -> ApiReply:
        """Send ``request`` (URL rules on every hop); raise on a refusal or transport error."""
        ...

    def send_mail(self, delivery: MailDelivery) -> None:
        """Deliver through ``delivery.host`` (URL rules apply to its address); raise on failure."""
        ...

    def put_object(self, upload: ObjectUpload) -> None:
        """Store the object; raise ``OutboundError`` (with the S3 error code) on failure."""
        ...

    def publish_mqtt(self, message: MqttPublish) -> None:
        """Connect, publish and disconnect; raise ``OutboundError`` saying what failed (the
        reference's messages), or the URL guard's error."""
        ...

    def insert_rows(self, insert: RowsInsert) -> None:
        """Insert and commit; raise ``OutboundError`` saying which phase failed and how (never
        with row contents), or the URL guard's error."""
        ...


def outbound_of(context: RunContext) -> Outbound | None:
    found = sinks_of(context)
    return found if isinstance(found, Outbound) else None
