"""The SSRF guard of image URLs, with real HTTP servers on loopback addresses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import jpeg_bytes
from visionflow.config import Settings
from visionflow.errors import ImageFetchError, PayloadTooLargeError, UrlNotAllowedError
from visionflow.service.urls import UrlFetcher

IMAGE = jpeg_bytes(32, 32)


class _Handler(BaseHTTPRequestHandler):
    redirect_to: str = ""

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)  # type: ignore[attr-defined]
            self.end_headers()
        elif self.path.startswith("/missing"):
            self.send_response(404)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("X-Seen-Host", self.headers.get("Host", ""))
            self.end_headers()
            self.wfile.write(IMAGE)

    def log_message(self, *_args: object) -> None:
        pass


def _serve(address: str) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((address, 0), _Handler)
    server.redirect_to = ""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def target() -> Iterator[ThreadingHTTPServer]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def relay() -> Iterator[ThreadingHTTPServer]:
    yield from _serve("127.0.0.2")


def url_of(server: ThreadingHTTPServer, path: str = "/a.jpg") -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def test_loopback_is_refused_by_default(target: ThreadingHTTPServer) -> None:
    with pytest.raises(UrlNotAllowedError, match="non-public"):
        UrlFetcher(Settings()).fetch(url_of(target))


def test_loopback_is_fetched_when_explicitly_allowed(target: ThreadingHTTPServer) -> None:
    assert UrlFetcher(Settings(allow_private_urls=True)).fetch(url_of(target)) == IMAGE


def test_hostname_resolving_to_private_address_is_refused() -> None:
    def resolver(host: str, _port: int) -> list[str]:
        return {"public.example": ["93.184.215.14", "10.0.0.7"]}[host]

    with pytest.raises(UrlNotAllowedError, match=r"10\.0\.0\.7"):
        UrlFetcher(Settings(), resolver=resolver).fetch("http://public.example/a.jpg")


def test_connection_goes_to_the_checked_address_with_the_original_host(
    target: ThreadingHTTPServer,
) -> None:
    port = target.server_address[1]

    def resolver(host: str, _port: int) -> list[str]:
        assert host == "images.test"
        return ["127.0.0.1"]

    fetcher = UrlFetcher(Settings(url_allow_networks=("127.0.0.1/32",)), resolver=resolver)
    assert fetcher.fetch(f"http://images.test:{port}/a.jpg") == IMAGE


def test_redirect_to_a_refused_address_is_refused(
    relay: ThreadingHTTPServer, target: ThreadingHTTPServer
) -> None:
    relay.redirect_to = url_of(target)  # type: ignore[attr-defined]
    fetcher = UrlFetcher(Settings(url_allow_networks=("127.0.0.2/32",)))
    assert fetcher.fetch(url_of(relay, "/a.jpg")) == IMAGE  # the relay itself is allowed
    with pytest.raises(UrlNotAllowedError, match=r"127\.0\.0\.1"):
        fetcher.fetch(url_of(relay, "/redirect"))


def test_redirect_to_an_allowed_address_is_followed(
    relay: ThreadingHTTPServer, target: ThreadingHTTPServer
) -> None:
    relay.redirect_to = url_of(target)  # type: ignore[attr-defined]
    fetcher = UrlFetcher(Settings(url_allow_networks=("127.0.0.0/8",)))
    assert fetcher.fetch(url_of(relay, "/redirect")) == IMAGE


def test_redirect_loops_stop(relay: ThreadingHTTPServer) -> None:
    relay.redirect_to = url_of(relay, "/redirect")  # type: ignore[attr-defined]
    fetcher = UrlFetcher(Settings(url_allow_networks=("127.0.0.2/32",), url_max_redirects=2))
    with pytest.raises(ImageFetchError, match="redirected more than 2"):
        fetcher.fetch(url_of(relay, "/redirect"))


@pytest.mark.parametrize(
    ("settings", "path", "error"),
    [
        pytest.param(Settings(allow_private_urls=True), "/missing", ImageFetchError, id="http-404"),
        pytest.param(
            Settings(allow_private_urls=True, max_body_bytes=100),
            "/a.jpg",
            PayloadTooLargeError,
            id="too-big",
        ),
        pytest.param(
            Settings(allow_private_urls=True, allow_url_input=False),
            "/a.jpg",
            UrlNotAllowedError,
            id="urls-disabled",
        ),
    ],
)
def test_fetch_errors(
    target: ThreadingHTTPServer, settings: Settings, path: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        UrlFetcher(settings).fetch(url_of(target, path))


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://example.com/a.jpg", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("http:///nohost", id="no-host"),
        pytest.param("http://[::1]:9/a.jpg", id="ipv6-loopback"),
        pytest.param("http://[::ffff:127.0.0.1]:9/a.jpg", id="ipv4-mapped"),
        pytest.param("http://0.0.0.0:9/a.jpg", id="unspecified"),
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(UrlNotAllowedError):
        UrlFetcher(Settings()).fetch(url)


def test_unresolvable_host_is_a_fetch_error() -> None:
    def resolver(_host: str, _port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(ImageFetchError, match="resolve"):
        UrlFetcher(Settings(), resolver=resolver).fetch("http://nowhere.invalid/a.jpg")


@pytest.mark.parametrize(
    ("url", "wanted"),
    [
        pytest.param("file:///etc/passwd", "scheme 'file' is not allowed", id="scheme"),
        pytest.param("http:///nohost", "'http:///nohost' has no host", id="no-host"),
        pytest.param(
            "http://127.0.0.1:9/hook", "host '127.0.0.1' resolves to a non-public", id="loopback"
        ),
        pytest.param("http://nowhere.invalid/hook", "could not resolve the", id="unresolvable"),
    ],
)
def test_refusals_name_the_url_by_its_purpose(url: str, wanted: str) -> None:
    def resolver(host: str, _port: int) -> list[str]:
        if host == "nowhere.invalid":
            raise OSError("no such host")
        return [host]

    fetcher = UrlFetcher(Settings(), resolver=resolver)
    with pytest.raises((UrlNotAllowedError, ImageFetchError)) as webhook:
        fetcher.request("POST", url, json={}, purpose="webhook URL")
    assert "webhook URL" in webhook.value.message
    assert wanted in webhook.value.message
    assert "image" not in webhook.value.message
    with pytest.raises((UrlNotAllowedError, ImageFetchError)) as image:
        fetcher.fetch(url)
    assert "image URL" in image.value.message
    assert wanted in image.value.message


def test_a_webhook_failure_names_the_webhook_url(target: ThreadingHTTPServer) -> None:
    target.redirect_to = url_of(target, "/redirect")  # type: ignore[attr-defined]
    fetcher = UrlFetcher(Settings(allow_private_urls=True, url_max_redirects=1))
    with pytest.raises(ImageFetchError, match=r"^webhook URL .* redirected more than 1 times"):
        fetcher.request("GET", url_of(target, "/redirect"), purpose="webhook URL")
