"""A real server in a subprocess, and the official SDK's interpreter."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from visionflow.config import Settings
from visionflow.service.demo import ensure_demo
from visionflow.service.services import Services

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningServer:
    url: str
    home: Path
    key: str
    model_id: str
    demo_key: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    path = Path(os.environ.get("VISIONFLOW_SDK_PYTHON", ROOT / ".venv-sdk" / "bin" / "python"))
    if not path.exists():
        pytest.fail(f"the official inference-sdk virtualenv is missing ({path}); run `make test`")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, fixture_onnx: Path) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("server-home")
    settings = Settings(home=home)
    services = Services.build(settings)
    services.registry.create_workspace("acme")
    services.models.add_from_path("acme", "known/1", fixture_onnx)
    # The shipped demo models, plus the known-output model in the public demo workspace too.
    demo = ensure_demo(
        settings.with_overrides(register_demo_models=True), services.registry, services.models
    )
    services.models.add_from_path("demo", "known/1", fixture_onnx)
    _record, key = services.registry.create_api_key("acme")
    services.close()
    port = free_port()
    env = {**os.environ, "VISIONFLOW_HOME": str(home), "VISIONFLOW_REGISTER_DEMO_MODELS": "0"}
    log_path = home / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "visionflow",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            pytest.fail(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        process.wait()
        log.close()
        pytest.fail(f"server did not become healthy in 60 s:\n{log_path.read_text()}")
    try:
        yield RunningServer(url=url, home=home, key=key, model_id="known/1", demo_key=demo.api_key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
