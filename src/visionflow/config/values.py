"""Reading one setting's text: booleans, numbers, ``key=value`` lists, loopback hosts; every
error names the variable."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host", "parse_bool", "parse_float", "parse_int", "parse_pairs"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def parse_int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def parse_float(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def parse_pairs(raw: str, name: str, example: str) -> tuple[tuple[str, str], ...]:
    """``"a=x,b=y"`` → ``(("a", "x"), ("b", "y"))``; ``example`` shows the form in errors."""
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        key, sep, value = item.partition("=")
        if not item:
            continue
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name} must look like {example!r}, got {raw!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def is_loopback_host(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
