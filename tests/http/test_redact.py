"""Server paths never reach error bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionflow.errors import ModelLoadError
from visionflow.http.errors import error_response
from visionflow.http.redact import PathRedactor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("no paths here", "no paths here", id="plain"),
        pytest.param(
            "Load model from /srv/vf/artifacts/sha256/ab/abcd failed: bad",
            "Load model from <server path>/abcd failed: bad",
            id="onnxruntime",
        ),
        pytest.param(
            "[Errno 13] Permission denied: '/srv/vf/sinks/out.json'",
            "[Errno 13] Permission denied: '<server path>/out.json'",
            id="quoted",
        ),
        pytest.param("see /srv/vf", "see <server path>/vf", id="the-directory-itself"),
        pytest.param("call /infer/object_detection", "call /infer/object_detection", id="route"),
        pytest.param("/srv/vfx/other", "/srv/vfx/other", id="not-a-prefix-of-a-name"),
    ],
)
def test_server_paths_are_redacted(text: str, expected: str, tmp_path: Path) -> None:
    home = tmp_path / "vf"
    home.mkdir()
    redactor = PathRedactor([home])
    assert redactor.text(text.replace("/srv/vf", str(home))) == expected.replace(
        "/srv/vf", str(home)
    )


def test_error_bodies_are_redacted_recursively(tmp_path: Path) -> None:
    inside = tmp_path / "home" / "artifacts" / "weights.onnx"
    error = ModelLoadError(f"could not load {inside}", details={"files": [str(inside)]})
    response = error_response(error, PathRedactor.for_server(tmp_path / "home"))
    body = json.loads(bytes(response.body))
    assert body == {
        "message": "could not load <server path>/weights.onnx",
        "error_type": "model_load_error",
        "files": ["<server path>/weights.onnx"],
    }
