"""A scripted HTTP provider on 127.0.0.1 for the API-model block tests: it answers ``replies``
in turn (``(status, content_type, body_bytes)``) and records every request: path (with query),
headers, raw body, the JSON body when there is one, and a ``multipart/form-data`` body split
into its parts (``form``: name -> (filename, content type, bytes))."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, tuple[str | None, str, bytes]] = field(default_factory=dict)


def _form(content_type: str, body: bytes) -> dict[str, tuple[str | None, str, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts[str(name)] = (part.get_filename(), part.get_content_type(), payload or b"")
    return parts


class ProviderServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: list[tuple[int, str, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                content_type = self.headers.get("Content-Type", "")
                recorded = Recorded(self.path, dict(self.headers), body)
                if content_type.startswith("application/json"):
                    recorded.json = json.loads(body)
                elif content_type.startswith("multipart/form-data"):
                    recorded.form = _form(content_type, body)
                server.requests.append(recorded)
                status, reply_type, reply = (
                    server.replies.pop(0) if server.replies else (500, "application/json", b"{}")
                )
                self.send_response(status)
                self.send_header("Content-Type", reply_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def reply_json(self, data: Any, status: int = 200) -> None:
        self.replies.append((status, "application/json", json.dumps(data).encode()))


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    server = ProviderServer()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
