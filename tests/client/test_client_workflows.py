"""``InferenceHTTPClient.run_workflow`` against the real app (in-process transports), and its
wire payload against the official SDK's (wire reference §5.8)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from tests.workflows.fakes import definition
from visionflow.client import InferenceHTTPClient, InvalidInputError
from visionflow.errors import InvalidApiKeyError, VisionflowError
from visionflow.service.services import Services

DETECT = definition(
    [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "known/1",
            "confidence": "$inputs.conf",
        },
        {
            "type": "roboflow_core/bounding_box_visualization@v1",
            "name": "viz",
            "image": "$inputs.image",
            "predictions": "$steps.det.predictions",
        },
    ],
    {"predictions": "$steps.det.predictions", "preview": "$steps.viz.image", "tag": "$inputs.tag"},
    inputs=[
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "conf", "default_value": 0.4},
        {"type": "WorkflowParameter", "name": "tag", "default_value": None},
    ],
)


def sdk(client: TestClient, key: str | None) -> InferenceHTTPClient:
    return InferenceHTTPClient("http://testserver", key, http_client=client)


def classes(output: dict[str, Any]) -> list[str]:
    return [p["class"] for p in output["predictions"]["predictions"]]


def test_inline_specification(client: TestClient, tenant: Tenant) -> None:
    [output] = sdk(client, tenant.key).run_workflow(
        specification=DETECT, images={"image": jpeg_bytes()}, parameters={"tag": "t"}
    )
    assert classes(output) == ["square"]
    assert output["tag"] == "t"
    # Image outputs come back as base64 text, as the official SDK returns them by default.
    preview = cv2.imdecode(np.frombuffer(base64.b64decode(output["preview"]), np.uint8), 1)
    assert preview.shape == (480, 640, 3)


@pytest.mark.parametrize(
    ("images", "count"),
    [
        pytest.param([jpeg_bytes()], 1, id="list-of-one"),
        pytest.param([jpeg_bytes(), np.zeros((20, 30, 3), np.uint8)], 2, id="batch"),
        pytest.param((jpeg_bytes(), jpeg_bytes(), jpeg_bytes()), 3, id="tuple"),
    ],
)
def test_batches(client: TestClient, tenant: Tenant, images: Any, count: int) -> None:
    outputs = sdk(client, tenant.key).run_workflow(
        specification=DETECT, images={"image": images}, excluded_fields=["preview"]
    )
    assert len(outputs) == count
    assert all(set(output) == {"predictions", "tag"} for output in outputs)


def test_stored_workflow_and_pinned_version(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    services.workflows.save("acme", "detect", DETECT)
    tag = {"type": "WorkflowParameter", "name": "tag", "default_value": "v2"}
    services.workflows.save("acme", "detect", definition([], {"tag": "$inputs.tag"}, [tag]))
    api = sdk(client, tenant.key)
    assert api.run_workflow("acme", "detect") == [{"tag": "v2"}]
    [pinned] = api.run_workflow(
        workspace_name="acme",
        workflow_id="detect",
        images={"image": jpeg_bytes()},
        parameters={"conf": 0.95},
        workflow_version_id="1",
        use_cache=False,
    )
    assert classes(pinned) == []


def test_parameters_win_over_images(client: TestClient, tenant: Tenant) -> None:
    echo = definition(
        [], {"value": "$inputs.value"}, inputs=[{"type": "WorkflowParameter", "name": "value"}]
    )
    [output] = sdk(client, tenant.key).run_workflow(
        specification=echo, images={"value": jpeg_bytes()}, parameters={"value": 7}
    )
    assert output == {"value": 7}


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({}, id="neither"),
        pytest.param({"workspace_name": "acme"}, id="workspace-only"),
        pytest.param({"workflow_id": "detect"}, id="id-only"),
        pytest.param(
            {"workspace_name": "acme", "workflow_id": "d", "specification": DETECT}, id="both"
        ),
    ],
)
def test_exactly_one_workflow_source(
    client: TestClient, tenant: Tenant, arguments: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError, match="either workspace_name and workflow_id"):
        sdk(client, tenant.key).run_workflow(**arguments)


@pytest.mark.parametrize(
    ("key", "arguments", "error", "status"),
    [
        pytest.param("vf_nope", {"specification": DETECT}, InvalidApiKeyError, 401, id="bad-key"),
        pytest.param(None, {"workspace_name": "acme", "workflow_id": "x"}, None, 404, id="missing"),
        pytest.param(None, {"specification": {"version": "1.0"}}, None, 400, id="invalid"),
    ],
)
def test_server_errors_are_typed(
    client: TestClient,
    key: str | None,
    arguments: dict[str, Any],
    error: type[Exception] | None,
    status: int,
) -> None:
    with pytest.raises(error or VisionflowError) as caught:
        sdk(client, key).run_workflow(images={"image": jpeg_bytes()}, **arguments)
    assert isinstance(caught.value, VisionflowError)
    assert caught.value.http_status == status


# -- the payload, compared with what the official SDK sends ---------------------------------------


def _captured(**arguments: Any) -> tuple[str, dict[str, Any]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outputs = [{"nested": [{"type": "base64", "value": "QUJD", "video_metadata": None}]}]
        return httpx.Response(200, json={"outputs": outputs, "profiler_trace": []})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://server")
    api = InferenceHTTPClient("http://server", "KEY123", http_client=http)
    result = api.run_workflow(**arguments)
    assert result == [{"nested": ["QUJD"]}]
    [request] = seen
    return request.url.path, json.loads(request.content)


JPEG_B64 = base64.b64encode(jpeg_bytes()).decode()
IMAGE = {"type": "base64", "value": JPEG_B64}


@pytest.mark.parametrize(
    ("arguments", "path", "payload"),
    [
        pytest.param(
            {
                "workspace_name": "ws",
                "workflow_id": "wf",
                "images": {"image": jpeg_bytes()},
                "parameters": {"conf": 0.3},
                "excluded_fields": ["x"],
            },
            "/ws/workflows/wf",
            {
                "api_key": "KEY123",
                "use_cache": True,
                "enable_profiling": False,
                "inputs": {"image": IMAGE, "conf": 0.3},
                "excluded_fields": ["x"],
            },
            id="named",
        ),
        pytest.param(
            {
                "specification": {"version": "1.0", "inputs": [], "steps": [], "outputs": []},
                "images": {"image": [jpeg_bytes(), jpeg_bytes()]},
            },
            "/workflows/run",
            {
                "api_key": "KEY123",
                "use_cache": True,
                "enable_profiling": False,
                "inputs": {"image": [IMAGE, IMAGE]},
                "specification": {"version": "1.0", "inputs": [], "steps": [], "outputs": []},
            },
            id="inline-batch",
        ),
        pytest.param(
            {
                "workspace_name": "ws",
                "workflow_id": "wf",
                "images": {"image": [[jpeg_bytes()], [jpeg_bytes(), jpeg_bytes()]]},
                "use_cache": False,
                "enable_profiling": True,
                "workflow_version_id": "3",
                "disable_sinks": True,
            },
            "/ws/workflows/wf",
            {
                "api_key": "KEY123",
                "use_cache": False,
                "enable_profiling": True,
                "disable_sinks": True,
                "inputs": {"image": [[IMAGE], [IMAGE, IMAGE]]},
                "workflow_version_id": "3",
            },
            id="nested-and-flags",
        ),
        pytest.param(
            {"specification": {}, "images": None, "parameters": None},
            "/workflows/run",
            {
                "api_key": "KEY123",
                "use_cache": True,
                "enable_profiling": False,
                "inputs": {},
                "specification": {},
            },
            id="empty",
        ),
    ],
)
def test_payload_matches_the_official_sdk(
    arguments: dict[str, Any], path: str, payload: dict[str, Any]
) -> None:
    sent_path, sent = _captured(**arguments)
    assert sent_path == path
    assert list(sent) == list(payload)  # same keys in the same order
    assert sent == payload


def test_async_run_workflow(client: TestClient, tenant: Tenant) -> None:
    async def run() -> list[list[dict[str, Any]]]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = InferenceHTTPClient(
                "http://testserver", tenant.key, http_client=client, async_http_client=http
            )
            return list(
                await asyncio.gather(
                    api.run_workflow_async(specification=DETECT, images={"image": jpeg_bytes()}),
                    api.run_workflow_async(
                        specification=DETECT, images={"image": [jpeg_bytes(), jpeg_bytes()]}
                    ),
                )
            )

    single, batch = asyncio.run(run())
    assert [classes(o) for o in single] == [["square"]]
    assert len(batch) == 2
    assert isinstance(single[0]["preview"], str)
