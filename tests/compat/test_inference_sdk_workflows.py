"""The official ``inference-sdk`` 1.8.3, unchanged, runs workflows on a running visionflow
server: a stored workflow by name (``/{workspace}/workflows/{id}`` and the legacy
``/infer/workflows/...``), an inline ``specification`` on a batch, and the public demo model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.compat.conftest import RunningServer
from tests.conftest import jpeg_bytes
from visionflow.config import Settings
from visionflow.service.services import Services

pytestmark = pytest.mark.slow

KNOWN = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0, "class": "square", "class_id": 1}
KEYS = ["count", "predictions", "preview"]
SPECIFICATION = {
    "version": "1.0",
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "model_id", "default_value": "known/1"},
        {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.4},
    ],
    "steps": [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "$inputs.model_id",
            "confidence": "$inputs.confidence",
        },
        {
            "type": "roboflow_core/property_definition@v1",
            "name": "count",
            "data": "$steps.det.predictions",
            "operations": [{"type": "SequenceLength"}],
        },
        {
            "type": "roboflow_core/bounding_box_visualization@v1",
            "name": "viz",
            "image": "$inputs.image",
            "predictions": "$steps.det.predictions",
        },
    ],
    "outputs": [
        {"type": "JsonField", "name": "predictions", "selector": "$steps.det.predictions"},
        {"type": "JsonField", "name": "count", "selector": "$steps.count.output"},
        {"type": "JsonField", "name": "preview", "selector": "$steps.viz.image"},
    ],
}


@pytest.fixture(scope="module")
def results(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    # Store the workflow in the running server's registry, as `visionflow` itself would.
    services = Services.build(Settings(home=server.home), migrate=False)
    try:
        services.workflows.save("acme", "sdk-detect", SPECIFICATION)
    finally:
        services.close()
    folder = tmp_path_factory.mktemp("sdk-workflows")
    image = folder / "image.jpg"
    image.write_bytes(jpeg_bytes())
    spec = folder / "specification.json"
    spec.write_text(json.dumps(SPECIFICATION))
    driver = Path(__file__).with_name("sdk_workflows_driver.py")
    result = subprocess.run(
        [
            str(sdk_python),
            str(driver),
            server.url,
            server.key,
            "acme",
            server.demo_key,
            str(image),
            str(spec),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def _expected(count: int = 1) -> list[dict[str, object]]:
    return [
        {
            "count": 1,
            "image": {"width": 640, "height": 480},
            "predictions": [KNOWN],
            "keys": KEYS,
            "preview_is_base64_text": True,
        }
    ] * count


def test_named_workflow(results: dict[str, object]) -> None:
    assert results["named"] == _expected()


def test_named_workflow_with_excluded_fields(results: dict[str, object]) -> None:
    [only] = results["named_excluded"]  # type: ignore[misc]
    assert only["keys"] == ["count", "predictions"]
    assert only["predictions"] == [KNOWN]


def test_inline_specification_on_a_batch(results: dict[str, object]) -> None:
    assert results["inline_batch"] == _expected(2)


def test_legacy_named_route(results: dict[str, object]) -> None:
    assert results["legacy_named"] == _expected()


def test_demo_model_in_a_workflow(results: dict[str, object]) -> None:
    [demo] = results["demo_shapes"]  # type: ignore[misc]
    assert demo["image"] == {"width": 640, "height": 480}
    assert demo["keys"] == KEYS
    assert demo["count"] == len(demo["predictions"])


def test_missing_workflow_reaches_the_sdk_as_404(results: dict[str, object]) -> None:
    missing = results["missing"]
    assert isinstance(missing, dict)
    assert missing["status"] == 404
    assert "not found in workspace 'acme'" in missing["message"]
