"""Driving the official inference-sdk (its own virtualenv) against a server in a subprocess, for
the tests in tests/compat."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from visionflow.config import Settings
from visionflow.service.services import Services


def register_model(home: Path, model_id: str, path: Path, workspace: str = "acme") -> None:
    """Register ``path`` as ``model_id`` in the server home ``home``: a running server reads the
    registry on every request, so it serves the model from its next one."""
    services = Services.build(Settings(home=home))
    try:
        services.models.add_from_path(workspace, model_id, path)
    finally:
        services.close()


def run_sdk(sdk_python: Path, driver: str, *args: str | Path, timeout: float = 240) -> Any:
    """Run ``driver`` (Python source; it reads ``sys.argv[1:]``) with the SDK's interpreter and
    return the JSON document it prints."""
    result = subprocess.run(
        [str(sdk_python), "-c", driver, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)
