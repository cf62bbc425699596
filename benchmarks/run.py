"""`make bench`: raw ONNX Runtime vs end-to-end ``POST /infer/<task>`` for every task, and
workflows vs the direct route.

For each model: the median of N ``session.run`` calls on an already-preprocessed tensor (raw), the
median of N HTTP requests with a 640x480 JPEG against a real server in a subprocess (end to end:
base64 decode, image decode, resize, inference, post-processing, JSON), and their ratio. Workflow
rows (``POST /workflows/run`` with an inline specification) use the median of N direct
``POST /infer/object_detection`` requests on the same image as their baseline: a one-step
workflow (object detection) shows the engine's overhead per request; a five-step one (detect,
crop, classify the crops, draw boxes, count) what a typical chain costs. Absolute times drift on
shared machines; compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402
from _harness import (  # noqa: E402
    Row,
    base64_image,
    median_ms,
    post_call,
    print_table,
    register_models,
    row,
    running_server,
)
from clip import clip_rows  # noqa: E402
from ocr import ocr_rows  # noqa: E402
from overhead import overhead_ms  # noqa: E402
from video import video_env, video_rows  # noqa: E402
from workflow_builders import COUNT, PREDS, crop, det, outputs, prop_def, step, wf  # noqa: E402
from yolo_world import yolo_world_rows  # noqa: E402

from visionflow.models.base import images_to_tensor  # noqa: E402
from visionflow.models.importers import import_model  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402
from visionflow.service.demo import demo_model_path  # noqa: E402

# model id → (file or package folder, route)
MODELS: dict[str, tuple[Path, str]] = {
    "shapes/1": (demo_model_path("shapes-det.onnx"), "object_detection"),
    "yolov8n-640/1": (
        ROOT / "benchmarks" / "models" / "yolov8n-640-random.onnx",
        "object_detection",
    ),
    "shapes-seg/1": (demo_model_path("shapes-seg.onnx"), "instance_segmentation"),
    "keypoints/1": (demo_model_path("shapes-pose"), "keypoints_detection"),
    "shapes-cls/1": (demo_model_path("shapes-cls.onnx"), "classification"),
    "semantic/1": (demo_model_path("selfie-seg"), "semantic_segmentation"),
}


# Frames of the 640x480 video the video rows run through an inference pipeline (video.py).
VIDEO_FRAMES = 150


def test_image() -> bytes:
    sample = shapes.generate(seed=2024, count=1, size_wh=(640, 480))[0]
    ok, buffer = cv2.imencode(".jpg", sample.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buffer.tobytes())


def raw_ms(path: Path, image: np.ndarray, runs: int) -> float:
    package = import_model(path)
    session = OnnxSession(package.weight_path())
    tensor, _ = images_to_tensor([image], package.manifest.input)
    feeds = {session.input.name: tensor}
    return median_ms(lambda: session.run(feeds), runs)


def post_ms(url: str, path: str, body: dict[str, Any], runs: int) -> float:
    with httpx.Client(base_url=url, timeout=60) as client:
        return median_ms(post_call(client, path, body), runs)


def http_ms(url: str, model_id: str, route: str, image: dict[str, str], runs: int) -> float:
    body = {
        "model_id": model_id,
        "image": image,
        "confidence": 0.25,
    }
    return post_ms(url, f"/infer/{route}", body, runs)


DETECT = det(model="shapes/1")
ONE_STEP = wf([DETECT], outputs(predictions=PREDS))
FIVE_STEPS = wf(
    [
        DETECT,
        crop(),
        step(
            "roboflow_classification_model@v2",
            "cls",
            images="$steps.crop.crops",
            model_id="shapes-cls/1",
        ),
        step("bounding_box_visualization@v1", "viz", image="$inputs.image", predictions=PREDS),
        prop_def("count", COUNT),
    ],
    outputs(
        count="$steps.count.output", classes="$steps.cls.predictions", preview="$steps.viz.image"
    ),
)


def workflow_rows(
    url: str, image: dict[str, str], available: set[str], runs: int
) -> tuple[list[Row], list[str]]:
    """(model, route, direct /infer ms, workflow ms, ratio) rows, and notes on skipped rows."""
    if "shapes/1" not in available:
        return [], ["workflow rows: shapes/1 is missing"]
    direct = http_ms(url, "shapes/1", "object_detection", image, runs)
    cases = [("shapes/1", "workflows/run 1 step", ONE_STEP)]
    notes = []
    if "shapes-cls/1" in available:
        cases.append(("shapes/1+cls", "workflows/run 5 steps", FIVE_STEPS))
    else:
        notes.append("5-step workflow: shapes-cls/1 is missing (src/visionflow/demo/models)")
    rows = []
    for model_id, route, specification in cases:
        body = {"specification": specification, "inputs": {"image": image}}
        took = post_ms(url, "/workflows/run", body, runs)
        rows.append(row(model_id, route, direct, took))
    return rows, notes


def engine_rows(
    url: str, image: dict[str, str], available: set[str], runs: int
) -> list[tuple[str, float, float, float]]:
    """The engine's own cost: server time minus model time for the direct route and the
    workflows (``overhead.py``), over 4x ``runs`` requests each (a few ms, measured in
    interleaved rounds: fewer would leave it within the machine's noise)."""
    if not {"shapes/1", "shapes-cls/1"} <= available:
        return []
    return overhead_ms(
        url,
        {
            "POST /infer/object_detection": (
                "/infer/object_detection",
                {"model_id": "shapes/1", "image": image},
            ),
            "workflows/run 1 step": (
                "/workflows/run",
                {"specification": ONE_STEP, "inputs": {"image": image}},
            ),
            "workflows/run 5 steps": (
                "/workflows/run",
                {"specification": FIVE_STEPS, "inputs": {"image": image}},
            ),
        },
        4 * runs,
        rounds=8,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    jpeg = test_image()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    image_object = base64_image(jpeg)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        available = {m: entry for m, entry in MODELS.items() if entry[0].exists()}
        register_models(home, {model_id: path for model_id, (path, _) in available.items()})
        with running_server(home, video_env(home, VIDEO_FRAMES)) as url:
            rows = []
            for model_id, (path, route) in available.items():
                raw = raw_ms(path, image, args.runs)
                e2e = http_ms(url, model_id, route, image_object, args.runs)
                rows.append(row(model_id, route, raw, e2e))
            flows, notes = workflow_rows(url, image_object, set(available), args.runs)
            engine = engine_rows(url, image_object, set(available), args.runs)
            reading = ocr_rows(url, args.runs)
            embedding = clip_rows(url, home, args.runs)
            world = yolo_world_rows(url, home, args.runs)
            videos, video_lines = (
                video_rows(url, VIDEO_FRAMES) if "shapes/1" in available else ([], [])
            )
    print(f"\nmedian of {args.runs} runs, 640x480 JPEG q90, POST /infer/<route>\n")
    print("baseline: raw ORT session.run; for workflows/run rows, POST /infer/object_detection")
    print("ocr rows: a rendered page / one line as PNG; baseline: the PP-OCR engine in-process\n")
    print("video rows: ms per frame of a pipeline on a 640x480 file vs POST /infer of its frames\n")
    print_table([*rows, *flows, *reading, *embedding, *world, *videos])
    for line in video_lines:
        print(line)
    for _model_id, route, direct, took, _ratio in flows:
        print(f"{route}: {took - direct:+.2f} ms per request over the direct route")
    if engine:
        print("\nserver time minus model time, mean per request (from the server's /metrics):")
        direct_rest = engine[0][3]
        for what, server, model, rest in engine:
            added = "" if what == engine[0][0] else f", {rest - direct_rest:+.2f} ms over direct"
            print(
                f"  {what:<28} server {server:7.2f} ms  models {model:7.2f} ms  "
                f"rest {rest:6.2f} ms{added}"
            )
    missing = sorted(set(MODELS) - {r[0] for r in rows})
    if missing:
        print(f"\nskipped (file missing): {', '.join(missing)}")
    for note in notes:
        print(f"skipped {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
