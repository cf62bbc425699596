"""`make soak`: many concurrent clients against a real server for a while; no request may fail.

A ``python -m visionflow serve`` subprocess on 127.0.0.1 with a fresh home (the tests' server
harness, ``tests/support/server.py``) holding the demo models, the tiny CLIP and the tiny
YOLO-World; then ``--clients`` asyncio clients (one httpx pool, loopback only) for ``--duration``
seconds or ``--max-requests`` requests, whichever ends first, each cycling through the same mix:
the five task routes on a 640x480 JPEG, a two-step inline workflow (detect, crop), PP-OCR on one
rendered text line, CLIP image and text embeddings, YOLO-World, and ``GET /info``. Every answer
is checked (2xx and a JSON body). The table gives requests, errors, p50/p99 latency and
throughput per kind, then the server's resident memory (VmRSS) at start, after one warm-up
request per kind and at the end, with its peak (VmHWM). Exits 1 when any request failed.

Keep ``--clients`` under the server's admission limit (``VISIONFLOW_MAX_INFLIGHT_REQUESTS``, 64
by default): beyond it the server answers 503 ``server_busy`` by design, which counts as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402
from _harness import base64_image, register_models  # noqa: E402
from ocr import line, page  # noqa: E402
from tests.fixtures.clip_tiny import CLIP_TINY, SQUARE  # noqa: E402
from tests.fixtures.yolo_world import write_yolo_world_package  # noqa: E402
from tests.support.server import serve  # noqa: E402
from workflow_builders import crop, det, outputs, wf  # noqa: E402

from visionflow.service.demo import DEMO_MODELS, demo_model_path  # noqa: E402

_ERROR_EXAMPLES = 3  # failed requests shown per kind
_RSS_SAMPLE_S = 10.0
_TASK_MODELS = {
    "object_detection": "shapes/1",
    "instance_segmentation": "shapes-seg/1",
    "classification": "shapes-cls/1",
    "keypoints_detection": "keypoints/1",
    "semantic_segmentation": "semantic/1",
}


@dataclass(frozen=True)
class Kind:
    """One kind of request of the mix; ``body`` is already JSON-encoded, once."""

    name: str
    method: str
    path: str
    body: bytes | None = None


def _kind(name: str, path: str, body: dict[str, Any]) -> Kind:
    return Kind(name, "POST", path, json.dumps(body).encode())


def _encoded(image_bgr: Any, extension: str) -> dict[str, str]:
    ok, buffer = cv2.imencode(extension, image_bgr)
    assert ok
    return base64_image(buffer.tobytes())


def kinds() -> list[Kind]:
    """The request mix, in the order every client cycles through it."""
    sample = shapes.generate(seed=2024, count=1, size_wh=(640, 480))[0]
    image = _encoded(sample.image_bgr, ".jpg")
    workflow = wf(
        [det(model="shapes/1"), crop()],
        outputs(predictions="$steps.det.predictions", crops="$steps.crop.crops"),
    )
    return [
        *(
            _kind(task, f"/infer/{task}", {"model_id": model_id, "image": image})
            for task, model_id in _TASK_MODELS.items()
        ),
        _kind(
            "workflow", "/workflows/run", {"specification": workflow, "inputs": {"image": image}}
        ),
        _kind("pp-ocr", "/ocr/pp-ocr", {"image": _encoded(line(page()), ".png")}),
        _kind(
            "clip embed_image", "/clip/embed_image", {"image": base64_image(SQUARE.read_bytes())}
        ),
        _kind("clip embed_text", "/clip/embed_text", {"text": ["a photo of a cat", "a square"]}),
        _kind("yolo_world", "/yolo_world/infer", {"image": image, "text": ["circle", "square"]}),
        Kind("info", "GET", "/info"),
    ]


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)

    def failed(self, message: str) -> None:
        self.errors += 1
        if len(self.error_examples) < _ERROR_EXAMPLES:
            self.error_examples.append(message)


async def _send(client: httpx.AsyncClient, kind: Kind) -> str | None:
    """One request of ``kind``; ``None`` when it succeeded, else what went wrong."""
    headers = {"Content-Type": "application/json"} if kind.body is not None else None
    try:
        response = await client.request(kind.method, kind.path, content=kind.body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if not response.is_success:
        return f"{response.status_code}: {response.text[:300]}"
    try:
        response.json()
    except ValueError:
        return f"{response.status_code}: the body is not JSON: {response.text[:100]!r}"
    return None


@dataclass
class Budget:
    """Requests left to start, shared by the clients (one event loop: no lock needed)."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _client(
    client: httpx.AsyncClient,
    mix: list[Kind],
    offset: int,
    deadline: float,
    budget: Budget,
    tallies: dict[str, Tally],
) -> None:
    turn = offset
    while time.monotonic() < deadline and budget.take():
        kind = mix[turn % len(mix)]
        turn += 1
        started = time.perf_counter()
        error = await _send(client, kind)
        tally = tallies[kind.name]
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if error is not None:
            tally.failed(error)


async def _sample_rss(
    read: Callable[[], dict[str, int]], samples: list[int], done: asyncio.Event
) -> None:
    while True:
        try:
            await asyncio.wait_for(done.wait(), _RSS_SAMPLE_S)
        except TimeoutError:
            samples.append(read()["VmRSS"])
        else:
            return


@dataclass
class Result:
    tallies: dict[str, Tally]
    elapsed_s: float
    memory: dict[str, dict[str, int]]  # moment → VmRSS and VmHWM (KiB)
    samples: list[int]  # VmRSS every _RSS_SAMPLE_S (KiB)


async def soak(
    url: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    memory: Callable[[], dict[str, int]],
) -> Result:
    mix = [kind for kind in kinds() if not args.kinds or kind.name in args.kinds]
    tallies = {kind.name: Tally() for kind in mix}
    moments = {"start": memory()}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=args.timeout, limits=limits
    ) as client:
        for kind in mix:  # loads every model before the clock starts
            error = await _send(client, kind)
            if error is not None:
                raise RuntimeError(f"warm-up {kind.name} failed: {error}")
        moments["after warm-up"] = memory()
        started = time.monotonic()
        deadline = started + args.duration
        budget = Budget(args.max_requests)
        samples: list[int] = []
        done = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(memory, samples, done))
        await asyncio.gather(
            *(_client(client, mix, i, deadline, budget, tallies) for i in range(args.clients))
        )
        elapsed_s = time.monotonic() - started
        done.set()
        await sampler
    moments["end"] = memory()
    return Result(tallies, elapsed_s, moments, samples)


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_ms:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def print_report(result: Result, clients: int) -> int:
    """The table; 1 when any request failed, else 0."""
    header = f"{'kind':<22} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"
    print(f"\n{clients} clients for {result.elapsed_s:.1f} s\n")
    print(header)
    print("-" * len(header))
    every: list[float] = []
    errors = 0
    for name, tally in result.tallies.items():
        latencies = sorted(tally.latencies_ms)
        every.extend(latencies)
        errors += tally.errors
        print(
            f"{name:<22} {len(latencies):>8} {tally.errors:>6} {_percentile(latencies, 0.5):>8.1f}"
            f" {_percentile(latencies, 0.99):>8.1f} {len(latencies) / result.elapsed_s:>7.1f}"
        )
    every.sort()
    print("-" * len(header))
    print(
        f"{'all':<22} {len(every):>8} {errors:>6} {_percentile(every, 0.5):>8.1f}"
        f" {_percentile(every, 0.99):>8.1f} {len(every) / result.elapsed_s:>7.1f}"
    )
    print()
    for moment, values in result.memory.items():
        print(
            f"server VmRSS {moment:<14} {_mib(values['VmRSS']):>9}  (VmHWM {_mib(values['VmHWM'])})"
        )
    every_rss = ", ".join(_mib(kib) for kib in result.samples) or "(none: a run under 10 s)"
    print(f"server VmRSS every {_RSS_SAMPLE_S:.0f} s: {every_rss}")
    for name, tally in result.tallies.items():
        for example in tally.error_examples:
            print(f"error {name}: {example}")
    return 1 if errors else 0


def _models(folder: Path) -> dict[str, Path]:
    """Model id → file or package folder: the demo models, the tiny CLIP and YOLO-World."""
    return {
        **{model_id: demo_model_path(name) for model_id, name in DEMO_MODELS.items()},
        "clip/1": CLIP_TINY,
        "yolo-world/1": write_yolo_world_package(folder / "yolo-world"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic (60)")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="stop after this many requests"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (60)")
    parser.add_argument(
        "--kinds",
        nargs="+",
        metavar="KIND",
        choices=[kind.name for kind in kinds()],
        help="only these kinds of the mix (default: all)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        home.mkdir()
        register_models(home, _models(Path(folder)))
        with serve(home) as server:
            # `serve` writes the demo workspace's key at start.
            key = (home / "demo-api-key").read_text().strip()
            result = asyncio.run(
                soak(server.url, {"Authorization": f"Bearer {key}"}, args, server.memory_kb)
            )
        status = print_report(result, args.clients)
        if status:
            log = server.log()
            print(f"\nserver log (last 3000 characters):\n{log[-3000:]}")
    return status


if __name__ == "__main__":
    sys.exit(main())
