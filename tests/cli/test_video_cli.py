"""``visionflow video FILE --workflow ID_OR_FILE``: a detector + tracker + drawing workflow over a
generated video in-process (the demo shapes detector): JSON lines per frame in order with one
tracker id, the annotated video, a stored workflow by id, ``--max-fps``, an MJPEG stream until
Ctrl-C, and the errors."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import pytest
from typer.testing import CliRunner

from tests.support.mjpeg import mjpeg_camera
from tests.support.pipelines import TRACKING
from tests.support.videos import moving_square_frames, write_video
from visionflow.cli import app
from visionflow.cli.video import DEDUCTED_IMAGE
from visionflow.service.demo import demo_model_path

FRAMES = 40

DRAWING: dict[str, Any] = {
    **TRACKING,
    "steps": [
        *TRACKING["steps"],
        {
            "type": "roboflow_core/bounding_box_visualization@v1",
            "name": "viz",
            "image": "$inputs.image",
            "predictions": "$steps.track.tracked_detections",
        },
    ],
    "outputs": [
        *TRACKING["outputs"],
        {"type": "JsonField", "name": "annotated", "selector": "$steps.viz.image"},
    ],
}


@pytest.fixture
def home(tmp_path: Path) -> list[str]:
    option = ["--home", str(tmp_path / "home")]
    assert CliRunner().invoke(app, ["workspaces", "create", "acme", *option]).exit_code == 0
    model = str(demo_model_path("shapes-det.onnx"))
    added = CliRunner().invoke(
        app, ["models", "add", "shapes/1", model, "--workspace", "acme", *option]
    )
    assert added.exit_code == 0, added.output
    return [*option, "--workspace", "acme"]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "square.mp4", moving_square_frames(FRAMES))


def _spec(tmp_path: Path, definition: dict[str, Any], name: str = "spec.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(definition))
    return str(path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["video", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_frame_in_order_with_the_annotated_video(
    home: list[str], clip: Path, tmp_path: Path
) -> None:
    out, jsonl = tmp_path / "annotated.mp4", tmp_path / "results.jsonl"
    code, _stdout, stderr = invoke(
        str(clip),
        "--workflow",
        _spec(tmp_path, DRAWING),
        "--out",
        str(out),
        "--jsonl",
        str(jsonl),
        "--param",
        "confidence=0.5",
        *home,
    )
    assert code == 0, stderr
    lines = _lines(jsonl.read_text())
    assert [line["frame_id"] for line in lines] == list(range(1, FRAMES + 1))
    tracked = [line["outputs"]["tracked"]["predictions"] for line in lines]
    assert [[p["tracker_id"] for p in frame] for frame in tracked] == [[1]] * FRAMES
    assert tracked[-1][0]["x"] - tracked[0][0]["x"] > 100  # the square moved, one id
    assert {line["outputs"]["annotated"] for line in lines} == {DEDUCTED_IMAGE}
    assert lines[0]["outputs"]["metadata"]["fps"] == 25.0
    assert "frames" in stderr
    assert f"annotated video written to {out}" in stderr
    written = cv2.VideoCapture(str(out))
    try:
        assert written.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES
        assert (written.get(cv2.CAP_PROP_FRAME_WIDTH), written.get(cv2.CAP_PROP_FPS)) == (
            320,
            25.0,
        )
        ok, first = written.read()
    finally:
        written.release()
    assert ok
    # The drawn box: pixels of the default palette's first colour around the square.
    assert (abs(first.astype(int) - [215, 215, 215]).sum(axis=2) > 60).sum() > 70 * 70


def test_a_stored_workflow_by_id_and_max_fps(home: list[str], clip: Path, tmp_path: Path) -> None:
    pushed = CliRunner().invoke(
        app, ["workflows", "push", "tracking", _spec(tmp_path, TRACKING), *home]
    )
    assert pushed.exit_code == 0, pushed.output
    code, stdout, stderr = invoke(
        str(clip), "--workflow", "tracking", "--jsonl", "-", "--max-fps", "5", *home
    )
    assert code == 0, stderr
    # 25 fps sub-sampled to 5: every fifth frame.
    assert [line["frame_id"] for line in _lines(stdout)] == list(range(1, FRAMES + 1, 5))


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        pytest.param(["missing.mp4", "--workflow", "{spec}"], 2, "no such file", id="no-video"),
        pytest.param(["{clip}", "--workflow", "nope"], 1, "not found", id="unknown-workflow"),
        pytest.param(
            ["{clip}", "--workflow", "{spec}", "--out", "{tmp}/out.mp4"],
            2,
            "no image output",
            id="out-without-image-output",
        ),
        pytest.param(
            ["{clip}", "--workflow", "{spec}", "--out", "{tmp}/out.gif"],
            2,
            "--out",
            id="out-not-a-video",
        ),
        pytest.param(
            ["{clip}", "--workflow", "{spec}", "--image-input", "frame"],
            1,
            "image_input_name",
            id="wrong-image-input",
        ),
        pytest.param(
            ["{text}", "--workflow", "{spec}"], 1, "cannot read video", id="not-a-video-file"
        ),
    ],
)
def test_errors(
    home: list[str],
    clip: Path,
    tmp_path: Path,
    arguments: list[str],
    code: int,
    message: str,
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    values = {"spec": _spec(tmp_path, TRACKING), "clip": str(clip), "tmp": str(tmp_path)}
    values["text"] = str(text)
    got, _stdout, stderr = invoke(*(a.format(**values) for a in arguments), *home)
    assert got == code, stderr
    assert message in stderr


def test_a_missing_model_stops_at_the_first_frame(clip: Path, tmp_path: Path) -> None:
    option = ["--home", str(tmp_path / "home")]
    assert CliRunner().invoke(app, ["workspaces", "create", "acme", *option]).exit_code == 0
    code, _stdout, stderr = invoke(
        str(clip), "--workflow", _spec(tmp_path, TRACKING), "--workspace", "acme", *option
    )
    assert code == 1
    assert "failed on the first frame" in stderr
    assert "shapes/1" in stderr


def test_a_stream_runs_until_interrupted(home: list[str], tmp_path: Path) -> None:
    jsonl = tmp_path / "stream.jsonl"

    def interrupt_after_five_frames() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if jsonl.exists() and len(jsonl.read_text().splitlines()) >= 5:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C; the command's handler is installed

    with mjpeg_camera(list(moving_square_frames(50)), fps=25) as camera:
        interrupter = threading.Thread(target=interrupt_after_five_frames, daemon=True)
        interrupter.start()
        code, _stdout, stderr = invoke(
            camera.url, "--workflow", _spec(tmp_path, TRACKING), "--jsonl", str(jsonl), *home
        )
        interrupter.join(5)
    assert code == 130, stderr
    frame_ids = [line["frame_id"] for line in _lines(jsonl.read_text())]
    assert len(frame_ids) >= 5
    assert frame_ids == sorted(set(frame_ids))  # EAGER may skip frames, never reorders them
    assert "frames" in stderr
