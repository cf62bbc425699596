"""Video throughput: frames per second of an inference pipeline (``POST
/inference_pipelines/initialise`` on a 640x480 file in the server's ``VISIONFLOW_VIDEO_FOLDER``,
WAIT + LAZY so every frame is processed, timed from the start until the pipeline has ENDED)
through a 1-step workflow (detect) and a 3-step one (detect, track, draw boxes), against one
client sending the same frames one after another as JPEG q90 to ``POST /infer/object_detection``.

The pipeline decodes on its own thread and serializes nothing until results are consumed; a
request pays for base64, JPEG decoding and the JSON answer. ``benchmarks/run.py`` prints these
rows with the others; ``python benchmarks/video.py`` runs only them against a server of its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import (  # noqa: E402
    Row,
    base64_image,
    print_table,
    register_models,
    row,
    running_server,
)
from tests.support.videos import moving_square_frames, write_video  # noqa: E402
from workflow_builders import PREDS, det, outputs, step, wf  # noqa: E402

from visionflow.service.demo import demo_model_path  # noqa: E402

__all__ = ["VIDEO_FILE", "video_env", "video_rows"]

VIDEO_FILE = "bench-640x480.mp4"
_SIZE_WH = (640, 480)
_TIMEOUT_S = 600.0

ONE_STEP = wf([det(model="shapes/1")], outputs(predictions=PREDS))
THREE_STEPS = wf(
    [
        det(model="shapes/1"),
        step("byte_tracker@v3", "track", image="$inputs.image", detections=PREDS),
        step(
            "bounding_box_visualization@v1",
            "viz",
            image="$inputs.image",
            predictions="$steps.track.tracked_detections",
        ),
    ],
    outputs(tracked="$steps.track.tracked_detections", preview="$steps.viz.image"),
    inputs=[
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowVideoMetadata", "name": "video_metadata"},
    ],
)


def _frames(count: int) -> list[Any]:
    return list(moving_square_frames(count, _SIZE_WH, side_px=120, step_px=6))


def video_env(home: Path, frames: int) -> dict[str, str]:
    """The server settings for the video rows: a folder under ``home`` with the test video."""
    folder = home / "videos"
    folder.mkdir(exist_ok=True)
    write_video(folder / VIDEO_FILE, iter(_frames(frames)))
    return {"VISIONFLOW_VIDEO_FOLDER": str(folder)}


def _pipeline_fps(client: httpx.Client, specification: dict[str, Any], frames: int) -> float:
    body = {
        "video_configuration": {
            "type": "VideoConfiguration",
            "video_reference": VIDEO_FILE,
            "source_buffer_filling_strategy": "WAIT",
            "source_buffer_consumption_strategy": "LAZY",
        },
        "processing_configuration": {
            "type": "WorkflowConfiguration",
            "workflow_specification": specification,
        },
        "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": frames},
    }
    started = time.perf_counter()
    answer = client.post("/inference_pipelines/initialise", json=body).raise_for_status()
    pipeline_id = answer.json()["context"]["pipeline_id"]
    try:
        while True:
            report = client.get(f"/inference_pipelines/{pipeline_id}/status").json()["report"]
            if report["pipeline_state"] == "ENDED":
                break
            if time.perf_counter() - started > _TIMEOUT_S:
                raise RuntimeError(f"the video pipeline did not end in {_TIMEOUT_S:g} s")
            time.sleep(0.01)
        took = time.perf_counter() - started
        done = int(report["frames_processed"])
        if done != frames or report["inference_errors"]:
            raise RuntimeError(f"the pipeline processed {done}/{frames} frames: {report}")
        return frames / took
    finally:
        client.post(f"/inference_pipelines/{pipeline_id}/terminate")


def _infer_fps(client: httpx.Client, frames: list[Any]) -> float:
    bodies = []
    for frame in frames:
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        image = base64_image(jpeg.tobytes())
        bodies.append({"model_id": "shapes/1", "image": image, "confidence": 0.25})
    for body in bodies[:3]:  # warm-up
        client.post("/infer/object_detection", json=body).raise_for_status()
    started = time.perf_counter()
    for body in bodies:
        client.post("/infer/object_detection", json=body).raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


def video_rows(url: str, frames: int, rounds: int = 3) -> tuple[list[Row], list[str]]:
    """Rows (ms per frame: ``/infer`` as the baseline, the pipeline end to end) and lines with
    the frames per second of each: the median of ``rounds`` rounds, each measuring the three
    one after the other (so that a shared machine's drift hits them alike)."""
    cases = [("video 1 step", ONE_STEP), ("video 3 steps", THREE_STEPS)]
    images = _frames(frames)
    infer: list[float] = []
    measured: dict[str, list[float]] = {route: [] for route, _spec in cases}
    with httpx.Client(base_url=url, timeout=60) as client:
        # The model loads (and the file is cached) before anything is timed.
        _pipeline_fps(client, ONE_STEP, frames)
        for _ in range(rounds):
            infer.append(_infer_fps(client, images))
            for route, spec in cases:
                measured[route].append(_pipeline_fps(client, spec, frames))
    baseline = statistics.median(infer)
    fps = {route: statistics.median(values) for route, values in measured.items()}
    rows = [row("shapes/1", route, 1000 / baseline, 1000 / fps[route]) for route, _s in cases]
    spread = ", ".join(f"{v:.1f}" for v in infer)
    lines = [f"/infer/object_detection, one client: {baseline:6.1f} frames/s ({spread})"]
    for route, _spec in cases:
        spread = ", ".join(f"{v:.1f}" for v in measured[route])
        lines.append(f"{route:<14} pipeline:          {fps[route]:6.1f} frames/s ({spread})")
    return rows, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        register_models(home, {"shapes/1": demo_model_path("shapes-det.onnx")})
        with running_server(home, video_env(home, args.frames)) as url:
            rows, lines = video_rows(url, args.frames)
    print(
        f"\n{args.frames} frames of a 640x480 mp4, median of 3 rounds; ms per frame "
        "(baseline: POST /infer)\n"
    )
    print_table(rows)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
