"""YOLO-World latency with the tiny random fixture (320 px, K = 8, tiny CLIP text encoder): a
server-overhead figure. Baseline: raw ``session.run`` of the detector on an already-letterboxed
tensor and already-padded text embeddings; end to end: ``POST /yolo_world/infer`` (640x480 JPEG,
3 classes) against a running server, once with the same class list every call (text embeddings
cached) and once with a new class list every call (the CLIP text encoder runs each time).

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/yolo_world.py`` runs
only them against a server of its own.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import Row, base64_image, median_ms, register_models, row, run_alone  # noqa: E402
from tests.fixtures.yolo_world import (  # noqa: E402
    DETECTOR,
    MAX_CLASSES,
    reference,
    write_yolo_world_package,
)

from visionflow.models.base import images_to_tensor  # noqa: E402
from visionflow.models.manifest import ModelManifest  # noqa: E402
from visionflow.models.yolo_world import pad_embeddings  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402

__all__ = ["register_yolo_world", "yolo_world_rows"]

MODEL_ID = "yolo-world/1"
CLASSES = ["car", "person", "tree"]


def register_yolo_world(home: Path, workspace: str = "demo") -> None:
    """Register the tiny package as ``yolo-world/1`` (what every version id maps to by default)
    in a server's home; a running server sees it on its next request."""
    with tempfile.TemporaryDirectory() as folder:
        package = write_yolo_world_package(Path(folder) / "yolo-world")
        register_models(home, {MODEL_ID: package}, workspace)


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
    raw = median_ms(lambda: detector.run(feeds), runs, warmup=1)
    image = base64_image(jpeg.tobytes())
    fresh = itertools.count()
    with httpx.Client(base_url=url, timeout=60) as http:

        def post(text: list[str]) -> None:
            body = {"image": image, "text": text, "confidence": 0.1}
            http.post("/yolo_world/infer", json=body).raise_for_status()

        cached = median_ms(lambda: post(CLASSES), runs, warmup=1)
        uncached = median_ms(
            lambda: post([f"{name} {next(fresh)}" for name in CLASSES]), runs, warmup=1
        )
    return [
        row("yolo-world-tiny", "yolo_world/infer", raw, cached),
        row("yolo-world-tiny", "yolo_world new classes", raw, uncached),
    ]


if __name__ == "__main__":
    caption = "baseline: raw ORT session.run of the detector"
    raise SystemExit(run_alone(__doc__, yolo_world_rows, caption))
