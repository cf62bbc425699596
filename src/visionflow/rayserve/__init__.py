"""visionflow on Ray Serve: the ``visionflow`` application (deployments ``ingress`` and
``models``), the Ray side of the model-execution seam, and a bounded local cluster.

Needs the ``ray`` extra (``pip install -e '.[ray]'``; ``make serve-ray`` installs it).
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("ray") is None:  # pragma: no cover - depends on the install
    raise ImportError(
        "Ray Serve mode needs the 'ray' extra: pip install -e '.[ray]' (make serve-ray installs it)"
    )

from visionflow.rayserve._app import (
    APP_NAME,
    INGRESS_DEPLOYMENT,
    MODELS_DEPLOYMENT,
    RayExecutor,
    build_application,
    deployment_info,
)
from visionflow.rayserve._cluster import (
    RaySetupError,
    check_settings,
    deployed,
    serve_until_signalled,
)

__all__ = [
    "APP_NAME",
    "INGRESS_DEPLOYMENT",
    "MODELS_DEPLOYMENT",
    "RayExecutor",
    "RaySetupError",
    "build_application",
    "check_settings",
    "deployed",
    "deployment_info",
    "serve_until_signalled",
]
