"""CLIP embed latency with the tiny random CLIP fixture: a server-overhead figure, since the model
itself is tiny. Baseline: raw ``session.run`` of the text encoder on already-tokenized ids and of
the image encoder on an already-preprocessed tensor; end to end: ``POST /clip/embed_text`` (one
text) and ``POST /clip/embed_image`` (one 224x224 PNG) against a running server.

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/clip.py`` runs only
them against a server of its own.
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
from pathlib import Path
from typing import Any

import cv2
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.clip_tiny import CLIP_TINY, SQUARE  # noqa: E402

from visionflow.config import Settings  # noqa: E402
from visionflow.models.clip import ClipTokenizer, clip_pixels  # noqa: E402
from visionflow.models.manifest import ModelManifest  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402
from visionflow.service.services import Services  # noqa: E402

__all__ = ["clip_rows", "register_clip"]

MODEL_ID = "clip/1"
TEXT = "a photo of a cat"

Row = tuple[str, str, float, float, float]


def register_clip(home: Path, workspace: str = "demo") -> None:
    """Register the tiny CLIP as ``clip/1`` (what ViT-B-16 maps to) in a server's home; a running
    server sees it on its next request."""
    services = Services.build(Settings(home=home, register_demo_models=False))
    try:
        services.registry.ensure_workspace(workspace)
        services.models.add_from_path(workspace, MODEL_ID, CLIP_TINY)
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


def clip_rows(url: str, home: Path, runs: int) -> list[Row]:
    register_clip(home)
    manifest = ModelManifest.read(CLIP_TINY / "model.json")
    tokenizer = ClipTokenizer.from_file(CLIP_TINY / "tokenizer.json")
    ids, mask = tokenizer.encode([TEXT])
    text_session = OnnxSession(CLIP_TINY / "text_encoder.onnx")
    image_session = OnnxSession(CLIP_TINY / "image_encoder.onnx")
    pixels = clip_pixels([cv2.imread(str(SQUARE))], manifest.input)
    raw_text = _median_ms(
        lambda: text_session.run({"input_ids": ids, "attention_mask": mask}), runs
    )
    raw_image = _median_ms(lambda: image_session.run({"pixel_values": pixels}), runs)
    image = {"type": "base64", "value": base64.b64encode(SQUARE.read_bytes()).decode()}
    with httpx.Client(base_url=url, timeout=60) as http:

        def post(path: str, body: dict[str, Any]) -> None:
            http.post(path, json=body).raise_for_status()

        e2e_text = _median_ms(lambda: post("/clip/embed_text", {"text": TEXT}), runs)
        e2e_image = _median_ms(lambda: post("/clip/embed_image", {"image": image}), runs)
    return [
        ("clip-tiny", "clip/embed_text", raw_text, e2e_text, e2e_text / raw_text),
        ("clip-tiny", "clip/embed_image", raw_image, e2e_image, e2e_image / raw_image),
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
            rows = clip_rows(url, Path(home), args.runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"median of {args.runs} runs; baseline: raw ORT session.run (tokenized / preprocessed)")
    for model, route, raw, e2e, ratio in rows:
        print(f"{model:<16} {route:<24} {raw:>11.2f} {e2e:>14.2f} {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
