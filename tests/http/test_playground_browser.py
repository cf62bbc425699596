"""The playground at ``/`` and the API docs in headless Chromium (Debian's ``chromium``,
driven by Playwright; ``scripts/ensure-chromium.sh`` installs it), against a real server with
the demo models on loopback.

Screenshots go to ``test-artifacts/`` (git-ignored); ``docs/playground.png`` is a copy of
``playground-detect.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium, open_playground, opened_page, screenshot
from tests.support.server import RunningProcess, serve
from visionflow.service.demo import demo_model_path

ROOT = Path(__file__).resolve().parents[2]
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
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, server: RunningProcess) -> Iterator[Any]:
    with opened_page(browser) as opened:
        yield opened


def _open(page: Any, server: RunningProcess, key: str) -> None:
    open_playground(page, server.url, key)


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
    screenshot(page, "playground-detect.png", full_page=False)


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
    screenshot(page, f"playground-{route}.png", full_page=False)


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
    screenshot(page, "playground-workflow.png")


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
    screenshot(page, "playground-error.png")


def _key(server: RunningProcess, role: str) -> str:
    """A new API key of the demo workspace with ``role``, made by the CLI as an operator would."""
    created = subprocess.run(
        [sys.executable, "-m", "visionflow", "keys", "create", "demo", "--role", role],
        env={**os.environ, "VISIONFLOW_HOME": str(server.home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _listed(server: RunningProcess, key: str, path: str) -> Any:
    answer = httpx.get(server.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _models_page(page: Any, server: RunningProcess, key: str) -> None:
    _open(page, server, key)
    page.get_by_test_id("tab-models").click()
    page.get_by_test_id("models-table").locator("td", has_text="shapes/1").first.wait_for()


def test_models_page_uploads_a_model_and_pushes_a_workflow(
    page: Any, server: RunningProcess
) -> None:
    admin = _key(server, "admin")
    _models_page(page, server, admin)
    page.get_by_test_id("upload-id").fill("uploaded-shapes/2")
    page.get_by_test_id("upload-file").set_input_files(str(demo_model_path("shapes-det.onnx")))
    page.get_by_test_id("upload-button").click()
    status = page.get_by_test_id("admin-status")
    status.filter(has_text="registered uploaded-shapes/2").wait_for()
    assert status.inner_text() == "registered uploaded-shapes/2 (object-detection) in demo"
    models = {m["model_id"]: m for m in _listed(server, admin, "/models")["models"]}
    assert models["uploaded-shapes/2"]["class_names"] == models["shapes/1"]["class_names"]
    table = page.get_by_test_id("models-table")
    table.locator("td", has_text="uploaded-shapes/2").wait_for()
    option = page.get_by_test_id("model-select").locator("option", has_text="uploaded-shapes/2")
    assert option.count() == 1

    page.get_by_test_id("push-id").fill("pushed-boxes")
    page.get_by_test_id("push-definition").fill(json.dumps(WORKFLOW))
    page.get_by_test_id("push-button").click()
    status.filter(has_text="stored demo/pushed-boxes").wait_for()
    assert status.inner_text() == "stored demo/pushed-boxes version 1"
    stored = _listed(server, admin, "/demo/workflows")["workflows"]
    assert [w["latest_version"] for w in stored if w["workflow_id"] == "pushed-boxes"] == [1]
    page.get_by_test_id("workflow-list").locator("li", has_text="demo/pushed-boxes").wait_for()
    screenshot(page, "playground-models.png")


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        pytest.param(
            {"upload-id": "no-version"}, "the model id is project/version", id="bad-model-id"
        ),
        pytest.param({"push-id": "flow", "push-definition": "{"}, "not valid JSON", id="bad-json"),
    ],
)
def test_models_page_checks_its_forms(
    page: Any, server: RunningProcess, demo_key: str, fill: dict[str, str], expected: str
) -> None:
    _models_page(page, server, demo_key)
    for testid, value in fill.items():
        page.get_by_test_id(testid).fill(value)
    if "upload-id" in fill:
        page.get_by_test_id("upload-file").set_input_files(str(demo_model_path("shapes-det.onnx")))
        page.get_by_test_id("upload-button").click()
    else:
        page.get_by_test_id("push-button").click()
    status = page.get_by_test_id("admin-status")
    status.filter(has_text=expected).wait_for()
    assert status.get_attribute("class") == "status failed"


def test_models_page_shows_why_an_inference_key_may_not_upload(
    page: Any, server: RunningProcess
) -> None:
    infer_only = _key(server, "infer")
    model = demo_model_path("shapes-det.onnx")
    answer = httpx.post(
        f"{server.url}/models/refused/1",
        headers={"Authorization": f"Bearer {infer_only}"},
        files={"file": (model.name, model.read_bytes())},
        timeout=30,
    )
    assert answer.status_code == 403, answer.text
    _models_page(page, server, infer_only)
    page.get_by_test_id("upload-id").fill("refused/2")
    page.get_by_test_id("upload-file").set_input_files(str(model))
    page.get_by_test_id("upload-button").click()
    status = page.get_by_test_id("admin-status")
    status.filter(has_text="error:").wait_for()
    assert status.inner_text() == f"error: {answer.json()['message']}"
    assert "Traceback" not in status.inner_text()
    models = [m["model_id"] for m in _listed(server, infer_only, "/models")["models"]]
    assert "refused/2" not in models


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

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server.url + path)
    page.locator(selector).first.wait_for()
    assert page.locator(selector).count() > 10
    assert outside == []
    screenshot(page, f"docs-{path.strip('/')}.png")


def test_screenshot_in_docs_is_the_playground() -> None:
    committed = ROOT / "docs" / "playground.png"
    assert committed.is_file(), "docs/playground.png (the README's screenshot) is missing"
    assert committed.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
