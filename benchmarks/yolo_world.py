"""YOLO-World latency with the tiny random fixture (320 px, K = 8, tiny CLIP text encoder): a
server-overhead figure. Baseline: raw ``session.run`` of the detector on an already-letterboxed
tensor and already-padded text embeddings; end to end: ``POST /yolo_world/infer`` (640x480 JPEG,
3 classes) against a running server, once with the same class list every call (text embeddings
cached) and once with a new class list every call (the CLIP text encoder runs each time).

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/yolo_world.py`` runs
only them against a server of its own.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.yolo_world import (  # noqa: E402
    DETECTOR,
    MAX_CLASSES,
    reference,
    write_yolo_world_package,
)

from visionflow.config import Settings  # noqa: E402
from visionflow.models.base import images_to_tensor  # noqa: E402
from visionflow.models.manifest import ModelManifest  # noqa: E402
from visionflow.models.yolo_world import pad_embeddings  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402
from visionflow.service.services import Services  # noqa: E402

__all__ = ["register_yolo_world", "yolo_world_rows"]

MODEL_ID = "yolo-world/1"
CLASSES = ["car", "person", "tree"]

Row = tuple[str, str, float, float, float]


def register_yolo_world(home: Path, workspace: str = "demo") -> None:
    """Register the tiny package as ``yolo-world/1`` (what every version id maps to by default)
    in a server's home; a running server sees it on its next request."""
    services = Services.build(Settings(home=home, register_demo_models=False))
    try:
        services.registry.ensure_workspace(workspace)
        with tempfile.TemporaryDirectory() as folder:
            package = write_yolo_world_package(Path(folder) / "yolo-world")
            services.models.add_from_path(workspace, MODEL_ID, package)
    finally:
        services.close()


def _median_ms(call: Any, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def yolo_world_rows(url: str, home: Path, runs: int) -> list[Row]:
    register_yolo_world(home)
    with tempfile.TemporaryDirectory() as folder:
        manifest = ModelManifest.read(write_yolo_world_package(Path(folder) / "p") / "model.json")
    scene = reference()["image_bgr"]
    ok, jpeg = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    tensor, _metas = images_to_tensor([decoded], manifest.input)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(CLASSES), 512)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    feeds = {"images": tensor, "txt_feats": pad_embeddings(embeddings, MAX_CLASSES)}
    detector = OnnxSession(DETECTOR)
    raw = _median_ms(lambda: detector.run(feeds), runs)
    image = {"type": "base64", "value": base64.b64encode(jpeg.tobytes()).decode()}
    fresh = itertools.count()
    with httpx.Client(base_url=url, timeout=60) as http:

        def post(text: list[str]) -> None:
            body = {"image": image, "text": text, "confidence": 0.1}
            http.post("/yolo_world/infer", json=body).raise_for_status()

        cached = _median_ms(lambda: post(CLASSES), runs)
        uncached = _median_ms(lambda: post([f"{name} {next(fresh)}" for name in CLASSES]), runs)
    return [
        ("yolo-world-tiny", "yolo_world/infer", raw, cached, cached / raw),
        ("yolo-world-tiny", "yolo_world new classes", raw, uncached, uncached / raw),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        port = _free_port()
        env = {**os.environ, "VISIONFLOW_HOME": home, "VISIONFLOW_REGISTER_DEMO_MODELS": "0"}
        server = subprocess.Popen(
            [sys.executable, "-m", "visionflow", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            rows = yolo_world_rows(url, Path(home), args.runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"\nmedian of {args.runs} runs; baseline: raw ORT session.run of the detector\n")
    header = f"{'model':<16} {'route':<24} {'baseline ms':>11} {'end-to-end ms':>14} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for model_id, route, base, e2e, ratio in rows:
        print(f"{model_id:<16} {route:<24} {base:>11.2f} {e2e:>14.2f} {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
