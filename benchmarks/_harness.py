"""The benchmark harness: what ``run.py`` and the per-family scripts share.

Timing (the median of N calls after a warm-up), a visionflow server in a subprocess on a fresh
home, registering models in that home, and the results table. Every script's rows have one
shape, :data:`Row`: ``(model, route, baseline ms, end-to-end ms, ratio)``.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from visionflow.config import Settings
from visionflow.service.services import Services

__all__ = [
    "Row",
    "base64_image",
    "median_ms",
    "post_call",
    "print_table",
    "register_models",
    "row",
    "run_alone",
    "running_server",
]

Row = tuple[str, str, float, float, float]

# Seconds a fresh server gets to answer /healthz.
_STARTUP_S = 120.0


def median_ms(call: Callable[[], object], runs: int, warmup: int = 3) -> float:
    """The median wall time of ``runs`` calls, in ms, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def post_call(client: httpx.Client, path: str, body: Mapping[str, Any]) -> Callable[[], object]:
    """A call that POSTs ``body`` to ``path`` and fails unless the answer is 2xx."""

    def call() -> object:
        return client.post(path, json=body).raise_for_status()

    return call


def base64_image(encoded: bytes) -> dict[str, str]:
    """The wire's image object for already-encoded image bytes (JPEG, PNG...)."""
    return {"type": "base64", "value": base64.b64encode(encoded).decode()}


def row(model: str, route: str, baseline_ms: float, e2e_ms: float) -> Row:
    return (model, route, baseline_ms, e2e_ms, e2e_ms / baseline_ms)


def register_models(home: Path, models: Mapping[str, Path], workspace: str = "demo") -> None:
    """Create ``workspace`` in the server home ``home`` and register ``models`` (model id → file
    or package folder) in it; a running server sees them on its next request."""
    services = Services.build(Settings(home=home, register_demo_models=False))
    try:
        services.registry.ensure_workspace(workspace)
        for model_id, path in models.items():
            services.models.add_from_path(workspace, model_id, path)
    finally:
        services.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(home: Path, settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """``visionflow serve`` on ``home`` in a subprocess (demo models off; ``settings``: more
    ``VISIONFLOW_*`` variables); yields its base URL once ``/healthz`` answers, and stops it on
    exit."""
    port = _free_port()
    env = {
        **os.environ,
        "VISIONFLOW_HOME": str(home),
        "VISIONFLOW_REGISTER_DEMO_MODELS": "0",
        **(settings or {}),
    }
    command = [sys.executable, "-m", "visionflow", "serve", "--port", str(port)]
    log_path = home / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _STARTUP_S
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the benchmark server on {url} did not start:\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def print_table(rows: Iterable[Row]) -> None:
    header = f"{'model':<16} {'route':<24} {'baseline ms':>11} {'end-to-end ms':>14} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for model, route, baseline, e2e, ratio in rows:
        print(f"{model:<16} {route:<24} {baseline:>11.2f} {e2e:>14.2f} {ratio:>6.2f}")


def run_alone(
    description: str | None,
    rows_of: Callable[[str, Path, int], list[Row]],
    caption: str,
    default_runs: int = 30,
) -> int:
    """The ``__main__`` of a per-family script: ``rows_of(url, home, runs)`` against a server of
    its own on a temporary home, then the table under ``caption``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=default_runs)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        register_models(home, {})
        with running_server(home) as url:
            rows = rows_of(url, home, args.runs)
    print(f"\nmedian of {args.runs} runs; {caption}\n")
    print_table(rows)
    return 0
