"""`make bench-ray`: the Ray hop measured against `visionflow serve` on the same machine.

For `serve` (one process) and `serve-ray` with 1 and with 2 model replicas, on a fresh home and
a fresh PostgreSQL database each: single-client latency (p50/p99 of ``--requests`` sequential
``/infer/object_detection`` calls on one 320x320 JPEG), throughput with ``--clients`` threads
for ``--duration`` seconds, and model loads (cold starts reported by ``X-Model-Cold-Start``)
under a mixed load alternating two models. On a two-core machine more replicas add no compute:
the numbers say what the hop costs and that affinity bounds loads, not how it scales.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import cv2
import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _image() -> str:
    sample = next(iter(shapes.generate(seed=11, count=1, size_wh=(320, 320))))
    ok, jpeg = cv2.imencode(".jpg", sample.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return base64.b64encode(jpeg.tobytes()).decode()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(
    mode: str, replicas: int, home: Path, database: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "VISIONFLOW_HOME": str(home),
        "VISIONFLOW_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        "VISIONFLOW_PORT": str(port),
        "VISIONFLOW_RAY_REPLICAS": str(replicas),
        "VISIONFLOW_ONNX_THREADS": "1",
    }
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "visionflow", mode],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{mode} did not start:\n{(home / 'server.log').read_text()[-3000:]}")
        try:
            info = httpx.get(f"{url}/info", timeout=2).json()
            healthy = info.get("deployment", {}).get("healthy_replicas", 0)
            if mode == "serve" or healthy >= replicas:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)


ROUTES = {"shapes/1": "object_detection", "shapes-seg/1": "instance_segmentation"}


def _infer(client: httpx.Client, url: str, key: str, model_id: str, image: str) -> httpx.Response:
    body = {"model_id": model_id, "api_key": key, "image": {"type": "base64", "value": image}}
    answer = client.post(f"{url}/infer/{ROUTES[model_id]}", json=body, timeout=60)
    answer.raise_for_status()
    return answer


def _measure(url: str, key: str, args: argparse.Namespace) -> dict[str, float]:
    image = _image()
    with httpx.Client() as client:
        _infer(client, url, key, "shapes/1", image)  # warm-up load
        latencies = []
        for _ in range(args.requests):
            started = time.perf_counter()
            _infer(client, url, key, "shapes/1", image)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    done = [0]
    stop = time.monotonic() + args.duration
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client() as client:
            while time.monotonic() < stop:
                _infer(client, url, key, "shapes/1", image)
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cold = 0
    with httpx.Client() as client:
        for index in range(args.mixed):
            answer = _infer(client, url, key, ("shapes/1", "shapes-seg/1")[index % 2], image)
            cold += answer.headers.get("X-Model-Cold-Start") == "true"
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * len(latencies)))],
        "rps": done[0] / args.duration,
        "mixed_loads": cold,
    }


def _run(mode: str, replicas: int, args: argparse.Namespace) -> dict[str, float]:
    database = f"visionflow_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        process, url = _start(mode, replicas, home, database)
        try:
            key = (home / "demo-api-key").read_text().strip()
            return _measure(url, key, args)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (database,),
                )
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(database)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--mixed", type=int, default=40)
    args = parser.parse_args()
    rows = [
        ("serve (local)", _run("serve", 1, args)),
        ("serve-ray, 1 replica", _run("serve-ray", 1, args)),
        ("serve-ray, 2 replicas", _run("serve-ray", 2, args)),
    ]
    print(
        f"| setup | p50 ms | p99 ms | req/s ({args.clients} clients) "
        f"| loads in {args.mixed} mixed |"
    )
    print("|---|---|---|---|---|")
    for name, row in rows:
        print(
            f"| {name} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['rps']:.1f} | "
            f"{row['mixed_loads']:.0f} |"
        )


if __name__ == "__main__":
    main()
