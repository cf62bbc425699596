"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 speaking implicit TLS (SMTPS) with a
self-signed certificate for ``127.0.0.1`` (its PEM is the CA file a client trusts), requiring
AUTH LOGIN/PLAIN with one user and password; every message it accepts is kept, parsed."""

from __future__ import annotations

import gc
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.server import free_port
from tests.support.tls import self_signed_certificate

__all__ = ["Received", "SmtpServer", "smtp_server"]

USER = "alerts@example.com"
PASSWORD = "app-password"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    received: list[Received] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content, policy=default)
        assert isinstance(message, EmailMessage)
        self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _authenticator(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == USER
        and data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    def factory(self) -> Any:
        # Implicit TLS is TLS, but aiosmtpd only counts STARTTLS: AUTH is offered with
        # auth_require_tls=False, and the warning it gives about that does not apply here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return super().factory()  # type: ignore[no-untyped-call]


@contextmanager
def smtp_server(folder: Path) -> Iterator[SmtpServer]:
    cert_path, key_path = self_signed_certificate(folder, "smtp")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    server = SmtpServer("127.0.0.1", free_port(), cert_path)
    controller = _Controller(
        _Handler(server),
        hostname=server.host,
        port=server.port,
        ssl_context=context,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
        # aiosmtpd leaves the transport of a connection whose TLS handshake a client abandoned
        # (e.g. a certificate it refused) unclosed; collect it here, where it is known, instead
        # of letting its ResourceWarning surface in whichever later test the collector runs.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
