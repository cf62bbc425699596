"""The outbound calls of the notification and storage sinks (``workflows.blocks.outbound``):
HTTP API calls, SMTP sessions and PostgreSQL connections under the server's URL rules, and S3
uploads.

A mail or database server is a host the workflow names, so it gets the image URLs' address
check: its name must resolve only to addresses callers may reach (public ones unless
``VISIONFLOW_ALLOW_PRIVATE_URLS`` / ``VISIONFLOW_URL_ALLOW_NETWORKS``), and the connection goes
to the checked address while TLS checks the certificate against the name (so a second DNS answer
cannot move it; PostgreSQL's ``hostaddr``). The S3 endpoint is AWS or the operator's
``VISIONFLOW_WORKFLOWS_S3_ENDPOINT_URL``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionflow.config import (
    EmailRelay,
    Settings,
    SmsRelay,
    parse_email_relay,
    parse_sms_relay,
)
from visionflow.service.urls import UrlFetcher
from visionflow.workflows.blocks.outbound import (
    ApiCall,
    ApiReply,
    MailDelivery,
    ObjectUpload,
    OutboundError,
    RowsInsert,
)

__all__ = ["OutboundSettings", "call_api", "insert_rows", "put_object", "send_mail"]

# S3 error codes no retry can mend (the reference's list).
_FINAL_S3_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "AccessDenied",
        "NoSuchBucket",
        "InvalidBucketName",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)


@dataclass(frozen=True)
class OutboundSettings:
    allow_egress: bool = True
    timeout_s: float = 10.0
    slack_api_url: str = "https://slack.com/api"
    twilio_api_url: str = "https://api.twilio.com"
    s3_endpoint_url: str | None = None
    smtp_ca_file: Path | None = None
    email_relay: EmailRelay | None = None
    sms_relay: SmsRelay | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundSettings:
        return cls(
            allow_egress=settings.workflows_allow_egress,
            timeout_s=settings.workflows_sink_timeout_s,
            slack_api_url=settings.workflows_slack_api_url,
            twilio_api_url=settings.workflows_twilio_api_url,
            s3_endpoint_url=settings.workflows_s3_endpoint_url,
            smtp_ca_file=settings.workflows_smtp_ca_file,
            email_relay=(
                parse_email_relay(settings.workflows_email_relay)
                if settings.workflows_email_relay
                else None
            ),
            sms_relay=(
                parse_sms_relay(settings.workflows_sms_relay)
                if settings.workflows_sms_relay
                else None
            ),
        )

    def api_url(self, service: str) -> str:
        urls = {"slack": self.slack_api_url, "twilio": self.twilio_api_url}
        return urls[service].rstrip("/")


def call_api(fetcher: UrlFetcher, request: ApiCall) -> ApiReply:
    status, body = fetcher.exchange(
        request.method,
        request.url,
        headers=dict(request.headers) or None,
        json=request.json,
        data=dict(request.data) if request.data is not None else None,
        content=request.content,
        timeout_s=request.timeout_s,
        purpose=request.purpose,
    )
    return ApiReply(status, body)


class _PinnedSMTPS(smtplib.SMTP_SSL):
    """SMTPS to an already checked ``address`` (``None``: the name's, for the operator's own
    relay), the certificate checked against the name."""

    def __init__(self, address: str | None, context: ssl.SSLContext, timeout_s: float) -> None:
        self._address = address
        super().__init__(context=context, timeout=timeout_s)

    def _get_socket(self, host: str, port: int, timeout: float) -> ssl.SSLSocket:
        raw = socket.create_connection((self._address or host, port), timeout)
        return self.context.wrap_socket(raw, server_hostname=host)


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def send_mail(fetcher: UrlFetcher, delivery: MailDelivery, ca_file: Path | None = None) -> None:
    """Deliver ``delivery`` over SMTPS (login as the sender); raise on any failure."""
    address = (
        fetcher.allowed_address(delivery.host, delivery.port, "SMTP server")
        if delivery.guarded
        else None
    )
    with _PinnedSMTPS(address, _tls_context(ca_file), delivery.timeout_s) as server:
        server.connect(delivery.host, delivery.port)
        server.login(delivery.sender, delivery.password)
        refused = server.sendmail(delivery.sender, list(delivery.recipients), delivery.message)
    if refused:
        raise OutboundError(f"the SMTP server refused {', '.join(sorted(refused))}")


def put_object(upload: ObjectUpload, endpoint_url: str | None) -> None:
    """One ``PutObject`` with the upload's own credentials (never the server's); raise
    ``OutboundError`` with the S3 error code (``retryable`` for transport faults, throttling
    and server errors)."""
    from visionflow.store.bucket import s3_client

    client: Any = s3_client(
        endpoint_url=endpoint_url,
        region=upload.region,
        timeout_s=upload.timeout_s,
        access_key_id=upload.access_key_id,
        secret_access_key=upload.secret_access_key,
        retries=0,  # the block retries, as the reference
    )
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.put_object(
            Bucket=upload.bucket, Key=upload.key, Body=upload.body, ContentType=upload.content_type
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        raise OutboundError(str(exc), code=code, retryable=code not in _FINAL_S3_CODES) from None
    except BotoCoreError as exc:
        raise OutboundError(str(exc), code=type(exc).__name__, retryable=True) from None


_PSYCOPG_CATEGORIES = (
    "IntegrityError",
    "DataError",
    "ProgrammingError",
    "OperationalError",
    "InterfaceError",
    "NotSupportedError",
    "InternalError",
)


def insert_rows(fetcher: UrlFetcher, insert: RowsInsert) -> None:
    """Insert ``insert.rows`` in one transaction, the connection pinned to the checked address
    (``hostaddr``; ``host`` stays the TLS name). A failure says its phase (connection, insert,
    commit), the driver's error class and SQLSTATE, never the server's text, which may quote
    row contents (the reference's rule)."""
    import psycopg
    from psycopg import sql

    address = fetcher.allowed_address(insert.host, insert.port, "PostgreSQL server")
    columns = list(insert.rows[0])
    phase = "connection"
    try:
        with psycopg.connect(
            host=insert.host,
            hostaddr=address,
            port=insert.port,
            dbname=insert.database,
            user=insert.username,
            password=insert.password,
            sslmode=insert.sslmode,
            connect_timeout=insert.connect_timeout_s,
            # a peer that stops answering fails the call instead of holding a worker
            tcp_user_timeout=insert.connect_timeout_s * 1000 + insert.statement_timeout_ms,
            autocommit=False,
        ) as connection:
            phase = "insert"
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)",
                    (str(insert.statement_timeout_ms),),
                )
                query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(insert.schema_name, insert.table_name),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() for _ in columns),
                )
                cursor.executemany(query, [tuple(row[c] for c in columns) for row in insert.rows])
            phase = "commit"
    except psycopg.Error as exc:
        code = exc.sqlstate or ""
        suffix = (
            f" (SQLSTATE {code})" if len(code) == 5 and code.isascii() and code.isalnum() else ""
        )
        category = next(
            (name for name in _PSYCOPG_CATEGORIES if isinstance(exc, getattr(psycopg, name))),
            "DatabaseError",
        )
        unknown = (
            " Commit outcome may be unknown; verify before retrying."
            if phase == "commit"
            and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
            and (not code or code.startswith("08"))
            else ""
        )
        raise OutboundError(
            f"PostgreSQL {phase} failed: {category}{suffix}.{unknown}", code=code
        ) from None
