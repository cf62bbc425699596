"""Start a Ray cluster bounded to this machine (or join one), deploy, stop cleanly."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import ray
from ray import serve

from visionflow.config import Settings
from visionflow.rayserve._app import (
    APP_NAME,
    METRICS_HUB,
    RAY_NAMESPACE,
    build_application,
    deployment_info,
)

__all__ = ["RaySetupError", "check_settings", "deployed", "serve_until_signalled"]


class RaySetupError(ValueError):
    """Settings Ray mode cannot run with; the message says what to set."""


def check_settings(settings: Settings) -> None:
    """Replicas share state only through the store: SQLite (one file, one process) is refused."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        raise RaySetupError(
            "Ray mode needs a PostgreSQL registry that every replica shares: set "
            "VISIONFLOW_DATABASE_URL=postgresql+psycopg://user@host/db (SQLite is one file "
            "for one process)"
        )


@contextmanager
def deployed(settings: Settings, *, ready_timeout_s: float = 180.0) -> Iterator[None]:
    """Ray up (a local head on loopback with ``ray_num_cpus`` CPUs, or ``ray_address``), the
    ``visionflow`` application serving HTTP on ``settings.host:port``; everything down after."""
    check_settings(settings)
    started_ray = not ray.is_initialized()
    if started_ray:
        if settings.ray_address:
            ray.init(address=settings.ray_address, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=settings.ray_num_cpus,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                logging_level=logging.WARNING,
            )
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        serve.run(build_application(settings), name=APP_NAME, route_prefix="/")
        _wait_healthy(settings, ready_timeout_s)
        yield
    finally:
        try:
            serve.shutdown()  # type: ignore[no-untyped-call]
            _kill_metrics_hub()
        finally:
            if started_ray:
                ray.shutdown()


def _kill_metrics_hub() -> None:
    """The hub is detached (it outlives the replica that made it): gone with the app."""
    with contextlib.suppress(ValueError):  # never created
        ray.kill(ray.get_actor(METRICS_HUB, namespace=RAY_NAMESPACE))


def _wait_healthy(settings: Settings, timeout_s: float) -> None:
    want = settings.ray_replicas or max(1, settings.ray_min_replicas)
    deadline = time.monotonic() + timeout_s
    while True:
        info = deployment_info()
        if info.healthy_replicas >= want:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the model tier has {info.healthy_replicas} of {want} replicas running after "
                f"{timeout_s:g} s"
            )
        time.sleep(0.2)


def serve_until_signalled(settings: Settings, on_ready: Callable[[], None]) -> None:
    """Deploy and block until SIGTERM or SIGINT, then stop Serve and the cluster."""
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    with deployed(settings):
        # After ray.init, which installs a SIGTERM handler of its own in the driver.
        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            on_ready()
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
