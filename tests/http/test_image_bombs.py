"""Decompression bombs against a real server subprocess: small files that declare images of
hundreds of millions of pixels (each would cost the decoder 2 to 2.8 GB), and requests whose
images fit the per-image limit but not the per-request budget together. Each is answered 413
quickly, naming the setting, and the server's peak memory (``VmHWM``, reset before each request)
stays bounded; a request within the budget shows what decoding would have cost."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import jpeg_bytes
from tests.support.image_files import gif_bomb, hdr_bomb, tiff_bomb, webp_bomb, zero_png
from tests.support.server import RunningProcess, serve

# Generous bounds (a slow, busy CI machine): a bomb decoded costs 2 GB and more.
ANSWER_BOUND_S = 10.0
GROWTH_BOUND_MB = 300
MODEL = "shapes/1"
DETECT = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": MODEL,
        }
    ],
    "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.det.predictions"}],
}


def b64(data: bytes) -> dict[str, str]:
    return {"type": "base64", "value": base64.b64encode(data).decode()}


def reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` to the current RSS (``/proc/PID/clear_refs``, "5")."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    home = tmp_path_factory.mktemp("bombs") / "home"
    with serve(home, {"VISIONFLOW_REGISTER_DEMO_MODELS": "1"}) as running:
        # Load the model and touch every route once, so what is measured is the request.
        small = b64(jpeg_bytes(64, 48))
        warm = [
            ("/infer/object_detection", {"model_id": MODEL, "image": [small, small]}),
            ("/workflows/run", {"specification": DETECT, "inputs": {"image": [small, small]}}),
        ]
        for path, body in warm:
            response = httpx.post(f"{running.url}{path}", json=body, timeout=60)
            assert response.status_code == 200, response.text
        response = httpx.post(
            f"{running.url}/{MODEL}", content=jpeg_bytes(), headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 200, response.text
        yield running


def legacy(data: bytes) -> tuple[str, dict[str, Any]]:
    return f"/{MODEL}", {"content": data, "headers": {"Content-Type": "image/vnd.radiance"}}


def detect(*images: bytes) -> tuple[str, dict[str, Any]]:
    return "/infer/object_detection", {
        "json": {"model_id": MODEL, "image": [b64(i) for i in images]}
    }


def workflow(*images: bytes) -> tuple[str, dict[str, Any]]:
    inputs = {"image": [b64(image) for image in images]}
    return "/workflows/run", {"json": {"specification": DETECT, "inputs": inputs}}


PER_IMAGE = "VISIONFLOW_MAX_IMAGE_PIXELS"
PER_REQUEST = "VISIONFLOW_MAX_REQUEST_PIXELS"
PNG_8000 = zero_png(8000, 8000)  # 64 MP: at the per-image limit, 65 kB

BOMBS = [
    pytest.param(lambda: legacy(hdr_bomb(12_000, 12_000)), PER_IMAGE, id="hdr-12000-legacy"),
    pytest.param(lambda: detect(hdr_bomb(12_000, 12_000)), PER_IMAGE, id="hdr-12000"),
    pytest.param(lambda: detect(zero_png(20_000, 20_000)), PER_IMAGE, id="png-20000"),
    pytest.param(lambda: detect(tiff_bomb(20_000, 20_000)), PER_IMAGE, id="tiff-20000"),
    pytest.param(lambda: detect(webp_bomb(16_383, 16_383)), PER_IMAGE, id="webp-16383"),
    pytest.param(lambda: detect(gif_bomb(20_000, 20_000)), PER_IMAGE, id="gif-20000"),
    pytest.param(lambda: detect(*[PNG_8000] * 6), PER_REQUEST, id="six-png-8000"),
    pytest.param(lambda: workflow(hdr_bomb(12_000, 12_000)), PER_IMAGE, id="workflow-hdr-12000"),
    pytest.param(lambda: workflow(*[PNG_8000] * 6), PER_REQUEST, id="workflow-six-png-8000"),
    pytest.param(
        lambda: workflow(jpeg_bytes(), webp_bomb(16_383, 16_383)),
        PER_IMAGE,
        id="workflow-webp-after-a-jpeg",
    ),
]


def measured(
    server: RunningProcess, name: str, path: str, request: dict[str, Any]
) -> tuple[httpx.Response, dict[str, Any]]:
    """The answer to one request, and its figures: status, seconds to answer, and the server's
    peak RSS before and after (MB; reset to the current RSS first), printed for the record."""
    reset_peak(server.pid)
    before = server.memory_kb()
    started = time.monotonic()
    response = httpx.post(f"{server.url}{path}", timeout=60, **request)
    seconds = time.monotonic() - started
    after = server.memory_kb()
    growth_mb = (after["VmHWM"] - before["VmHWM"]) / 1024
    figures = {
        "status": response.status_code,
        "seconds": round(seconds, 2),
        "hwm_before_mb": round(before["VmHWM"] / 1024),
        "hwm_after_mb": round(after["VmHWM"] / 1024),
        "growth_mb": round(growth_mb),
    }
    print(f"\n{name} {path}: {figures}")  # for docs/reliability.md (pytest -s)
    return response, figures


@pytest.mark.parametrize(("make", "setting"), BOMBS)
def test_a_bomb_is_a_quick_413_and_memory_stays_bounded(
    server: RunningProcess,
    make: Callable[[], tuple[str, dict[str, Any]]],
    setting: str,
    request: pytest.FixtureRequest,
) -> None:
    path, body = make()

    response, figures = measured(server, request.node.callspec.id, path, body)

    assert response.status_code == 413, response.text
    assert setting in response.json()["message"]
    assert figures["seconds"] < ANSWER_BOUND_S
    assert figures["growth_mb"] < GROWTH_BOUND_MB, figures


def test_a_request_at_the_budget_is_decoded_which_the_measure_sees(
    server: RunningProcess,
) -> None:
    # Two 8000x8000 images are 128 MP, the whole request budget: decoded, 2 x 192 MB of BGR.
    path, body = detect(PNG_8000, PNG_8000)

    response, figures = measured(server, "two-png-8000-within-the-budget", path, body)

    assert response.status_code == 200, response.text
    assert figures["growth_mb"] > GROWTH_BOUND_MB, figures
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
