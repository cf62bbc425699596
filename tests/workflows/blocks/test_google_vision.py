"""google_vision_ocr@v1 against a local server speaking Cloud Vision's ``images:annotate``
format on 127.0.0.1: the request (path, ``key`` parameter, feature, language hints, base64
JPEG), the reply's blocks as OCR detections, and one end-to-end POST /workflows/run."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import jpeg_bytes
from tests.support.provider_server import ProviderServer, provider_server
from tests.workflows.blocks.test_lmm import decoded, environment, image, run_step
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.services import Services
from visionflow.workflows.blocks.llm_egress import EgressDisabledError, ProviderRejectedError

OCR = "roboflow_core/google_vision_ocr@v1"


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def _block(text: str, box: list[tuple[int, int]], confidence: float | None) -> dict[str, Any]:
    words = [{"symbols": [{"text": c} for c in word]} for word in text.split()]
    block: dict[str, Any] = {
        "boundingBox": {"vertices": [{"x": x, "y": y} for x, y in box]},
        "paragraphs": [{"words": words}],
    }
    if confidence is not None:
        block["confidence"] = confidence
    return block


ANSWER = {
    "responses": [
        {
            "textAnnotations": [{"locale": "en", "description": "HELLO WORLD\nSTOP\n"}],
            "fullTextAnnotation": {
                "pages": [
                    {
                        "blocks": [
                            _block("HELLO WORLD", [(2, 3), (40, 3), (40, 12), (2, 12)], 0.98),
                            # Google leaves out zero coordinates ({"y": 20} means x = 0).
                            _block("STOP", [(0, 20), (30, 20), (30, 30), (0, 30)], None),
                        ]
                    }
                ]
            },
        }
    ]
}


def test_text_detection(server: ProviderServer) -> None:
    server.reply_json(ANSWER)
    out = run_step(
        OCR,
        environment(server),
        {"image": image()},
        image="$inputs.image",
        ocr_type="ocr_text_detection",
        api_key="g-key/1",
        language_hints=["en", "de"],
    )
    sent = server.requests[0]
    assert sent.path == "/v1/images:annotate?key=g-key%2F1"
    [request] = sent.json["requests"]
    assert request["features"] == [{"type": "DOCUMENT_TEXT_DETECTION"}]
    assert request["imageContext"] == {"languageHints": ["en", "de"]}
    assert decoded(request["image"]["content"]) == (48, 64, 3)
    assert (out["text"], out["language"]) == ("HELLO WORLD\nSTOP\n", "en")
    found = out["predictions"]
    assert found.xyxy.tolist() == [[2, 3, 40, 12], [0, 20, 30, 30]]
    assert list(found.data["class_name"]) == ["HELLO WORLD", "STOP"]
    assert found.class_id.tolist() == [0, 1]
    assert np.allclose(found.confidence, [0.98, 1.0])
    assert len(set(found.data["detection_id"])) == 2
    assert list(found.data["parent_id"]) == ["img", "img"]


def test_no_text_error_and_managed_key(server: ProviderServer) -> None:
    server.reply_json({"responses": [{}]})
    fields = {"image": "$inputs.image", "ocr_type": "text_detection"}
    env = environment(server, workflows_provider_keys=(("google_vision", "operator-key"),))
    out = run_step(OCR, env, {"image": image()}, **fields)
    assert (out["text"], out["language"], len(out["predictions"])) == ("", "", 0)
    assert server.requests[0].path == "/v1/images:annotate?key=operator-key"
    assert server.requests[0].json["requests"][0]["features"] == [{"type": "TEXT_DETECTION"}]
    assert "imageContext" not in server.requests[0].json["requests"][0]
    server.reply_json({"responses": [{"error": {"code": 3, "message": "Bad image data."}}]})
    with pytest.raises(ProviderRejectedError, match="Bad image data"):
        run_step(OCR, env, {"image": image()}, **fields)
    with pytest.raises(Exception, match="VISIONFLOW_WORKFLOWS_PROVIDER_KEYS=google_vision"):
        run_step(OCR, environment(server), {"image": image()}, **fields)
    off = environment(server, workflows_allow_egress=False)
    with pytest.raises(EgressDisabledError):
        run_step(OCR, off, {"image": image()}, **fields, api_key="k")
    assert len(server.requests) == 2


def test_google_vision_ocr_through_workflows_run(server: ProviderServer, tmp_path: Path) -> None:
    server.reply_json(ANSWER)
    settings = Settings(
        home=tmp_path / "home",
        register_demo_models=False,
        workflows_provider_urls=(("google_vision", f"{server.url}/v1"),),
    )
    spec = {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "key"},
        ],
        "steps": [
            {
                "type": OCR,
                "name": "ocr",
                "image": "$inputs.image",
                "ocr_type": "text_detection",
                "api_key": "$inputs.key",
            }
        ],
        "outputs": [
            {"type": "JsonField", "name": "text", "selector": "$steps.ocr.text"},
            {"type": "JsonField", "name": "found", "selector": "$steps.ocr.predictions"},
        ],
    }
    picture = {"type": "base64", "value": base64.b64encode(jpeg_bytes(80, 40)).decode()}
    services = Services.build(settings)
    try:
        with TestClient(create_app(services)) as client:
            response = client.post(
                "/workflows/run",
                json={"specification": spec, "inputs": {"image": picture, "key": "wf-key"}},
            )
    finally:
        services.close()
    assert response.status_code == 200, response.text
    [result] = response.json()["outputs"]
    assert result["text"] == "HELLO WORLD\nSTOP\n"
    predictions = result["found"]["predictions"]
    assert [p["class"] for p in predictions] == ["HELLO WORLD", "STOP"]
    assert (predictions[0]["x"], predictions[0]["width"]) == (21.0, 38.0)
    assert server.requests[0].path == "/v1/images:annotate?key=wf-key"
    assert decoded(server.requests[0].json["requests"][0]["image"]["content"]) == (40, 80, 3)
