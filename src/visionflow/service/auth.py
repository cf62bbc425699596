"""API keys → principals: a key resolves to its workspace and role; the demo workspace is public.

The authorizer also throttles: failed authentications per client address (on by default), and
request rates per key and per client address (off by default); see ``Settings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from visionflow.config import Settings
from visionflow.errors import (
    ApiKeyRequiredError,
    ForbiddenError,
    InvalidApiKeyError,
    RateLimitedError,
)
from visionflow.service.throttle import RateLimiter
from visionflow.store import Registry

__all__ = ["ADMIN", "INFER", "Authorizer", "Principal", "normalize_api_key"]

ADMIN = "admin"
INFER = "infer"
# What clients send when they have no key: the official SDK sends ``api_key: null`` in bodies
# and literally ``?api_key=None`` in query strings.
_NO_KEY = {"", "none", "null", "undefined"}
_ALL_CHANNELS = (
    "the api_key query parameter, the api_key body field, or an 'Authorization: Bearer <key>' "
    "header"
)


def normalize_api_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    return None if key.lower() in _NO_KEY else key


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's workspace (``None`` when anonymous), the workspaces it sees
    (searched in order when a model id is resolved) and its role. Anonymous callers exist only
    where keys are not required (a loopback server's owner) and have every right."""

    workspace: str | None
    visible_workspaces: tuple[str, ...]
    role: str = ADMIN


class Authorizer:
    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._settings = settings

        def limiter(limit: int, window_s: float) -> RateLimiter | None:
            return RateLimiter(limit, window_s, clock=clock) if limit > 0 else None

        self._failures = limiter(settings.auth_failure_limit, settings.auth_failure_window_s)
        self._per_key = limiter(settings.rate_limit_per_key, settings.rate_limit_window_s)
        self._per_address = limiter(settings.rate_limit_per_address, settings.rate_limit_window_s)

    @property
    def keys_required(self) -> bool:
        return self._settings.api_key_required

    def authorize(
        self,
        api_key: str | None,
        *,
        need: str = INFER,
        client: str | None = None,
        channels: str = _ALL_CHANNELS,
    ) -> Principal:
        """The caller's principal, if it may do what needs role ``need``.

        ``client`` is the caller's address (for throttling); ``channels`` says where this route
        reads a key from, for the message when none was given.
        """
        settings = self._settings
        if client is not None:
            self._throttle_address(client)
        key = normalize_api_key(api_key)
        demo = settings.demo_workspace
        if key is None:
            if settings.api_key_required:
                raise ApiKeyRequiredError(f"An API key is required: pass it as {channels}.")
            return Principal(workspace=None, visible_workspaces=(demo,))
        record = self._registry.find_key(key)
        if record is None or not record.active or record.expired():
            if self._failures is not None and client is not None:
                self._failures.hit(client)
            if record is not None and record.active:
                raise InvalidApiKeyError(
                    f"The API key #{record.id} expired at {record.expires_at:%Y-%m-%d %H:%M} UTC. "
                    f"Create a new one with 'visionflow keys create {record.workspace}'."
                )
            raise InvalidApiKeyError(
                "The API key is not valid (unknown or revoked). Create one with "
                "'visionflow keys create <workspace>'."
            )
        if self._per_key is not None:
            wait = self._per_key.acquire(key)
            if wait is not None:
                raise RateLimitedError(
                    f"Too many requests with this API key: at most {settings.rate_limit_per_key} "
                    f"per {settings.rate_limit_window_s:g} s (VISIONFLOW_RATE_LIMIT_PER_KEY, "
                    "VISIONFLOW_RATE_LIMIT_WINDOW_S).",
                    details={"limit": "rate_limit_per_key"},
                    retry_after_s=wait,
                )
        if need == ADMIN and record.role != ADMIN:
            raise ForbiddenError(
                f"This operation needs an admin key; key #{record.id} of workspace "
                f"{record.workspace!r} has the role {record.role!r}. Create one with "
                f"'visionflow keys create {record.workspace} --role admin'.",
                details={"required_role": ADMIN, "key_role": record.role},
            )
        workspace = record.workspace
        visible = (workspace,) if workspace == demo else (workspace, demo)
        return Principal(workspace=workspace, visible_workspaces=visible, role=record.role)

    def _throttle_address(self, client: str) -> None:
        settings = self._settings
        if self._failures is not None:
            wait = self._failures.retry_after(client)
            if wait is not None:
                raise RateLimitedError(
                    "Too many failed authentications from this address: at most "
                    f"{settings.auth_failure_limit} per {settings.auth_failure_window_s:g} s "
                    "(VISIONFLOW_AUTH_FAILURE_LIMIT, VISIONFLOW_AUTH_FAILURE_WINDOW_S).",
                    details={"limit": "auth_failure_limit"},
                    retry_after_s=wait,
                )
        if self._per_address is not None:
            wait = self._per_address.acquire(client)
            if wait is not None:
                raise RateLimitedError(
                    "Too many requests from this address: at most "
                    f"{settings.rate_limit_per_address} per {settings.rate_limit_window_s:g} s "
                    "(VISIONFLOW_RATE_LIMIT_PER_ADDRESS, VISIONFLOW_RATE_LIMIT_WINDOW_S).",
                    details={"limit": "rate_limit_per_address"},
                    retry_after_s=wait,
                )
