"""Small test videos written with OpenCV's ``VideoWriter``: shapes the demo detector
(``shapes-det.onnx``: circle, square, triangle) sees, moving a few pixels per frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["moving_square_frames", "write_video"]


def moving_square_frames(
    count: int,
    size_wh: tuple[int, int] = (320, 240),
    *,
    side_px: int = 70,
    step_px: int = 4,
    start_xy: tuple[int, int] = (20, 80),
) -> Iterator[npt.NDArray[np.uint8]]:
    """``count`` BGR frames ``(H, W, 3) uint8``: one blue square of ``side_px`` on a light grey
    background, moving right by ``step_px`` a frame (bouncing off the edges)."""
    width, height = size_wh
    x, y = start_xy
    direction = 1
    for _ in range(count):
        frame = np.full((height, width, 3), 215, np.uint8)
        cv2.rectangle(frame, (x, y), (x + side_px, y + side_px), (200, 60, 30), -1)
        yield frame
        if not 0 <= x + direction * step_px <= width - side_px:
            direction = -direction
        x += direction * step_px


def write_video(
    path: Path, frames: Iterator[npt.NDArray[np.uint8]], fps: float = 25.0, codec: str = "mp4v"
) -> Path:
    """Write ``frames`` (all of one size) to ``path`` (``mp4v`` in ``.mp4``, ``MJPG`` in
    ``.avi``)."""
    writer: cv2.VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(
                    str(path), cv2.VideoWriter.fourcc(*codec), fps, (width, height)
                )
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {codec} video to {path}")
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path
