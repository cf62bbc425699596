"""The official ``inference-sdk`` 1.8.3, unchanged, against a running visionflow server; and the
legacy route over raw HTTP as curl sends it."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.compat.conftest import RunningServer
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.slow

KNOWN = {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0, "class": "square", "class_id": 1}


@pytest.fixture(scope="module")
def sdk_results(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    image = tmp_path_factory.mktemp("sdk") / "image.jpg"
    image.write_bytes(jpeg_bytes())
    driver = Path(__file__).with_name("sdk_driver.py")
    result = subprocess.run(
        [str(sdk_python), str(driver), server.url, server.key, server.model_id, str(image)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def _known(prediction: dict[str, object]) -> dict[str, object]:
    return {k: prediction[k] for k in KNOWN}


def test_infer_single_with_key_in_body(sdk_results: dict[str, object]) -> None:
    single = sdk_results["single_body_key"]
    assert isinstance(single, dict)
    assert single["image"] == {"width": 640, "height": 480}
    assert [_known(p) for p in single["predictions"]] == [KNOWN]


def test_infer_list(sdk_results: dict[str, object]) -> None:
    batch = sdk_results["list_body_key"]
    assert isinstance(batch, list)
    assert [r["image"] for r in batch] == [
        {"width": 640, "height": 480},
        {"width": 100, "height": 50},
    ]
    assert [p["class"] for r in batch for p in r["predictions"]] == ["square", "square"]


def test_infer_with_key_in_header(sdk_results: dict[str, object]) -> None:
    single = sdk_results["single_header_key"]
    assert isinstance(single, dict)
    assert [_known(p) for p in single["predictions"]] == [KNOWN]


def test_model_management(sdk_results: dict[str, object]) -> None:
    assert sdk_results["loaded_after_infer"] == ["known/1"]
    assert sdk_results["loaded_after_unload"] == []
    assert sdk_results["load_model"] == [["known/1", "object-detection"]]
    assert sdk_results["server_info"] == "visionflow Inference Server"


def test_wrong_key_reaches_the_sdk_as_401(sdk_results: dict[str, object]) -> None:
    wrong = sdk_results["wrong_key"]
    assert isinstance(wrong, dict)
    assert wrong["status"] == 401
    assert "not valid" in wrong["message"]


def test_anonymous_sdk_sees_the_demo_workspace(sdk_results: dict[str, object]) -> None:
    anonymous = sdk_results["anonymous_demo"]
    assert isinstance(anonymous, dict)
    assert [_known(p) for p in anonymous["predictions"]] == [KNOWN]


def test_legacy_route_like_curl(server: RunningServer) -> None:
    b64 = base64.b64encode(jpeg_bytes()).decode()
    response = httpx.post(
        f"{server.url}/{server.model_id}?api_key={server.key}&confidence=50&overlap=30",
        content=b64,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert [_known(p) for p in response.json()["predictions"]] == [KNOWN]
    multipart = httpx.post(
        f"{server.url}/{server.model_id}?api_key={server.key}",
        files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")},
        timeout=30,
    )
    assert multipart.status_code == 200, multipart.text
    assert [_known(p) for p in multipart.json()["predictions"]] == [KNOWN]
