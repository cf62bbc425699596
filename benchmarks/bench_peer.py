"""`make bench-peer` (dev-only, not a test): visionflow and the reference server (``inference``
1.8.3 from ``../shared/peer``) in the same run, on the same ONNX file (``local-dets/1``, a random
YOLOv8n 640 that emits boxes) and the same JPEG bytes, each against raw ONNX Runtime of its own
version.

Rows: sequential latency (requests to the two servers interleaved) for a 640x480 shapes image (a
few boxes) and a noise image (hundreds of boxes, up to ``max_detections`` = 300), as ratios to raw
ORT (raw = the faster of the medians measured before and after); throughput and p50/p99 with 1,
4 and 8 concurrent clients; OCR (ours only: the reference needs a model download) with 1 and 4
clients; process start to first successful detection on a fresh data directory. Absolute times
drift on a shared machine: read the ratios. Writes JSON (``--json``) and a PNG plot of throughput
vs clients (``--plot``, needs matplotlib).

    PEER_ROOT=/tmp/peer ../shared/peer/setup_peer.sh   # once, ~3 min
    make bench-peer                                    # or: python benchmarks/bench_peer.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402
from _harness import _free_port, base64_image, register_models, running_server  # noqa: E402
from compare_peer import load_photos  # noqa: E402
from ocr import page  # noqa: E402

from visionflow.models.base import images_to_tensor  # noqa: E402
from visionflow.models.importers import import_model  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402

MODEL_ID = "local-dets/1"
# Raw ONNX Runtime of the reference's venv, one session.run per line read, its ms printed back.
PEER_RAW = """
import sys, time, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2]); name = s.get_inputs()[0].name
for _ in range(3): s.run(None, {name: x})
print(ort.__version__, flush=True)
for _ in sys.stdin:
    a = time.perf_counter(); s.run(None, {name: x})
    print((time.perf_counter() - a) * 1000, flush=True)
"""


def jpeg(image_bgr: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buffer.tobytes())


def images(python: Path | None = None) -> dict[str, bytes]:
    """``photo``: skimage's astronaut at 640x480 (the shapes image where scikit-image is
    missing); ``noise``: uniform noise, which makes the random net emit 300 boxes."""
    photos = load_photos(str(python) if python else None)
    if "astronaut" in photos:
        photo = cv2.resize(photos["astronaut"], (640, 480), interpolation=cv2.INTER_AREA)
    else:
        photo = shapes.generate(seed=2024, count=1, size_wh=(640, 480))[0].image_bgr
    noise = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return {"photo": jpeg(photo), "noise": jpeg(noise)}


def detect_body(image: bytes, api_key: str) -> dict[str, Any]:
    return {"model_id": MODEL_ID, "image": base64_image(image), "api_key": api_key}


RawRun = Callable[[], float]


def our_raw(onnx: Path, image: bytes) -> tuple[RawRun, np.ndarray]:
    """One timed ``session.run`` (ms) of our runtime, with the server's session options."""
    package = import_model(onnx)
    session = OnnxSession(package.weight_path())
    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    tensor, _ = images_to_tensor([decoded], package.manifest.input)
    feeds = {session.input.name: tensor}
    for _ in range(3):
        session.run(feeds)

    def run() -> float:
        started = time.perf_counter()
        session.run(feeds)
        return (time.perf_counter() - started) * 1000

    return run, tensor


def peer_raw(python: Path, onnx: Path, tensor_file: Path) -> tuple[RawRun, str, Callable[[], None]]:
    """One timed ``session.run`` (ms) in the reference's venv; its ORT version; a closer."""
    process = subprocess.Popen(
        [str(python), "-c", PEER_RAW, str(onnx), str(tensor_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    version = stdout.readline().strip()

    def run() -> float:
        stdin.write("run\n")
        stdin.flush()
        return float(stdout.readline())

    def close() -> None:
        stdin.close()
        process.wait(timeout=30)

    return run, version, close


def sequential(
    clients: dict[str, httpx.Client],
    raws: dict[str, RawRun],
    path: str,
    bodies: dict[str, dict[str, Any]],
    runs: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Per server: median end-to-end ms and median raw ORT ms, everything interleaved (raw
    ours, ours, raw reference, reference, ...) so load drift hits all alike; boxes returned."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    raw_times: dict[str, list[float]] = {name: [] for name in clients}
    boxes: dict[str, int] = {}
    for index in range(runs + 3):
        for name, client in clients.items():
            raw_ms = raws[name]()
            if index >= 3:
                raw_times[name].append(raw_ms)
            started = time.perf_counter()
            response = client.post(path, json=bodies[name]).raise_for_status()
            if index >= 3:
                times[name].append((time.perf_counter() - started) * 1000)
            predictions = response.json().get("predictions")
            boxes[name] = len(predictions) if isinstance(predictions, list) else -1
    return (
        {name: statistics.median(t) for name, t in times.items()},
        {name: statistics.median(t) for name, t in raw_times.items()},
        boxes,
    )


def concurrent(
    url: str, path: str, body: dict[str, Any], clients: int, duration_s: float
) -> dict[str, float]:
    """``clients`` threads posting back to back for ``duration_s``: req/s, p50 and p99 ms.

    Each thread sends one warm-up request first; the clock starts once every thread has had its
    answer (a barrier), so the warm-ups count neither in the requests nor in the elapsed time.
    The body is encoded once: the threads share this process's two cores with the server."""
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    window: dict[str, float] = {}
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            client.post(path, content=content, headers=headers).raise_for_status()
            ready.wait()
            while time.monotonic() < window["stop"]:
                started = time.perf_counter()
                client.post(path, content=content, headers=headers).raise_for_status()
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    window["stop"] = float("inf")
    ready.wait(timeout=300)
    started = time.monotonic()
    window["stop"] = started + duration_s
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "req_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def cold_start_s(timeout_s: float = 120.0) -> float:
    """``visionflow serve`` on a fresh home (registry, demo models, key made by this start) to
    the first 200 of ``POST /infer/object_detection`` on ``shapes/1``."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        port = _free_port()
        env = {**os.environ, "VISIONFLOW_HOME": str(home)}
        image = base64_image(
            jpeg(shapes.generate(seed=2024, count=1, size_wh=(640, 480))[0].image_bgr)
        )
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "visionflow", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - started < timeout_s:
                key_file = home / "demo-api-key"
                if key_file.is_file():
                    body = {"model_id": "shapes/1", "image": image}
                    body["api_key"] = key_file.read_text().strip()
                    try:
                        url = f"http://127.0.0.1:{port}/infer/object_detection"
                        if httpx.post(url, json=body, timeout=30).status_code == 200:
                            return time.perf_counter() - started
                    except httpx.HTTPError:
                        pass
                time.sleep(0.02)
            raise RuntimeError("no detection within the timeout")
        finally:
            server.terminate()
            server.wait(timeout=10)


def start_peer(peer_root: Path) -> tuple[str, int]:
    """The reference server on a free port (its ``run_peer.sh`` waits for /info): URL, PID."""
    port = _free_port()
    out = subprocess.run(
        [str(ROOT.parent / "shared" / "peer" / "run_peer.sh"), str(port)],
        env={**os.environ, "PEER_ROOT": str(peer_root)},
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(out.stdout.strip().splitlines()[-1])
    return f"http://127.0.0.1:{port}", pid


def plot(result: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, image in zip(axes, ("photo", "noise"), strict=True):
        for server, rows in result["concurrency"][image].items():
            axis.plot(
                [r["clients"] for r in rows], [r["req_per_s"] for r in rows], "o-", label=server
            )
        ceiling = result["sequential"][image]["raw_ceiling_req_per_s"]["ours"]
        axis.axhline(ceiling, linestyle="--", color="grey", label="1000 / raw ORT ms (ours)")
        axis.set_title(f"{MODEL_ID}, {image} image")
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel("requests / s")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer-root", type=Path, default=Path(os.environ.get("PEER_ROOT", "/tmp/peer"))
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--duration-s", type=float, default=6.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--json", type=Path, default=Path("bench-peer.json"))
    parser.add_argument("--plot", type=Path, default=Path("bench-peer.png"))
    parser.add_argument("--skip-cold-start", action="store_true")
    args = parser.parse_args()
    onnx = args.peer_root / "models" / "yolov8n_dets_640.onnx"
    python = args.peer_root / "venv" / "bin" / "python"
    if not onnx.is_file() or not python.is_file():
        print(f"no reference server under {args.peer_root}: run ../shared/peer/setup_peer.sh")
        return 2
    result: dict[str, Any] = {"model": MODEL_ID, "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    data = images(python)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        register_models(home, {MODEL_ID: onnx})
        tensor_file = home / "tensor.npy"
        ours_raw, tensor = our_raw(onnx, data["photo"])
        np.save(tensor_file, tensor)
        theirs_raw, peer_ort, close_raw = peer_raw(python, onnx, tensor_file)
        result["ort_versions"] = {"reference": peer_ort}
        raws = {"ours": ours_raw, "reference": theirs_raw}
        peer_url, peer_pid = start_peer(args.peer_root)
        try:
            with running_server(home) as our_url:
                key = _our_key(home)
                urls = {"ours": our_url, "reference": peer_url}
                keys = {"ours": key, "reference": "x"}
                clients = {n: httpx.Client(base_url=u, timeout=120) for n, u in urls.items()}
                result["sequential"] = {}
                result["concurrency"] = {}
                for name, image in data.items():
                    bodies = {n: detect_body(image, keys[n]) for n in urls}
                    raw_before = {n: statistics.median(raws[n]() for _ in range(5)) for n in urls}
                    medians, raw_medians, boxes = sequential(
                        clients, raws, "/infer/object_detection", bodies, args.runs
                    )
                    result["concurrency"][name] = {
                        n: [
                            concurrent(
                                urls[n], "/infer/object_detection", bodies[n], c, args.duration_s
                            )
                            for c in args.clients
                        ]
                        for n in urls
                    }
                    raw_after = {n: statistics.median(raws[n]() for _ in range(5)) for n in urls}
                    result["sequential"][name] = {
                        "median_ms": medians,
                        "raw_interleaved_ms": raw_medians,
                        "raw_before_after_ms": {n: [raw_before[n], raw_after[n]] for n in urls},
                        # The ceiling: 1000 / the faster raw median of before and after.
                        "raw_ceiling_req_per_s": {
                            n: 1000 / min(raw_before[n], raw_after[n]) for n in urls
                        },
                        "boxes": boxes,
                    }
                pixels = np.ascontiguousarray(page()[:160, :700])  # ~700x160, three lines
                ocr_body = {"image": base64_image(jpeg(pixels)), "api_key": key}
                result["ocr"] = [
                    concurrent(our_url, "/ocr/pp-ocr", ocr_body, c, args.duration_s) for c in (1, 4)
                ]
        finally:
            os.kill(peer_pid, 15)
            close_raw()
    if not args.skip_cold_start:
        result["cold_start_s"] = [cold_start_s() for _ in range(3)]
    report(result)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {args.json}" + (f", plot: {args.plot}" if plot(result, args.plot) else ""))
    return 0


def _our_key(home: Path) -> str:
    from visionflow.config import Settings
    from visionflow.service.services import Services

    services = Services.build(Settings(home=home, register_demo_models=False))
    try:
        return services.registry.create_api_key("demo", name="bench-peer")[1]
    finally:
        services.close()


def report(result: dict[str, Any]) -> None:
    print(f"\nload average at start: {result['loadavg']}; ratios are to raw ORT interleaved")
    print(
        f"{'image':<8} {'server':<10} {'boxes':>5} {'seq ms':>8} {'x raw':>6}  "
        + "  ".join(
            f"{c['clients']}cl req/s (p50/p99)" for c in result["concurrency"]["photo"]["ours"]
        )
    )
    for image, seq in result["sequential"].items():
        raw = seq["raw_interleaved_ms"]
        for server, median in seq["median_ms"].items():
            rows = result["concurrency"][image][server]
            cells = "  ".join(
                f"{r['req_per_s']:6.1f} ({r['p50_ms']:.0f}/{r['p99_ms']:.0f})" for r in rows
            )
            print(
                f"{image:<8} {server:<10} {seq['boxes'][server]:>5} {median:>8.1f} "
                f"{median / raw[server]:>6.2f}  {cells}  "
                f"ceiling {seq['raw_ceiling_req_per_s'][server]:.1f}"
            )
    one, four = result["ocr"]
    print(
        f"OCR pages/s: 1 client {one['req_per_s']:.2f}, 4 clients {four['req_per_s']:.2f} "
        f"({four['req_per_s'] / one['req_per_s']:.2f}x)"
    )
    if "cold_start_s" in result:
        print(
            "start to first detection (fresh home) s: "
            + ", ".join(f"{s:.2f}" for s in result["cold_start_s"])
        )


if __name__ == "__main__":
    raise SystemExit(main())
