"""A real visionflow server in a subprocess (``python -m visionflow serve``) on 127.0.0.1, for
tests where timing, threads or memory matter; with its log and its memory figures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["RunningProcess", "free_port", "memory_kb", "serve"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of ``pid``, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            found[name] = int(value.split()[0])
    return found


@dataclass(frozen=True)
class RunningProcess:
    url: str
    pid: int
    home: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def memory_kb(self) -> dict[str, int]:
        return memory_kb(self.pid)


@contextmanager
def serve(
    home: Path, env: Mapping[str, str] | None = None, *, start_timeout_s: float = 60.0
) -> Iterator[RunningProcess]:
    """Start a server on ``home`` (settings from ``env`` on top of this process's) and stop it
    afterwards; fails the test with the server's log if it does not become healthy."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = home / "server.log"
    settings = {"VISIONFLOW_HOME": str(home), "VISIONFLOW_REGISTER_DEMO_MODELS": "0", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "visionflow", "serve", "--port", str(port)],
            env={**os.environ, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"server exited early:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"server not healthy in {start_timeout_s:g} s:\n{log_path.read_text()}"
                    )
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield RunningProcess(url=url, pid=process.pid, home=home, log_path=log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
