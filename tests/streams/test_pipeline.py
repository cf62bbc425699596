"""A pipeline's results buffer keeps each frame's metadata, not its pixels: the buffer of a video
nobody consumes stays small (measured with ``tracemalloc``, which sees numpy's buffers)."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.videos import moving_square_frames, write_video
from visionflow.streams import (
    BufferConsumption,
    BufferFilling,
    Frame,
    Pipeline,
    PipelineState,
    SourceSpec,
    VideoOptions,
)

FRAMES = 60
FRAME_BYTES = 640 * 480 * 3


def _count(frames: Sequence[Frame]) -> list[dict[str, Any]]:
    return [{"frame_id": f.frame_id, "mean": float(f.image_bgr.mean())} for f in frames]


def test_buffered_results_do_not_keep_the_frames(tmp_path: Path) -> None:
    video = write_video(tmp_path / "big.mp4", moving_square_frames(FRAMES, (640, 480)))
    pipeline = Pipeline(
        "p",
        None,
        [SourceSpec("big.mp4", str(video), is_file=True)],
        _count,
        options=VideoOptions(filling=BufferFilling.WAIT, consumption=BufferConsumption.LAZY),
        results_buffer_size=FRAMES,
    )
    gc.collect()
    tracemalloc.start()
    try:
        before, _peak = tracemalloc.get_traced_memory()
        pipeline.start()
        deadline = time.monotonic() + 30
        while pipeline.state is not PipelineState.ENDED:
            assert time.monotonic() < deadline, "the pipeline did not end"
            time.sleep(0.02)
        gc.collect()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pipeline.terminate()
    assert pipeline.buffered == FRAMES
    # Every frame buffered with its pixels would be FRAMES * 0.9 MB = 55 MB.
    assert held - before < 5 * FRAME_BYTES
    result = pipeline.consume()
    assert result is not None
    [frame] = result.frames
    assert frame is not None
    assert (frame.frame_id, frame.source_id, frame.fps) == (1, 0, 25.0)
    assert result.outputs[0] is not None
    assert result.outputs[0]["frame_id"] == 1
