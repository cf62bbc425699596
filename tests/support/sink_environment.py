"""The service's real sink environment for block tests: the URL guard of ``Settings`` (loopback
allowed unless ``loopback=False``), the shared background pool and the outbound settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visionflow.config import Settings
from visionflow.service.outbound import OutboundSettings
from visionflow.service.sinks import SinkEnvironment, SinkPool
from visionflow.service.urls import UrlFetcher

__all__ = ["environment", "wait_for"]

_POOL = SinkPool(workers=2)


def environment(
    *,
    loopback: bool = True,
    disabled: bool = False,
    file_root: Path | None = None,
    **outbound: Any,
) -> SinkEnvironment:
    settings = Settings(url_allow_networks=("127.0.0.1/32",) if loopback else ())
    return SinkEnvironment(
        UrlFetcher(settings),
        _POOL,
        disabled=disabled,
        file_root=file_root,
        outbound=OutboundSettings(**{"timeout_s": 10.0, **outbound}),
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``condition`` (a background delivery) for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
