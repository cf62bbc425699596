"""OCR latency: a rendered page (about 900x460, 8 lines of 28 px text) and one cropped line, read
by the raw PP-OCR engine in this process (``OcrEngine.read``: rapidocr's detection +
recognition) and end to end by a running server (``POST /ocr/pp-ocr`` with a PNG, and the page
through a one-step ``pp_ocr@v1`` workflow).

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/ocr.py`` runs only
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.ocr_images import render  # noqa: E402

from visionflow.config import Settings  # noqa: E402
from visionflow.runtime.ocr import ocr_engine  # noqa: E402
from visionflow.service.services import Services  # noqa: E402

__all__ = ["PAGE_LINES", "ocr_rows"]

TEXT_PX = 28
PAGE_LINES = (
    "Invoice 2025-0417 issued to Northwind Traders, Leeds",
    "Item 1: steel brackets x 40 at 3.15 each",
    "Item 2: hex bolts M8 x 500 at 0.07 each",
    "Subtotal 161.00 shipping 24.50 tax 37.10",
    "Total due 222.60 within thirty days",
    "Bank transfer to account 0042 7719 3301",
    "Reference INV-2025-0417 on every payment",
    "Questions? call 555 0192 or write to us",
)

Row = tuple[str, str, float, float, float]
Pixels = npt.NDArray[np.uint8]


def page() -> Pixels:
    return render(PAGE_LINES, TEXT_PX)


def line(pixels: Pixels) -> Pixels:
    """The page's first line, cut as a text detector would box it (a few px of margin)."""
    top = TEXT_PX - 6
    return np.ascontiguousarray(pixels[top : top + int(TEXT_PX * 1.5), TEXT_PX - 6 :])


def median_ms(call: Callable[[], object], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _image_object(pixels: Pixels) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> Callable[[], object]:
    def call() -> object:
        return client.post(path, json=body).raise_for_status()

    return call


def _workflow(image: dict[str, str]) -> dict[str, Any]:
    return {
        "specification": {
            "version": "1.0",
            "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [
                {"type": "roboflow_core/pp_ocr@v1", "name": "ocr", "images": "$inputs.image"}
            ],
            "outputs": [{"type": "JsonField", "name": "ocr", "selector": "$steps.ocr.*"}],
        },
        "inputs": {"image": image},
    }


def ocr_rows(url: str, runs: int) -> list[Row]:
    """(model, route, raw engine ms, end-to-end ms, ratio) for the page and the line."""
    engine = ocr_engine()
    full = page()
    cases = [
        (f"ocr page {full.shape[1]}x{full.shape[0]}", full),
        ("ocr line", line(full)),
    ]
    rows: list[Row] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, pixels in cases:
            raw = median_ms(lambda pixels=pixels: engine.read(pixels), runs)
            body = {"image": _image_object(pixels), "generate_bounding_boxes": True}
            e2e = median_ms(_post(client, "/ocr/pp-ocr", body), runs)
            rows.append((name, "ocr/pp-ocr", raw, e2e, e2e / raw))
        raw_page = rows[0][2]
        took = median_ms(_post(client, "/workflows/run", _workflow(_image_object(full))), runs)
        rows.append((cases[0][0], "workflows/run pp_ocr", raw_page, took, took / raw_page))
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        services = Services.build(Settings(home=Path(home), register_demo_models=False))
        services.registry.ensure_workspace("demo")
        services.close()
        port = _free_port()
        env = {**os.environ, "VISIONFLOW_HOME": home, "VISIONFLOW_REGISTER_DEMO_MODELS": "0"}
        command = [sys.executable, "-m", "visionflow", "serve", "--port", str(port)]
        server = subprocess.Popen(
            [*command, "--log-level", "warning"],
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
            rows = ocr_rows(url, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"\nmedian of {args.runs} runs, PNG; baseline: OcrEngine.read in-process\n")
    header = f"{'model':<22} {'route':<22} {'raw ms':>9} {'end-to-end ms':>14} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, route, raw, e2e, ratio in rows:
        print(f"{name:<22} {route:<22} {raw:>9.2f} {e2e:>14.2f} {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
