"""An HTTP MJPEG camera on 127.0.0.1 (``multipart/x-mixed-replace``, as IP cameras serve it) that
a test can stop (every connection cut, the port closed) and start again on the same port, to
test that a pipeline reconnects."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["MjpegCamera", "mjpeg_camera"]

_BOUNDARY = "visionflowframe"


class MjpegCamera:
    """Serves ``frames_bgr`` (each ``(H, W, 3) uint8``) in a loop at ``fps`` on
    ``/stream.mjpg``; every client gets the next frames of one shared sequence."""

    def __init__(self, frames_bgr: Sequence[npt.NDArray[np.uint8]], *, fps: float = 25.0) -> None:
        self._jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames_bgr]
        self._fps = fps
        self._lock = threading.Lock()
        self.connections = 0
        self.frames_sent = 0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping = threading.Event()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler(self._stopping))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cut every connection and close the port (the camera goes away)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        time.sleep(2 / self._fps)  # the streaming handlers see the flag and return

    def _handler(self, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with camera._lock:
                    camera.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    while not stopping.is_set():
                        with camera._lock:
                            jpeg = camera._jpegs[camera.frames_sent % len(camera._jpegs)]
                            camera.frames_sent += 1
                        self.wfile.write(
                            f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        self.wfile.flush()
                        time.sleep(1 / camera._fps)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.close_connection = True

        return Handler


@contextmanager
def mjpeg_camera(
    frames_bgr: Sequence[npt.NDArray[np.uint8]], *, fps: float = 25.0
) -> Iterator[MjpegCamera]:
    """A started camera, stopped afterwards."""
    camera = MjpegCamera(frames_bgr, fps=fps)
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()
