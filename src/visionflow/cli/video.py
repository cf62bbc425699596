"""``visionflow video FILE_OR_URL --workflow ID_OR_FILE``: a workflow over every frame of a video
file or stream, in this process, through the same pipeline engine as the server's
``/inference_pipelines`` (``visionflow.streams``): trackers and other stateful blocks keep their
state across frames. A progress bar shows frames and FPS; ``--out`` writes the workflow's image
output as a video, ``--jsonl`` one line per frame with the other outputs (the reference's
``inference workflows process-video``)."""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from visionflow.cli.common import (
    HomeOption,
    errors,
    fail,
    parse_params,
    read_definition,
    services,
    settings,
    usage,
)
from visionflow.errors import VisionflowError

if TYPE_CHECKING:
    import cv2

    from visionflow.streams import Pipeline, Result

__all__ = ["video"]

DEDUCTED_IMAGE = "<deducted_image>"  # the reference CLI's placeholder for an image in JSON
_POLL_S = 0.005
_VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


def _deduct_images(value: Any) -> Any:
    """``value`` with every workflow image replaced by ``DEDUCTED_IMAGE`` (they go to
    ``--out``, not into the JSON lines)."""
    from visionflow.workflows.lineage import WorkflowImage

    if isinstance(value, WorkflowImage):
        return DEDUCTED_IMAGE
    if isinstance(value, dict):
        return {k: _deduct_images(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deduct_images(v) for v in value]
    return value


class _VideoOut:
    """The chosen image output of each frame, written to ``path`` (opened on the first
    frame, at the source's frame rate)."""

    def __init__(self, path: Path, output_name: str | None) -> None:
        if path.suffix.lower() not in _VIDEO_CODECS:
            raise usage(f"--out {path}: give a {', '.join(sorted(_VIDEO_CODECS))} file")
        self.path = path
        self._wanted = output_name
        self.name: str | None = None
        self._writer: cv2.VideoWriter | None = None
        self._size = (0, 0)
        self.frames = 0

    def _pick(self, outputs: dict[str, Any]) -> str:
        from visionflow.workflows.lineage import WorkflowImage

        images = [k for k, v in outputs.items() if isinstance(v, WorkflowImage)]
        if self._wanted is not None:
            if self._wanted not in images:
                raise usage(
                    f"--image-output {self._wanted}: not an image output of the workflow "
                    f"(image outputs: {', '.join(images) or 'none'})"
                )
            return self._wanted
        if not images:
            raise usage(
                f"--out {self.path}: the workflow has no image output to write (outputs: "
                f"{', '.join(outputs) or 'none'}); add a visualization step and output it"
            )
        return images[0]

    def write(self, outputs: dict[str, Any], fps: float | None) -> None:
        import cv2

        if self.name is None:
            self.name = self._pick(outputs)
        image = outputs[self.name].pixels_bgr
        if self._writer is None:
            height, width = image.shape[:2]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter.fourcc(*_VIDEO_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, fps or 25.0, (width, height))
            if not self._writer.isOpened():
                raise usage(f"--out {self.path}: OpenCV cannot write this video file")
            self._size = (width, height)
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _line(result: Result) -> str:
    from visionflow.workflows.serialize import serialize_value

    [frame], [outputs] = result.frames, result.outputs
    assert frame is not None
    body = {
        "frame_id": frame.frame_id,
        "frame_timestamp": frame.frame_timestamp.isoformat(),
        "source_id": frame.source_id,
        "outputs": serialize_value(_deduct_images(outputs or {})),
    }
    return json.dumps(body) + "\n"


def _summary(pipeline: Pipeline, wall_s: float, video_out: _VideoOut | None) -> Table:
    report = pipeline.report()
    frames = int(report["frames_processed"])
    table = Table(title="video", show_header=True)
    table.add_column("", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_row("frames", str(frames))
    table.add_row("dropped", str(report["frames_dropped"]))
    table.add_row("inference errors", str(report["inference_errors"]))
    table.add_row("wall time", f"{wall_s:.2f} s")
    table.add_row("throughput", f"{frames / max(wall_s, 1e-9):.1f} frames/s")
    if video_out is not None:
        table.add_row("video frames written", str(video_out.frames))
    return table


def _failing_from_the_start(pipeline: Pipeline) -> str | None:
    """The workflow's error when it has failed on every frame so far (a missing model, a bad
    parameter...): a local run stops there rather than fail the whole video frame by frame."""
    if pipeline.watchdog.errors == 0 or pipeline.watchdog.frames_processed > 0:
        return None
    for event in reversed(pipeline.report()["video_source_status_updates"]):
        if event["event_type"] == "INFERENCE_ERROR":
            return f"the workflow failed on the first frame: {event['payload']['error_message']}"
    return None


def _expected_frames(pipeline: Pipeline, max_fps: float | None) -> int | None:
    source = pipeline.sources[0]
    if source.total_frames is None:
        return None
    if max_fps and source.fps and max_fps < source.fps:
        return math.ceil(source.total_frames * max_fps / source.fps)
    return source.total_frames


def video(
    source: Annotated[str, typer.Argument(help="Video file, or an RTSP / HTTP(S) stream URL.")],
    workflow: Annotated[
        str,
        typer.Option(
            "--workflow", "-w", help="Stored workflow id, or a JSON file with a definition."
        ),
    ],
    workspace: Annotated[str, typer.Option(help="Workspace of the workflow and models.")] = "demo",
    version: Annotated[
        int | None, typer.Option(min=1, help="Stored version (default: the latest).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE for a parameter input (JSON or text).")
    ] = None,
    image_input: Annotated[
        str, typer.Option(help="The workflow's image input that gets the frames.")
    ] = "image",
    max_fps: Annotated[
        float | None, typer.Option(min=0.001, help="Process at most this many frames a second.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the workflow's image output as a video (.mp4, .avi, ...)."),
    ] = None,
    image_output: Annotated[
        str | None,
        typer.Option(help="Which image output --out writes (default: the first one)."),
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(
            help="Write one JSON line per frame (frame_id, frame_timestamp, outputs; images as "
            f"{DEDUCTED_IMAGE!r}); '-' for standard output."
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Run a workflow over every frame of a video in-process: a progress bar (frames, FPS), the
    annotated video (--out), per-frame results (--jsonl) and a summary table on stderr. A stream
    runs until Ctrl-C."""
    import sys

    from visionflow.service.auth import Principal
    from visionflow.streams import (
        BufferConsumption,
        BufferFilling,
        PipelineManager,
        PipelineRequest,
        PipelineState,
        VideoOptions,
        WorkflowChoice,
    )

    is_stream = "://" in source
    file = None if is_stream else Path(source).expanduser().resolve()
    if file is not None and not file.is_file():
        raise usage(f"cannot read {source}: no such file")
    if workflow.endswith(".json") or Path(workflow).is_file():
        choice = WorkflowChoice(specification=read_definition(Path(workflow)))
    else:
        choice = WorkflowChoice(
            workspace=workspace,
            workflow_id=workflow,
            version=None if version is None else str(version),
        )
    params = parse_params(param or [])
    video_out = None if out is None else _VideoOut(out, image_output)
    # The operator's own machine: any file it can read, cameras on its own network.
    config = settings(
        home,
        video_folder=file.parent if file is not None else None,
        allow_private_urls=True,
        max_pipelines=1,
    )
    svc = services(config)
    manager = PipelineManager.for_services(svc)
    principal = Principal(workspace, tuple(dict.fromkeys((workspace, config.demo_workspace))))
    # A file loses no frame (decoding waits for the workflow); a stream keeps up with its
    # camera (the newest frame, older ones dropped).
    options = VideoOptions(
        filling=BufferFilling.DROP_OLDEST if is_stream else BufferFilling.WAIT,
        consumption=BufferConsumption.EAGER if is_stream else BufferConsumption.LAZY,
        max_fps=max_fps,
    )
    request = PipelineRequest(
        video_reference=[str(file) if file is not None else source],
        workflow=choice,
        options=options,
        image_input_name=image_input,
        workflows_parameters=params,
        results_buffer_size=config.max_pipeline_results,
    )
    lines: TextIO | None = None
    stopping = False

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGINT, interrupt)
    started = time.perf_counter()
    try:
        try:
            manager.initialise(principal, request)
        except VisionflowError as exc:
            raise fail(exc) from None
        [pipeline] = manager.running()
        if jsonl is not None:
            lines = (
                sys.stdout if str(jsonl) == "-" else jsonl.open("w", encoding="utf-8", buffering=1)
            )
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.1f} FPS"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=errors, transient=True) as progress:
            bar = progress.add_task(source, total=None, fps=0.0)
            while not stopping:
                result = pipeline.consume()
                if result is None:
                    if pipeline.state is PipelineState.ENDED and pipeline.buffered == 0:
                        break
                    failure = _failing_from_the_start(pipeline)
                    if failure is not None:
                        raise fail(VisionflowError(failure))
                    progress.update(
                        bar,
                        total=_expected_frames(pipeline, max_fps),
                        fps=pipeline.watchdog.fps(),
                    )
                    time.sleep(_POLL_S)
                    continue
                [outputs] = result.outputs
                [frame] = result.frames
                if video_out is not None and outputs is not None:
                    video_out.write(outputs, frame.fps if frame is not None else None)
                if lines is not None:
                    lines.write(_line(result))
                progress.update(
                    bar,
                    advance=1,
                    total=_expected_frames(pipeline, max_fps),
                    fps=pipeline.watchdog.fps(),
                )
        source_state = pipeline.sources[0].state.value
        summary = _summary(pipeline, time.perf_counter() - started, video_out)
    finally:
        signal.signal(signal.SIGINT, previous)
        manager.close()
        svc.close()
        if video_out is not None:
            video_out.close()
        if lines is not None and lines is not sys.stdout:
            lines.close()
    errors.print(summary)
    if video_out is not None and video_out.frames:
        errors.print(f"annotated video written to {video_out.path}")
    if source_state == "ERROR":
        errors.print(f"[red]error:[/red] cannot read video {source}", highlight=False)
        raise typer.Exit(code=1)
    if stopping:
        raise typer.Exit(code=130)
