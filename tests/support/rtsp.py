"""An RTSP camera on 127.0.0.1 (``rtsp://127.0.0.1:PORT/stream``): frames encoded once to H.264
with PyAV's libx264 and pushed in a loop at ``fps`` by the ``rtsp-rs`` server (PyPI ``rtsp-rs``,
a test dependency), which serves several clients at once; a test can stop it and start it
again on the same port."""

from __future__ import annotations

import fractions
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import rtsp

__all__ = ["RtspCamera", "rtsp_camera"]

_CLOCK_HZ = 90_000  # the RTP clock of H.264


def _h264_access_units(frames_bgr: Sequence[npt.NDArray[np.uint8]], fps: float) -> list[bytes]:
    """One Annex B access unit per frame; SPS/PPS repeated on every keyframe (one a second)
    so that a client joining mid-stream can start decoding."""
    height, width = frames_bgr[0].shape[:2]
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = fractions.Fraction(1, round(fps))
    encoder.framerate = fractions.Fraction(round(fps), 1)
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "g": str(round(fps)),
        "bf": "0",
        "repeat-headers": "1",
    }
    encoder.open()
    units: list[bytes] = []
    for index, frame in enumerate(frames_bgr):
        picture = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")
        picture.pts = index
        units.extend(bytes(packet) for packet in encoder.encode(picture))
    units.extend(bytes(packet) for packet in encoder.encode(None))
    return units


class RtspCamera:
    def __init__(self, frames_bgr: Sequence[npt.NDArray[np.uint8]], *, fps: float = 25.0) -> None:
        self._units = _h264_access_units(frames_bgr, fps)
        self._fps = fps
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"rtsp://127.0.0.1:{self.port}/stream"
        self.frames_sent = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._server = rtsp.Server(f"127.0.0.1:{self.port}")
        self._server.start()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._pump, args=(self._server, self._stopping), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and close the server (the camera goes away)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _pump(self, server: Any, stopping: threading.Event) -> None:
        step = round(_CLOCK_HZ / self._fps)
        while not stopping.wait(1 / self._fps):
            server.send_frame(self._units[self.frames_sent % len(self._units)], step)
            self.frames_sent += 1


@contextmanager
def rtsp_camera(
    frames_bgr: Sequence[npt.NDArray[np.uint8]], *, fps: float = 25.0
) -> Iterator[RtspCamera]:
    """A started camera, stopped afterwards."""
    camera = RtspCamera(frames_bgr, fps=fps)
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()
