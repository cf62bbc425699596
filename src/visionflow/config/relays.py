"""The operator's relays for the notification sinks' platform-managed modes: an SMTPS server
(``VISIONFLOW_WORKFLOWS_EMAIL_RELAY``) and a Twilio account (``VISIONFLOW_WORKFLOWS_SMS_RELAY``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["EmailRelay", "SmsRelay", "parse_email_relay", "parse_sms_relay"]


@dataclass(frozen=True)
class EmailRelay:
    """An SMTPS server and the account that sends through it."""

    host: str
    port: int
    username: str
    password: str
    sender: str


def parse_email_relay(url: str) -> EmailRelay:
    """``smtps://user:password@host[:port][?from=address]`` (user and password URL-encoded)."""
    example = "smtps://alerts%40example.com:app-password@smtp.example.com:465"
    parts = urlsplit(url)
    try:
        port = parts.port or 465
    except ValueError:
        port = 0
    if parts.scheme != "smtps" or not parts.hostname or not parts.username or not port:
        raise ValueError(
            f"VISIONFLOW_WORKFLOWS_EMAIL_RELAY must look like {example!r} (implicit TLS, with a "
            "user and password)"
        )
    username = unquote(parts.username)
    sender = parse_qs(parts.query).get("from", [username])[0]
    return EmailRelay(parts.hostname, port, username, unquote(parts.password or ""), sender)


@dataclass(frozen=True)
class SmsRelay:
    """A Twilio account and the number it sends from."""

    account_sid: str
    auth_token: str
    sender: str


def parse_sms_relay(pairs: tuple[tuple[str, str], ...]) -> SmsRelay:
    found = dict(pairs)
    sid, token, sender = (found.get(k, "") for k in ("account_sid", "auth_token", "from"))
    if set(found) != {"account_sid", "auth_token", "from"} or not sid.isalnum():
        raise ValueError(
            "VISIONFLOW_WORKFLOWS_SMS_RELAY must give exactly account_sid (letters and digits), "
            "auth_token and from, as 'account_sid=AC...,auth_token=...,from=+15550001111'"
        )
    return SmsRelay(sid, token, sender)
