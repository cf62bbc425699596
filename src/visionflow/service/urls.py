"""Fetching images from URLs without letting callers reach private networks (SSRF guard).

Every hop (the first request and each redirect) is resolved with DNS first; the request is then
sent to the checked IP address itself (with the original Host header and TLS server name), so a
second DNS answer cannot point the connection somewhere else.

Errors name the URL by what it is for (``purpose``: "image URL", "webhook URL", …), so a refused
webhook does not read as a refused image.

The I/O itself runs on one background event loop per process, not in the thread that asks: a
URL that trickles bytes costs a socket there, not a worker, and each fetch has a *total*
deadline (DNS, connect, redirects and the whole body together; ``url_fetch_timeout_s``) after
which it is cancelled and its connection closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from visionflow.config import Settings
from visionflow.errors import ImageFetchError, PayloadTooLargeError, UrlNotAllowedError

__all__ = ["UrlFetcher", "address_is_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
T = TypeVar("T")

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _io_loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop for outgoing HTTP (started on first use; a daemon
    thread, so it never holds the process open)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="visionflow-url-io", daemon=True).start()
            _loop = loop
        return _loop


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the I/O loop and wait for it in the calling thread."""
    return asyncio.run_coroutine_threadsafe(coroutine, _io_loop()).result()


def address_is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class UrlFetcher:
    """Downloads ``http(s)`` URLs with size, time, redirect and address limits from settings."""

    def __init__(self, settings: Settings, resolver: Resolver = _system_resolver) -> None:
        self._settings = settings
        self._resolver = resolver
        self._allowed_networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.url_allow_networks
        )

    def _address_allowed(self, address: IPAddress) -> bool:
        if self._settings.allow_private_urls:
            return True
        if any(address in network for network in self._allowed_networks):
            return True
        return address_is_public(address)

    async def _pin(self, url: str, purpose: str) -> tuple[str, str, str]:
        """Check ``url`` and return (url with the IP as host, Host header, TLS server name)."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise UrlNotAllowedError(
                f"{purpose} scheme {parts.scheme!r} is not allowed (http/https)"
            )
        host = parts.hostname
        if not host:
            raise UrlNotAllowedError(f"{purpose} {url!r} has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await self._allowed_address(host, port, purpose)
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        host_header = parts.netloc.rsplit("@", 1)[-1]
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        return pinned, host_header, host

    async def _allowed_address(self, host: str, port: int, purpose: str) -> IPAddress:
        """The first address ``host`` resolves to, when every one of them may be reached."""
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                None, self._resolver, host, port
            )
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        except (OSError, UnicodeError, ValueError):
            raise ImageFetchError(f"could not resolve the {purpose} host {host!r}") from None
        if not addresses:
            raise ImageFetchError(f"could not resolve the {purpose} host {host!r}")
        refused = [a for a in addresses if not self._address_allowed(a)]
        if refused:
            raise UrlNotAllowedError(
                f"{purpose} host {host!r} resolves to a non-public address ({refused[0]}); "
                "loopback, private and link-local targets are refused (set "
                "VISIONFLOW_ALLOW_PRIVATE_URLS=true or VISIONFLOW_URL_ALLOW_NETWORKS to allow)"
            )
        return addresses[0]

    def check_stream(self, url: str) -> str:
        """``url`` of a video stream (``rtsp``, ``rtsps``, ``http``, ``https``) once its host
        resolves to addresses callers may reach (the image URLs' rule), with the host replaced
        by the checked address for ``rtsp`` and ``http``, so the video decoder's own DNS lookup
        cannot be pointed elsewhere (``https`` keeps its name for the TLS certificate check)."""
        parts = urlsplit(url)
        schemes = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
        if parts.scheme not in schemes:
            raise UrlNotAllowedError(
                f"video stream URL scheme {parts.scheme!r} is not allowed "
                f"({', '.join(sorted(schemes))})"
            )
        host = parts.hostname
        if not host:
            raise UrlNotAllowedError(f"video stream URL {url!r} has no host")
        try:
            port = parts.port or schemes[parts.scheme]
        except ValueError:
            raise UrlNotAllowedError(f"video stream URL {url!r} has an invalid port") from None
        address = _run(self._allowed_address(host, port, "video stream URL"))
        if parts.scheme in {"https", "rtsps"}:
            return url
        literal = f"[{address}]" if address.version == 6 else str(address)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = (f"{credentials}@" if credentials else "") + literal
        netloc += "" if parts.port is None else f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def fetch(self, url: str) -> bytes:
        """GET an image URL (size-limited), refusing non-public targets on every hop."""
        if not self._settings.allow_url_input:
            raise UrlNotAllowedError(
                "image URLs are disabled on this server (VISIONFLOW_ALLOW_URL_INPUT)"
            )
        data, _status = self._send("GET", url, read_body=True, purpose="image URL")
        return data

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        files: dict[str, bytes] | None = None,
        timeout_s: float | None = None,
        purpose: str = "URL",
    ) -> int:
        """Send a request (e.g. a webhook) under the same address rules; returns the status.
        ``purpose`` names the URL in errors ("webhook URL host '127.0.0.1' resolves to …")."""
        _body, status = self._send(
            method,
            url,
            read_body=False,
            purpose=purpose,
            params=params,
            headers=headers,
            json=json,
            data=data,
            files=files,
            timeout_s=timeout_s,
        )
        return status

    def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        content: bytes | None = None,
        timeout_s: float | None = None,
        purpose: str = "URL",
    ) -> tuple[int, bytes]:
        """Send a request under the same address rules and return its status and body (of any
        status: an API's error answer is read, not raised; at most ``max_body_bytes``)."""
        body, status = self._send(
            method,
            url,
            read_body=True,
            purpose=purpose,
            headers=headers,
            json=json,
            data=data,
            content=content,
            timeout_s=timeout_s,
            any_status=True,
        )
        return status, body

    def allowed_address(self, host: str, port: int, purpose: str) -> str:
        """The address to connect to for ``host`` (a mail server's), once every address it
        resolves to may be reached under the URL rules; else ``UrlNotAllowedError``."""
        return str(_run(self._allowed_address(host, port, purpose)))

    def _send(
        self,
        method: str,
        url: str,
        *,
        read_body: bool,
        purpose: str,
        timeout_s: float | None = None,
        **send: Any,
    ) -> tuple[bytes, int]:
        """``_exchange`` on the I/O loop, cancelled at the deadline."""
        deadline = timeout_s if timeout_s is not None else self._settings.url_fetch_timeout_s

        async def bounded() -> tuple[bytes, int]:
            try:
                return await asyncio.wait_for(
                    self._exchange(method, url, read_body, purpose, deadline, **send), deadline
                )
            except TimeoutError:
                host = urlsplit(url).hostname or url
                setting = " (VISIONFLOW_URL_FETCH_TIMEOUT_S)" if timeout_s is None else ""
                raise ImageFetchError(
                    f"{purpose} host {host!r} did not deliver within the {deadline:g} s "
                    f"deadline{setting}"
                ) from None

        return _run(bounded())

    async def _exchange(
        self,
        method: str,
        url: str,
        read_body: bool,
        purpose: str,
        deadline: float,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
        content: bytes | None = None,
        any_status: bool = False,
    ) -> tuple[bytes, int]:
        limit = self._settings.max_body_bytes
        current = url
        async with httpx.AsyncClient(timeout=deadline, follow_redirects=False) as client:
            for _hop in range(self._settings.url_max_redirects + 1):
                pinned, host_header, server_name = await self._pin(current, purpose)
                request = client.build_request(
                    method,
                    pinned,
                    params=params,
                    headers={**(headers or {}), "Host": host_header, "User-Agent": "visionflow"},
                    json=json,
                    data=data,
                    files=files,
                    content=content,
                    extensions={"sni_hostname": server_name},
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise ImageFetchError(f"could not reach {purpose} {url!r}: {exc}") from None
                try:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise ImageFetchError(f"{purpose} {url!r} redirected without Location")
                        current = urljoin(current, location)
                        continue
                    if not read_body:
                        return b"", response.status_code
                    if response.status_code >= 400 and not any_status:
                        raise ImageFetchError(
                            f"{purpose} {url!r} answered HTTP {response.status_code}"
                        )
                    body = bytearray()
                    try:
                        async for chunk in response.aiter_bytes():
                            body.extend(chunk)
                            if len(body) > limit:
                                raise PayloadTooLargeError(
                                    f"image at {url!r} is larger than {limit} bytes"
                                )
                    except httpx.HTTPError as exc:
                        raise ImageFetchError(f"could not fetch {purpose} {url!r}: {exc}") from None
                    return bytes(body), response.status_code
                finally:
                    await response.aclose()
        raise ImageFetchError(
            f"{purpose} {url!r} redirected more than {self._settings.url_max_redirects} times"
        )
