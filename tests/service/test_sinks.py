"""Workflow sinks through the service: the webhook obeys the URL guard and ``disable_sinks``;
the file sink writes only inside the configured folder."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.http.test_workflow_blocks import DETECTOR, IMAGE, step
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services
from visionflow.service.sinks import SinkEnvironment, SinkPool
from visionflow.workflows.blocks.sink_environment import HttpRequest


class _Recorder(BaseHTTPRequestHandler):
    received: list[Any]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _workflow(url: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            DETECTOR,
            step(
                "webhook_sink@v1",
                "hook",
                url=url,
                method="POST",
                json_payload={"count": "$steps.det.predictions"},
                json_payload_operations={"count": [{"type": "SequenceLength"}]},
                fire_and_forget=False,
            ),
            step(
                "local_file_sink@v1",
                "file",
                content="$steps.hook.message",
                output_mode="separate_files",
                target_directory="reports",
                file_name_prefix="hook",
            ),
        ],
        "outputs": [
            {"type": "JsonField", "name": "hook", "selector": "$steps.hook.message"},
            {"type": "JsonField", "name": "hook_error", "selector": "$steps.hook.error_status"},
            {"type": "JsonField", "name": "file", "selector": "$steps.file.message"},
        ],
    }


@pytest.mark.parametrize(
    "disable_sinks", [pytest.param(False, id="on"), pytest.param(True, id="off")]
)
def test_webhook_and_file_sink(
    services: Services,
    tenant: Tenant,
    hook_server: ThreadingHTTPServer,
    tmp_path: Path,
    disable_sinks: bool,
) -> None:
    folder = tmp_path / "sinks"
    settings = services.settings.with_overrides(
        url_allow_networks=("127.0.0.1/32",), workflows_sink_folder=folder
    )
    allowed = Services.build(settings)
    url = f"http://127.0.0.1:{hook_server.server_address[1]}/hook"
    try:
        with TestClient(create_app(allowed)) as client:
            response = client.post(
                "/workflows/run",
                json={
                    "api_key": tenant.key,
                    "inputs": {"image": IMAGE},
                    "specification": _workflow(url),
                    "disable_sinks": disable_sinks,
                },
            )
    finally:
        allowed.close()
    assert response.status_code == 200, response.text
    [result] = response.json()["outputs"]
    written = list(folder.rglob("*")) if folder.exists() else []
    if disable_sinks:
        assert hook_server.received == []  # type: ignore[attr-defined]
        assert not [p for p in written if p.is_file()]
        return
    assert result["hook_error"] is False, result
    assert hook_server.received == [{"count": 1}]  # type: ignore[attr-defined]
    files = [p for p in written if p.is_file()]
    assert len(files) == 1
    assert files[0].resolve().is_relative_to(folder.resolve())


def test_webhook_to_loopback_is_refused_by_default(
    client: TestClient, tenant: Tenant, hook_server: ThreadingHTTPServer
) -> None:
    url = f"http://127.0.0.1:{hook_server.server_address[1]}/hook"
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": IMAGE}, "specification": _workflow(url)},
    )
    [result] = response.json()["outputs"]
    assert result["hook_error"] is True
    assert "webhook URL host '127.0.0.1' resolves to a non-public address" in result["hook"]
    assert "image" not in result["hook"]
    assert hook_server.received == []  # type: ignore[attr-defined]


class _RecordingFetcher:
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def request(self, method: str, url: str, **options: Any) -> int:
        self.timeouts.append(options["timeout_s"])
        return 204


@pytest.mark.parametrize(
    ("asked_s", "sent_s"),
    [
        pytest.param(2.0, 2.0, id="within"),
        pytest.param(30.0, 30.0, id="at-the-limit"),
        pytest.param(3600.0, 30.0, id="past-the-limit"),
    ],
)
def test_the_sink_environment_caps_request_timeouts(asked_s: float, sent_s: float) -> None:
    """Whatever a block asks (the webhook block itself refuses more), no sink request may hold
    a thread longer than the limit."""
    fetcher = _RecordingFetcher()
    environment = SinkEnvironment(
        fetcher,  # type: ignore[arg-type]
        SinkPool(workers=1),
        disabled=False,
        file_root=None,
        max_timeout_s=30.0,
    )
    response = environment.send(HttpRequest("POST", "https://hooks.example.com", timeout_s=asked_s))
    assert response.status_code == 204
    assert fetcher.timeouts == [sent_s]


def test_the_service_caps_sinks_at_the_setting(settings: Settings) -> None:
    built = Services.build(dataclasses.replace(settings, workflows_webhook_max_timeout_s=7.0))
    try:
        assert built.workflows.limits.webhook_max_timeout_s == 7.0
        environment = built.workflows._sinks(disabled=False)
        assert environment is not None
        assert environment.max_timeout_s == 7.0
    finally:
        built.close()
