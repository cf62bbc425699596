"""One video source: a decoding thread (OpenCV ``VideoCapture``, FFmpeg backend) that fills a
bounded frame buffer, with the reference's buffer strategies, ``max_fps`` and reconnection.

- A file is read once, frame by frame; its end ends the source (``ENDED``).
- A stream (RTSP, HTTP MJPEG...) that cannot be opened or stops delivering frames is reopened
  after a pause that starts at 0.5 s and doubles up to ``reconnect_max_s`` (reset by a frame);
  frame ids go on counting across reconnections.
- ``max_fps``: frames of a file are sub-sampled by their position (``frame_id / fps``), frames of
  a stream by arrival time; the others are never buffered (not counted as dropped).
- Filling strategies when the buffer is full: ``WAIT`` blocks decoding (a file loses no frame),
  ``DROP_OLDEST`` drops the oldest buffered frame, ``DROP_LATEST`` the new one (the ``ADAPTIVE_``
  variants behave as their plain ones). Consumption: ``LAZY`` takes the oldest frame, ``EAGER``
  the newest and drops the older ones.
- Muted (the pipeline is paused): a stream keeps reading and discards frames (it stays live),
  a file stops reading until resumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "BufferConsumption",
    "BufferFilling",
    "Capture",
    "Frame",
    "FrameMetadata",
    "SourceState",
    "StatusUpdate",
    "VideoSource",
]

log = logging.getLogger("visionflow.streams")

_FIRST_BACKOFF_S = 0.5


class BufferFilling(StrEnum):
    WAIT = "WAIT"
    DROP_OLDEST = "DROP_OLDEST"
    ADAPTIVE_DROP_OLDEST = "ADAPTIVE_DROP_OLDEST"
    DROP_LATEST = "DROP_LATEST"
    ADAPTIVE_DROP_LATEST = "ADAPTIVE_DROP_LATEST"


class BufferConsumption(StrEnum):
    LAZY = "LAZY"
    EAGER = "EAGER"


class SourceState(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    INITIALISING = "INITIALISING"
    RESTARTING = "RESTARTING"
    RUNNING = "RUNNING"
    MUTED = "MUTED"
    TERMINATING = "TERMINATING"
    ENDED = "ENDED"
    ERROR = "ERROR"


@dataclass(frozen=True)
class FrameMetadata:
    """What a buffered result keeps of its frame: not the pixels (a results buffer of 256 full
    HD frames would hold 1.6 GB)."""

    frame_id: int
    frame_timestamp: datetime
    source_id: int
    fps: float | None


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image_bgr`` ``(H, W, 3) uint8``; ``frame_id`` counts from 1."""

    image_bgr: npt.NDArray[np.uint8]
    frame_id: int
    frame_timestamp: datetime
    source_id: int
    fps: float | None
    measured_fps: float | None
    comes_from_video_file: bool
    total_frames: int | None

    def metadata(self) -> FrameMetadata:
        return FrameMetadata(self.frame_id, self.frame_timestamp, self.source_id, self.fps)


@dataclass(frozen=True)
class StatusUpdate:
    """A source or pipeline event, as the reference's ``StatusUpdate`` (severity: logging
    levels)."""

    timestamp: datetime
    severity: int
    event_type: str
    payload: dict[str, Any]
    context: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.isoformat(),
            "severity": self.severity,
            "event_type": self.event_type,
            "payload": self.payload,
            "context": self.context,
        }


class Capture(Protocol):
    """What a source needs of ``cv2.VideoCapture``."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def read(self) -> tuple[bool, Any]: ...

    def grab(self) -> bool: ...

    def get(self, prop: int) -> float: ...

    def set(self, prop: int, value: float) -> bool: ...

    def release(self) -> None: ...


def open_capture(target: str, timeout_s: float | None = None) -> Capture:
    """``target`` opened by OpenCV's FFmpeg backend; with ``timeout_s``, opening and each read
    give up after that long without data (a stalled stream then reads as lost)."""
    if timeout_s is None:
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG)
    milliseconds = max(1, round(timeout_s * 1000))
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        milliseconds,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        milliseconds,
    ]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def _property_id(name: str) -> int | None:
    value = getattr(cv2, f"CAP_PROP_{name.upper()}", None)
    return value if isinstance(value, int) else None


class VideoSource:
    """A source with its decoding thread; ``take`` hands frames to the pipeline."""

    def __init__(
        self,
        *,
        source_id: int,
        reference: str,
        target: str,
        is_file: bool,
        buffer_size: int,
        filling: BufferFilling,
        consumption: BufferConsumption,
        max_fps: float | None,
        properties: dict[str, float | str] | None,
        reconnect_max_s: float,
        on_update: Callable[[StatusUpdate], None],
        frames_ready: threading.Condition,
        opener: Callable[[str], Capture] = open_capture,
    ) -> None:
        self.source_id = source_id
        self.reference = reference
        self._target = target
        self.is_file = is_file
        self.buffer_size = buffer_size
        self.filling = filling
        self.consumption = consumption
        self._max_fps = max_fps
        self._properties = properties or {}
        self._reconnect_max_s = reconnect_max_s
        self._on_update = on_update
        self._ready = frames_ready
        self._opener = opener
        self._buffer: deque[Frame] = deque()
        self.state = SourceState.NOT_STARTED
        self._stop = threading.Event()
        self._unmuted = threading.Event()
        self._unmuted.set()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.decoded = 0
        self.reconnections = 0
        self.width = 0
        self.height = 0
        self.fps: float | None = None
        self.total_frames: int | None = None
        self.created_at: datetime | None = None
        self._arrivals: deque[float] = deque(maxlen=32)

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"visionflow-video-{self.source_id}", daemon=True
        )
        self._thread.start()

    def mute(self) -> None:
        if self.state in {SourceState.ENDED, SourceState.ERROR}:
            return
        self._unmuted.clear()
        self.state = SourceState.MUTED

    def resume(self) -> None:
        if self.state is SourceState.MUTED:
            self.state = SourceState.RUNNING
        self._unmuted.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.state not in {SourceState.ENDED, SourceState.ERROR}:
            self.state = SourceState.TERMINATING
        self._stop.set()
        self._unmuted.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def finished(self) -> bool:
        """Nothing more will come from this source (ended, failed or stopped) and its buffer is
        empty."""
        with self._ready:
            return self.state in {SourceState.ENDED, SourceState.ERROR} and not self._buffer

    def has_frame(self) -> bool:
        """Call with ``frames_ready`` held."""
        return bool(self._buffer)

    def take(self) -> Frame | None:
        """The next frame by the consumption strategy; call with ``frames_ready`` held."""
        if not self._buffer:
            return None
        if self.consumption is BufferConsumption.EAGER:
            frame = self._buffer.pop()
            self.dropped += len(self._buffer)
            self._buffer.clear()
        else:
            frame = self._buffer.popleft()
        self._ready.notify_all()  # room for a waiting decoder
        return frame

    def describe(self) -> dict[str, Any]:
        """The reference's ``SourceMetadata``."""
        properties = None
        if self.created_at is not None:
            properties = {
                "width": self.width,
                "height": self.height,
                "total_frames": self.total_frames or 0,
                "is_file": self.is_file,
                "fps": self.fps or 0.0,
                "is_reconnectable": not self.is_file,
                "timestamp_created": self.created_at.isoformat(),
            }
        return {
            "source_properties": properties,
            "source_reference": self.reference,
            "buffer_size": self.buffer_size,
            "state": self.state.value,
            "buffer_filling_strategy": self.filling.value,
            "buffer_consumption_strategy": self.consumption.value,
            "source_id": self.source_id,
        }

    # -- the decoding thread ----------------------------------------------------------------------
    def _update(self, severity: int, event_type: str, **payload: Any) -> None:
        self._on_update(
            StatusUpdate(
                datetime.now(tz=UTC),
                severity,
                event_type,
                {"source_id": self.source_id, "source_reference": self.reference, **payload},
                "video_source",
            )
        )

    def _open(self) -> Capture | None:
        capture = self._opener(self._target)
        if not capture.isOpened():
            capture.release()
            return None
        for name, value in self._properties.items():
            prop = _property_id(name)
            if prop is None:
                continue
            if name.lower() == "fourcc" and isinstance(value, str):
                value = float(cv2.VideoWriter.fourcc(*value[:4]))
            capture.set(prop, float(value))
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 and np.isfinite(fps) else None
        total = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.total_frames = int(total) if self.is_file and total and total > 0 else None
        self.created_at = datetime.now(tz=UTC)
        return capture

    def _run(self) -> None:
        self.state = SourceState.INITIALISING
        frame_id = 0
        backoff_s = _FIRST_BACKOFF_S
        last_kept_s: float | None = None
        capture: Capture | None = None
        try:
            while not self._stop.is_set():
                if capture is None:
                    capture = self._open()
                    if capture is None:
                        if self.is_file:
                            self._update(logging.ERROR, "SOURCE_CONNECTION_ATTEMPT_FAILED")
                            self.state = SourceState.ERROR
                            return
                        self.state = SourceState.RESTARTING
                        self._update(
                            logging.WARNING,
                            "SOURCE_CONNECTION_ATTEMPT_FAILED",
                            retry_in_s=backoff_s,
                        )
                        self._stop.wait(backoff_s)
                        backoff_s = min(backoff_s * 2, self._reconnect_max_s)
                        continue
                    if self.state is not SourceState.MUTED:
                        self.state = SourceState.RUNNING
                    self._update(logging.INFO, "VIDEO_CONSUMPTION_STARTED")
                if not self._unmuted.is_set():
                    if self.is_file:
                        self._unmuted.wait(0.1)
                    elif not capture.grab():
                        self._lost(capture, backoff_s)
                        capture = None
                    continue
                ok, image = capture.read()
                if not ok or image is None:
                    if self.is_file:
                        self._update(logging.INFO, "VIDEO_CONSUMPTION_FINISHED", frames=frame_id)
                        self.state = SourceState.ENDED
                        return
                    self._lost(capture, backoff_s)
                    capture = None
                    backoff_s = min(backoff_s * 2, self._reconnect_max_s)
                    continue
                backoff_s = _FIRST_BACKOFF_S
                frame_id += 1
                self.decoded += 1
                now = time.monotonic()
                self._arrivals.append(now)
                if self._max_fps:
                    position_s = frame_id / self.fps if self.is_file and self.fps else now
                    # (less a nanosecond: 6/25 - 1/25 is a hair under 1/5 in floating point)
                    interval_s = 1 / self._max_fps - 1e-9
                    if last_kept_s is not None and position_s - last_kept_s < interval_s:
                        continue
                    last_kept_s = position_s
                self._push(self._frame(image, frame_id))
        except Exception as exc:  # an OpenCV failure must not kill the server's thread silently
            log.exception("video source %s failed", self.source_id)
            self._update(logging.ERROR, "SOURCE_ERROR", error=str(exc))
            self.state = SourceState.ERROR
        finally:
            if capture is not None:
                capture.release()
            if self.state in {SourceState.TERMINATING, SourceState.RUNNING, SourceState.MUTED}:
                self.state = SourceState.ENDED
            with self._ready:
                self._ready.notify_all()

    def _lost(self, capture: Capture, backoff_s: float) -> None:
        capture.release()
        self.reconnections += 1
        self.state = SourceState.RESTARTING
        self._update(logging.WARNING, "SOURCE_CONNECTION_LOST", retry_in_s=backoff_s)
        self._stop.wait(backoff_s)
        return

    def _measured_fps(self) -> float | None:
        if len(self._arrivals) < 2:
            return None
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else None

    def _frame(self, image: Any, frame_id: int) -> Frame:
        return Frame(
            image_bgr=np.ascontiguousarray(image, dtype=np.uint8),
            frame_id=frame_id,
            frame_timestamp=datetime.now(tz=UTC),
            source_id=self.source_id,
            fps=self.fps,
            measured_fps=self._measured_fps(),
            comes_from_video_file=self.is_file,
            total_frames=self.total_frames,
        )

    def _push(self, frame: Frame) -> None:
        with self._ready:
            if len(self._buffer) >= self.buffer_size:
                if self.filling is BufferFilling.WAIT:
                    while len(self._buffer) >= self.buffer_size and not self._stop.is_set():
                        self._ready.wait(0.1)
                    if self._stop.is_set():
                        return
                elif self.filling in {
                    BufferFilling.DROP_LATEST,
                    BufferFilling.ADAPTIVE_DROP_LATEST,
                }:
                    self.dropped += 1
                    return
                else:
                    self._buffer.popleft()
                    self.dropped += 1
            self._buffer.append(frame)
            self._ready.notify_all()
