"""The outbound-call environment of the API-model workflow blocks (``RunContext.providers``):
one pooled ``httpx.Client`` per server, the egress switch, base URLs, operator keys, timeout and
retries from the settings.

URLs under an operator-configured base URL go straight out. Any other URL (a workflow's own
``openai_compatible`` ``base_url``) must resolve only to addresses the URL rules allow (public
ones unless VISIONFLOW_ALLOW_PRIVATE_URLS or VISIONFLOW_URL_ALLOW_NETWORKS say more), and
redirects are never followed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

import httpx

from visionflow.config import Settings
from visionflow.errors import UrlNotAllowedError
from visionflow.service.urls import address_is_public
from visionflow.workflows.blocks.llm_egress import (
    ProviderEnvironment,
    ProviderRequest,
    ProviderResponse,
)

__all__ = ["HttpProviderTransport", "provider_environment"]


class HttpProviderTransport:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.url_allow_networks
        )
        # Made at the first call: its TLS set-up (~65 ms) is off the server's start.
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _pooled(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    follow_redirects=False, headers={"User-Agent": "visionflow"}
                )
            return self._client

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UrlNotAllowedError(f"provider URL {url!r} is not an http(s) URL")
        if self._settings.allow_private_urls:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError:
            raise ConnectionError(f"could not resolve {parts.hostname!r}") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not (address_is_public(address) or any(address in n for n in self._networks)):
                raise UrlNotAllowedError(
                    f"provider URL host {parts.hostname!r} resolves to a non-public address "
                    f"({address}); set VISIONFLOW_WORKFLOWS_PROVIDER_URLS to trust it, or "
                    "VISIONFLOW_ALLOW_PRIVATE_URLS / VISIONFLOW_URL_ALLOW_NETWORKS"
                )

    def send(self, request: ProviderRequest) -> ProviderResponse:
        if request.guarded:
            self._check(request.url)
        try:
            response = self._pooled().request(
                request.method,
                request.url,
                headers=dict(request.headers),
                json=request.json,
                data=dict(request.data) if request.data is not None else None,
                files=dict(request.files) if request.files is not None else None,
                timeout=request.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer within {request.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise ConnectionError(str(exc) or type(exc).__name__) from exc
        return ProviderResponse(response.status_code, response.content, dict(response.headers))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def provider_environment(
    settings: Settings, transport: HttpProviderTransport | None = None
) -> ProviderEnvironment:
    return ProviderEnvironment(
        transport=transport or HttpProviderTransport(settings),
        allow_egress=settings.workflows_allow_egress,
        base_urls=dict(settings.workflows_provider_urls),
        keys=dict(settings.workflows_provider_keys),
        timeout_s=settings.workflows_provider_timeout_s,
        retries=settings.workflows_provider_retries,
    )
