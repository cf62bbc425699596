"""A ``visionflow serve-ray`` cluster for the Ray tests: a fresh PostgreSQL database, the CLI
beside it, a clean stop checked at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql

from tests.store.conftest import POSTGRES_ADMIN_URL, _admin_connection
from tests.support.server import free_port

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Cluster:
    url: str
    home: Path
    env: dict[str, str]
    log_path: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "visionflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database's URL; dropped after."""
    name = f"visionflow_ray_{uuid.uuid4().hex}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with _admin_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def running_cluster(home: Path, postgres_url: str, **settings: str) -> Iterator[Cluster]:
    """``visionflow serve-ray`` with ``settings`` (``VISIONFLOW_*`` names; ``""`` unsets one)
    over the defaults: two ingress and two model replicas on two CPUs."""
    port = free_port()
    env = {
        **os.environ,
        "VISIONFLOW_HOME": str(home),
        "VISIONFLOW_DATABASE_URL": postgres_url,
        "VISIONFLOW_PORT": str(port),
        "VISIONFLOW_RAY_REPLICAS": "2",
        "VISIONFLOW_RAY_INGRESS_REPLICAS": "2",
        "VISIONFLOW_RAY_NUM_CPUS": "2",
        "VISIONFLOW_RAY_MAX_MODELS_PER_REPLICA": "2",
        "VISIONFLOW_ONNX_THREADS": "1",
        "VISIONFLOW_REGISTER_DEMO_MODELS": "0",
    }
    for name, value in settings.items():
        if value == "":
            env.pop(name, None)
        else:
            env[name] = value
    log_path = home / "serve-ray.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "visionflow", "serve-ray"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"serving on" not in log_path.read_bytes():
            if process.poll() is not None:
                pytest.fail(f"serve-ray exited early:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"serve-ray not up in {START_TIMEOUT_S:g} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield Cluster(url, home, env, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
    # A clean stop: Serve and the cluster shut down on SIGTERM, exit status 0.
    assert code == 0, log_path.read_text()[-4000:]
