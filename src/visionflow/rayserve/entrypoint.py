"""``import_path`` of a Serve config (KubeRay ``RayService``, ``serve run``): the ``visionflow``
application built from the environment's settings.

``serve run visionflow.rayserve.entrypoint:app`` or ``import_path:
visionflow.rayserve.entrypoint:app`` in ``serveConfigV2`` (deploy/ray-service.yaml). Migrations
and demo models are not run here: run ``visionflow serve-ray`` once, or the CLI, against the
same database first.
"""

from __future__ import annotations

from visionflow.config import Settings
from visionflow.rayserve._app import build_application
from visionflow.rayserve._cluster import check_settings

__all__ = ["app"]

_settings = Settings.from_env()
check_settings(_settings)
app = build_application(_settings)
