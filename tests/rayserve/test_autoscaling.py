"""Request-based autoscaling of the model tier on a real local Ray cluster: with
``VISIONFLOW_RAY_MIN_REPLICAS=0`` the ``models`` deployment scales to zero when idle and back up
for the next request, which then answers (a cold start) instead of failing.

Slow (a scale-down delay and a replica start): ``make test-ray`` runs it.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import pytest

from tests.rayserve.cluster import Cluster, fresh_database, running_cluster
from visionflow.service.demo import DEMO_MODELS, demo_model_path

pytest.importorskip("ray", reason="the 'ray' extra is not installed (pip install -e '.[ray]')")

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(
        os.environ.get("VISIONFLOW_TEST_RAY_FULL") != "1",
        reason="slow (scale to zero and back): make test-ray runs it",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import shapes  # noqa: E402

SCALE_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with (
        fresh_database() as url,
        running_cluster(
            tmp_path_factory.mktemp("ray-autoscale"),
            url,
            VISIONFLOW_RAY_REPLICAS="",
            VISIONFLOW_RAY_INGRESS_REPLICAS="1",
            VISIONFLOW_RAY_MIN_REPLICAS="0",
            VISIONFLOW_RAY_MAX_REPLICAS="2",
            VISIONFLOW_RAY_DOWNSCALE_DELAY_S="2",
        ) as running,
    ):
        yield running


def _deployment(cluster: Cluster) -> dict[str, int]:
    body: dict[str, dict[str, int]] = httpx.get(f"{cluster.url}/info", timeout=10).json()
    return body["deployment"]


def _wait_for(cluster: Cluster, replicas: int) -> float:
    started = time.monotonic()
    while _deployment(cluster)["healthy_replicas"] != replicas:
        assert time.monotonic() - started < SCALE_TIMEOUT_S, _deployment(cluster)
        time.sleep(0.5)
    return time.monotonic() - started


def test_the_model_tier_scales_to_zero_and_back_for_a_request(cluster: Cluster) -> None:
    assert cluster.cli("workspaces", "create", "acme").returncode == 0
    created = cluster.cli("keys", "create", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    added = cluster.cli(
        "models",
        "add",
        "det/1",
        str(demo_model_path(DEMO_MODELS["shapes/1"])),
        "--workspace",
        "acme",
    )
    assert added.returncode == 0, added.stderr
    idle_s = _wait_for(cluster, 0)
    sample = next(iter(shapes.generate(seed=3, count=1, size_wh=(320, 320))))
    ok, jpeg = cv2.imencode(".jpg", sample.image_bgr)
    assert ok
    body = {
        "model_id": "det/1",
        "api_key": key,
        "image": {"type": "base64", "value": base64.b64encode(jpeg.tobytes()).decode()},
    }
    started = time.monotonic()
    answer = httpx.post(f"{cluster.url}/infer/object_detection", json=body, timeout=120)
    from_zero_s = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Model-Cold-Start"] == "true"
    assert answer.json()["predictions"]
    assert _deployment(cluster)["healthy_replicas"] >= 1
    print(  # the figures docs/deploy.md quotes (pytest -s)
        f"autoscaling: idle to zero replicas in {idle_s:.1f} s; first request from zero "
        f"answered in {from_zero_s:.1f} s"
    )
