"""Outbound calls of the API-model blocks (hosted LLM/VLM providers, Google Vision, Stability).

Blocks never open sockets themselves: they build a ``ProviderRequest`` and hand it to the
``ProviderEnvironment`` the service injects as ``RunContext.providers``. The environment says
whether egress is allowed at all (``VISIONFLOW_WORKFLOWS_ALLOW_EGRESS``; off: no request is
sent, the step answers 403), where each provider lives (``VISIONFLOW_WORKFLOWS_PROVIDER_URLS``,
so a self-hosted OpenAI-compatible server can stand in for a hosted one), which keys the
operator configured for the reference's Roboflow-managed ``rf_key:...`` placeholders
(``VISIONFLOW_WORKFLOWS_PROVIDER_KEYS``), the per-request timeout and how often a transient
failure (transport error, timeout, HTTP 429 or 5xx) is retried.

URLs built from an operator-configured base URL are trusted; a URL a workflow supplies itself
(``openai_compatible``'s ``base_url``) is sent through the server's URL guard (public addresses
only unless the URL rules allow more) — ``guarded=True``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from visionflow.config import DEFAULT_PROVIDER_URLS
from visionflow.errors import ForbiddenError, InvalidInputError, VisionflowError
from visionflow.workflows.block import RunContext, StepInputs

__all__ = [
    "EgressDisabledError",
    "ProviderEnvironment",
    "ProviderError",
    "ProviderRejectedError",
    "ProviderRequest",
    "ProviderResponse",
    "ProviderTransport",
    "ProviderUnavailableError",
    "call_json",
    "call_provider",
    "provider_key",
    "providers_of",
]

MANAGED_KEY_PREFIXES = ("rf_key:account", "rf_key:user:")
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class EgressDisabledError(ForbiddenError):
    code = "egress_disabled"


class ProviderError(VisionflowError):
    """The provider answered, but not with a usable answer (502)."""

    status_code = 502
    code = "provider_error"


class ProviderRejectedError(InvalidInputError):
    """The provider refused the request (a 4xx other than 408/429: a bad key, model or
    parameter): the request's fault, answered 400."""

    code = "provider_rejected"


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached or kept failing after the retries (504)."""

    status_code = 504
    code = "provider_unavailable"


@dataclass(frozen=True)
class ProviderRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    # multipart form (Stability): plain fields and files
    data: Mapping[str, str] | None = None
    files: Mapping[str, bytes] | None = None
    timeout_s: float = 60.0
    # The URL came from the workflow, not from the operator's settings: send it through the
    # server's URL guard.
    guarded: bool = False


@dataclass(frozen=True)
class ProviderResponse:
    status_code: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class ProviderTransport(Protocol):
    def send(self, request: ProviderRequest) -> ProviderResponse:
        """Send ``request``; raise ``TimeoutError`` or ``ConnectionError`` (or a
        ``VisionflowError`` from the URL guard) when no answer comes."""
        ...


@dataclass(frozen=True)
class ProviderEnvironment:
    transport: ProviderTransport
    allow_egress: bool = True
    base_urls: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PROVIDER_URLS))
    keys: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def base_url(self, provider: str) -> str:
        url = self.base_urls.get(provider) or DEFAULT_PROVIDER_URLS[provider]
        return url.rstrip("/")

    def trusted(self, url: str) -> bool:
        """``url`` lies under a base URL the operator configured (or a default one)."""
        bases = [*self.base_urls.values(), *DEFAULT_PROVIDER_URLS.values()]
        return any(
            url.rstrip("/") == b.rstrip("/") or url.startswith(b.rstrip("/") + "/") for b in bases
        )


def providers_of(context: RunContext) -> ProviderEnvironment | None:
    found = getattr(context, "providers", None)
    return found if isinstance(found, ProviderEnvironment) else None


def _environment(inputs: StepInputs, context: RunContext) -> ProviderEnvironment:
    env = providers_of(context)
    if env is None:
        raise EgressDisabledError(
            f"step {inputs.step!r} ({inputs.block_type}) calls a hosted model, but this run has "
            "no provider environment (API-model blocks run only inside the server)"
        )
    return env


def provider_key(
    inputs: StepInputs, context: RunContext, provider: str, field_name: str = "api_key"
) -> str:
    """The key to send: the block's own, or for the reference's Roboflow-managed placeholder
    (``rf_key:account``) the key the operator configured for ``provider``."""
    raw = inputs.get(field_name)
    if raw is None or raw == "":
        raw = "rf_key:account"
    if not isinstance(raw, str):
        raise inputs.fail(field_name, f"expected a string key, got {type(raw).__name__}")
    if raw.startswith(MANAGED_KEY_PREFIXES):
        env = _environment(inputs, context)
        configured = env.keys.get(provider)
        if not configured:
            raise InvalidInputError(
                f"step {inputs.step!r}: field {field_name!r} asks for a Roboflow-managed key "
                f"({raw.split(':')[0]}:...), which a self-hosted server does not have; give the "
                f"{provider} API key itself (e.g. from a secret input) or set "
                f"VISIONFLOW_WORKFLOWS_PROVIDER_KEYS={provider}=<key>"
            )
        return configured
    return raw


def _retry_after_s(response: ProviderResponse, default: float) -> float:
    raw = {k.lower(): v for k, v in response.headers.items()}.get("retry-after")
    try:
        return min(float(raw), 5.0) if raw is not None else default
    except ValueError:
        return default


def _message(body: bytes) -> str:
    """The provider's error text, from its JSON body where there is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            # Stability: {"name": "bad_request", "errors": ["prompt: ..."]}; the list says why.
            if isinstance(error.get("errors"), list):
                return "; ".join(str(e) for e in error["errors"])[:300]
            for key in ("message", "name", "type"):
                if isinstance(error.get(key), str):
                    return str(error[key])
        if isinstance(error, str):
            return error
    return body[:300].decode("utf-8", "replace")


def call_provider(
    inputs: StepInputs,
    context: RunContext,
    provider: str,
    request: ProviderRequest,
) -> ProviderResponse:
    """Send ``request`` (retrying transient failures) and return a 2xx response."""
    env = _environment(inputs, context)
    host = urlsplit(request.url).netloc or request.url
    if not env.allow_egress:
        raise EgressDisabledError(
            f"step {inputs.step!r} ({inputs.block_type}) would call {provider} at {host}, but "
            "outbound calls from workflows are off on this server "
            "(VISIONFLOW_WORKFLOWS_ALLOW_EGRESS=false)"
        )
    remaining = context.budget.remaining_s()
    timeout = env.timeout_s if remaining is None else max(0.1, min(env.timeout_s, remaining))
    request = ProviderRequest(
        request.method,
        request.url,
        request.headers,
        request.json,
        request.data,
        request.files,
        timeout,
        request.guarded or not env.trusted(request.url),
    )
    failure = ""
    for attempt in range(env.retries + 1):
        if attempt:
            context.budget.check(f"retrying the {provider} call of step {inputs.step!r}")
        try:
            response = env.transport.send(request)
        except (TimeoutError, ConnectionError, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt < env.retries:
                env.sleep(env.backoff_s * 2**attempt)
            continue
        if 200 <= response.status_code < 300:
            return response
        detail = f"HTTP {response.status_code}: {_message(response.body)}"
        if response.status_code not in _TRANSIENT:
            error = ProviderRejectedError if response.status_code < 500 else ProviderError
            raise error(f"{provider} refused the request of step {inputs.step!r}: {detail}")
        failure = detail
        if attempt < env.retries:
            env.sleep(_retry_after_s(response, env.backoff_s * 2**attempt))
    raise ProviderUnavailableError(
        f"{provider} at {host} did not answer step {inputs.step!r} after "
        f"{env.retries + 1} attempts (timeout {timeout:g} s each; "
        f"VISIONFLOW_WORKFLOWS_PROVIDER_TIMEOUT_S, VISIONFLOW_WORKFLOWS_PROVIDER_RETRIES): "
        f"{failure}"
    )


def call_json(
    inputs: StepInputs,
    context: RunContext,
    provider: str,
    request: ProviderRequest,
) -> dict[str, Any]:
    response = call_provider(inputs, context, provider, request)
    try:
        data = json.loads(response.body)
    except ValueError:
        raise ProviderError(
            f"{provider} answered step {inputs.step!r} with a body that is not JSON: "
            f"{response.body[:120]!r}"
        ) from None
    if not isinstance(data, dict):
        raise ProviderError(f"{provider} answered step {inputs.step!r} with a non-object JSON")
    return data
