"""The playground at ``/`` and the API docs in headless Chromium (Debian's ``chromium``,
driven by Playwright; ``scripts/ensure-chromium.sh`` installs it), against a real server with
the demo models on loopback.

Screenshots go to ``test-artifacts/`` (git-ignored); ``docs/playground.png`` is a copy of
``playground-detect.png``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.support.server import RunningProcess, serve

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 30_000
WORKFLOW = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "shapes/1",
        },
        {
            "type": "roboflow_core/bounding_box_visualization@v1",
            "name": "viz",
            "image": "$inputs.image",
            "predictions": "$steps.det.predictions",
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "detections", "selector": "$steps.det.predictions"},
        {"type": "JsonField", "name": "annotated", "selector": "$steps.viz.image"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    home = tmp_path_factory.mktemp("playground-home")
    with serve(home, {"VISIONFLOW_REGISTER_DEMO_MODELS": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def demo_key(server: RunningProcess) -> str:
    return (server.home / "demo-api-key").read_text().strip()


@pytest.fixture(scope="module")
def shapes_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated shapes image (not the bundled sample)."""
    path = tmp_path_factory.mktemp("shapes") / "shapes.jpg"
    command = [sys.executable, str(ROOT / "scripts" / "shapes.py"), "preview", str(path)]
    subprocess.run([*command, "--count", "1", "--seed", "11"], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: RunningProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def _open(page: Any, server: RunningProcess, key: str) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("api-key").dispatch_event("change")


def _choose(page: Any, text: str) -> None:
    """Select the option whose label contains ``text`` (waits for the catalog to load)."""
    select = page.get_by_test_id("model-select")
    option = select.locator("option", has_text=text).first
    option.wait_for(state="attached")
    select.select_option(value=option.get_attribute("value"))


def _run(page: Any, image: Path, path: str) -> Any:
    """Give the page ``image``, press run, and return the server's answer on ``path``."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(path)
    ) as answer:
        page.get_by_test_id("image-input").set_input_files(str(image))
        page.wait_for_function("document.getElementById('status').textContent.endsWith('ready')")
        page.get_by_test_id("run-button").click()
    return answer.value


def test_demo_detector_draws_every_prediction(
    page: Any, server: RunningProcess, demo_key: str, shapes_image: Path
) -> None:
    _open(page, server, demo_key)
    _choose(page, "shapes/1")
    response = _run(page, shapes_image, "/infer/object_detection")
    body = response.json()
    count = page.get_by_test_id("prediction-count")
    count.wait_for()
    assert body["predictions"], "the demo detector found nothing on a shapes image"
    assert count.inner_text() == str(len(body["predictions"]))
    shown = json.loads(page.get_by_test_id("result-json").inner_text())
    assert shown == body
    assert page.get_by_test_id("error").count() == 0
    assert page.locator("#timings").inner_text().count("ms") >= 2
    _screenshot(page, "playground-detect.png", full_page=False)


def _drawn(body: dict[str, Any], task: str) -> int:
    """How many predictions the page should draw for ``body``."""
    predictions = body["predictions"]
    if task == "semantic-segmentation":
        return len(predictions["present_class_ids"])
    return len(predictions)


@pytest.mark.parametrize(
    ("model_id", "task", "route"),
    [
        pytest.param("shapes-seg/1", "instance-segmentation", "instance_segmentation", id="seg"),
        pytest.param("keypoints/1", "keypoint-detection", "keypoints_detection", id="pose"),
        pytest.param("shapes-cls/1", "classification", "classification", id="cls"),
        pytest.param("semantic/1", "semantic-segmentation", "semantic_segmentation", id="sem"),
    ],
)
def test_every_demo_task_is_drawn(
    page: Any,
    server: RunningProcess,
    demo_key: str,
    shapes_image: Path,
    model_id: str,
    task: str,
    route: str,
) -> None:
    _open(page, server, demo_key)
    _choose(page, f"{model_id} — {task}")
    body = _run(page, shapes_image, f"/infer/{route}").json()
    page.get_by_test_id("prediction-count").wait_for()
    assert page.get_by_test_id("prediction-count").inner_text() == str(_drawn(body, task))
    assert _drawn(body, task) > 0
    if task == "classification":
        assert page.locator("#classes .bar").count() == _drawn(body, task)
    _screenshot(page, f"playground-{route}.png", full_page=False)


def test_stored_workflow_runs_with_outputs_and_trace(
    page: Any, server: RunningProcess, demo_key: str, shapes_image: Path
) -> None:
    pushed = httpx.post(
        f"{server.url}/demo/workflows/shapes-boxes/versions",
        json=WORKFLOW,
        headers={"Authorization": f"Bearer {demo_key}"},
        timeout=30,
    )
    assert pushed.status_code == 201, pushed.text
    _open(page, server, demo_key)
    _choose(page, "demo/shapes-boxes")
    response = _run(page, shapes_image, "/demo/workflows/shapes-boxes")
    body = response.json()
    page.get_by_test_id("prediction-count").wait_for()
    [output] = body["outputs"]
    assert page.get_by_test_id("prediction-count").inner_text() == str(
        len(output["detections"]["predictions"])
    )
    assert page.locator("#outputs img").count() == 1
    assert body["profiler_trace"], "profiling was asked for"
    assert page.locator("#timeline .row").count() > 0
    _screenshot(page, "playground-workflow.png")


def test_server_errors_show_their_message(
    page: Any, server: RunningProcess, shapes_image: Path, demo_key: str
) -> None:
    _open(page, server, demo_key)
    _choose(page, "shapes/1")
    page.get_by_test_id("api-key").fill("vf_not-a-key")
    page.get_by_test_id("api-key").dispatch_event("change")
    page.get_by_test_id("error").wait_for()
    message = page.get_by_test_id("error").inner_text()
    answer = httpx.get(
        f"{server.url}/models", headers={"Authorization": "Bearer vf_not-a-key"}, timeout=10
    )
    assert answer.status_code == 401
    assert message == answer.json()["message"]
    assert "Traceback" not in message
    assert page.get_by_test_id("prediction-count").count() == 0
    _screenshot(page, "playground-error.png")


@pytest.mark.parametrize(
    ("path", "selector"),
    [
        pytest.param("/docs", ".swagger-ui .opblock", id="swagger-ui"),
        pytest.param("/redoc", "[data-section-id]", id="redoc"),
    ],
)
def test_api_docs_render_offline(
    page: Any, server: RunningProcess, path: str, selector: str
) -> None:
    outside: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(server.url)
            else (outside.append(route.request.url), route.abort())
        ),
    )
    page.goto(server.url + path)
    page.locator(selector).first.wait_for()
    assert page.locator(selector).count() > 10
    assert outside == []
    _screenshot(page, f"docs-{path.strip('/')}.png")


def test_screenshot_in_docs_is_the_playground() -> None:
    committed = ROOT / "docs" / "playground.png"
    assert committed.is_file(), "docs/playground.png (the README's screenshot) is missing"
    assert committed.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
