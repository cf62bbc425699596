"""The API-model blocks against a local HTTP server on 127.0.0.1 that speaks each provider's
documented format (they cannot reach the real providers here): the request each block sends
(path, headers, JSON body, the image as base64 JPEG) and how the documented answer becomes the
block's outputs; retries, timeouts, refusals and the egress switch."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv
from fastapi.testclient import TestClient

from tests.conftest import jpeg_bytes
from tests.workflows.fakes import FakeModels
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.providers import HttpProviderTransport, provider_environment
from visionflow.service.services import Services
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.blocks.llm_egress import (
    EgressDisabledError,
    ProviderEnvironment,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from visionflow.workflows.lineage import WorkflowImage

BLOCKS = {b.type: b for b in CORE_BLOCKS}


class Provider:
    """A scripted provider: answers ``replies`` in turn (``(status, body, delay_s)``), records
    every request (path, headers, JSON body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, Any, float]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                provider.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": body}
                )
                status, reply, delay = provider.replies.pop(0) if provider.replies else (500, {}, 0)
                time.sleep(delay)
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _env(provider: Provider, **changes: Any) -> ProviderEnvironment:
    urls = {
        "openai": f"{provider.url}/v1",
        "anthropic": provider.url,
        "gemini": f"{provider.url}/v1beta",
        "openrouter": f"{provider.url}/api/v1",
        "xai": f"{provider.url}/xai/v1",
    }
    settings = Settings(
        workflows_provider_urls=tuple(urls.items()),
        workflows_provider_timeout_s=changes.pop("timeout_s", 5.0),
        workflows_provider_retries=changes.pop("retries", 2),
        **changes,
    )
    env = provider_environment(settings, HttpProviderTransport(settings))
    return ProviderEnvironment(**{**env.__dict__, "backoff_s": 0.01})


def _image(width: int = 64, height: int = 48) -> WorkflowImage:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (0, 0, 255)
    return WorkflowImage.from_input(pixels, "img")


def _run(block_type: str, env: ProviderEnvironment | None, **fields: Any) -> Any:
    block = BLOCKS[block_type]
    manifest = block.manifest.model_validate(
        {"type": block_type, "name": "llm", "images": "$inputs.image", **fields}
    )
    values = {**manifest.model_dump(exclude={"type", "name"}), "images": _image()}
    inputs = StepInputs("llm", block_type, values)
    context = RunContext(models=FakeModels(), providers=env)
    return block().run_batch([inputs], context)[0]


def _decoded(b64: str) -> tuple[int, ...]:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    return tuple(pixels.shape)


def test_openai_responses_classification(provider: Provider) -> None:
    provider.replies.append(
        (
            200,
            {
                "status": "completed",
                "output": [
                    {
                        "type": "message",
                        "content": [
                            {
                                "type": "output_text",
                                "text": '```json\n{"class_name": "cat", "confidence": 0.9}\n```',
                            }
                        ],
                    }
                ],
                "usage": {"input_tokens": 11, "output_tokens": 7},
            },
            0,
        )
    )
    out = _run(
        "roboflow_core/open_ai@v7",
        _env(provider),
        task_type="classification",
        classes=["cat", "dog"],
        api_key="sk-test",
        model_version="gpt-4o",
    )
    [sent] = provider.requests
    assert sent["path"] == "/v1/responses"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    body = sent["json"]
    assert body["model"] == "gpt-4o"
    assert body["instructions"].startswith("You act as single-class classification model")
    text, image = body["input"][0]["content"]
    assert text == {
        "type": "input_text",
        "text": "List of all classes to be recognised by model: cat, dog",
    }
    assert image["type"] == "input_image"
    assert image["detail"] == "auto"
    assert image["image_url"].startswith("data:image/jpeg;base64,")
    assert _decoded(image["image_url"].split(",", 1)[1]) == (48, 64, 3)
    assert (out["input_tokens"], out["output_tokens"], out["error_status"]) == (11, 7, False)
    assert out["predictions"]["top"] == "cat"
    assert out["predictions"]["confidence"] == 0.9


def test_openai_chat_completions_v2(provider: Provider) -> None:
    provider.replies.append(
        (200, {"choices": [{"message": {"content": "a red and black image"}}]}, 0)
    )
    out = _run(
        "roboflow_core/open_ai@v2",
        _env(provider),
        task_type="caption",
        api_key="sk-x",
        model_version="gpt-4.1",
        max_tokens=100,
    )
    body = provider.requests[0]["json"]
    assert provider.requests[0]["path"] == "/v1/chat/completions"
    assert body["max_tokens"] == 100
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "Caption should be short." in system["content"]
    [part] = user["content"]
    assert part["type"] == "image_url"
    assert part["image_url"]["detail"] == "auto"
    assert out == {"output": "a red and black image", "classes": None}


def test_anthropic_messages(provider: Provider) -> None:
    provider.replies.append(
        (
            200,
            {
                "content": [
                    {
                        "type": "text",
                        "text": '{"detections": [{"x_min": 0, "y_min": 0, '
                        '"x_max": 0.5, "y_max": 1, "class_name": "red", "confidence": 0.8}]}',
                    }
                ],
                "usage": {"input_tokens": 3, "output_tokens": 4},
                "stop_reason": "end_turn",
            },
            0,
        )
    )
    out = _run(
        "roboflow_core/anthropic_claude@v5",
        _env(provider),
        task_type="object-detection",
        classes=["red"],
        api_key="sk-ant",
        max_image_size=32,
    )
    sent = provider.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    body = sent["json"]
    assert body["model"] == "claude-sonnet-4-5-20250929"
    assert body["max_tokens"] == 64000
    image, text = body["messages"][0]["content"]
    assert image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/jpeg"
    assert _decoded(image["source"]["data"]) == (24, 32, 3)  # longer edge shrunk to 32
    assert text["text"].endswith(": red")
    detections = out["predictions"]
    assert isinstance(detections, sv.Detections)
    np.testing.assert_allclose(detections.xyxy, [[0, 0, 32, 48]])
    assert list(detections.data["class_name"]) == ["red"]


def test_gemini_generate_content(provider: Provider) -> None:
    provider.replies.append(
        (
            200,
            {
                "candidates": [{"content": {"parts": [{"text": "HELLO"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1},
            },
            0,
        )
    )
    out = _run(
        "roboflow_core/google_gemini@v6",
        _env(provider),
        task_type="ocr",
        api_key="g-key",
        model_version="gemini-2.5-flash",
        thinking_level="low",
        max_tokens=64,
    )
    sent = provider.requests[0]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["headers"]["x-goog-api-key"] == "g-key"
    body = sent["json"]
    [part] = body["contents"][0]["parts"]
    assert part["inline_data"]["mime_type"] == "image/jpeg"
    assert body["systemInstruction"]["parts"][0]["text"].startswith("You act as OCR model")
    assert body["generationConfig"] == {
        "maxOutputTokens": 64,
        "thinkingConfig": {"thinkingLevel": "low"},
    }
    assert (out["output"], out["input_tokens"], out["predictions"]) == ("HELLO", 5, None)


def test_openrouter_family_sends_slug_and_routing(provider: Provider) -> None:
    provider.replies.append(
        (200, {"choices": [{"message": {"content": "ok", "reasoning": "hmm"}}]}, 0)
    )
    out = _run("roboflow_core/kimi_openrouter@v3", _env(provider), prompt="hi", api_key="or-key")
    sent = provider.requests[0]
    assert sent["path"] == "/api/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer or-key"
    body = sent["json"]
    assert body["model"] == "moonshotai/kimi-k2.6"
    assert body["provider"] == {"data_collection": "deny"}
    assert (body["max_tokens"], body["temperature"]) == (500, 0.1)
    assert out["output"] == "ok"


def test_transient_failures_are_retried(provider: Provider) -> None:
    provider.replies += [(503, {"error": {"message": "busy"}}, 0), (429, {}, 0)]
    provider.replies.append((200, {"choices": [{"message": {"content": "fine"}}]}, 0))
    out = _run("roboflow_core/spacexai@v3", _env(provider), prompt="hi", api_key="x")
    assert len(provider.requests) == 3
    assert provider.requests[0]["path"] == "/xai/v1/chat/completions"
    assert out["output"] == "fine"


def test_refusal_is_400_without_retry(provider: Provider) -> None:
    provider.replies.append((401, {"error": {"message": "Incorrect API key provided"}}, 0))
    with pytest.raises(ProviderRejectedError, match="HTTP 401: Incorrect API key provided"):
        _run("roboflow_core/open_ai@v4", _env(provider), prompt="hi", api_key="bad")
    assert len(provider.requests) == 1


def test_timeout_gives_up_after_the_retries(provider: Provider) -> None:
    provider.replies += [(200, {}, 1.0), (200, {}, 1.0)]
    with pytest.raises(ProviderUnavailableError, match="after 2 attempts"):
        _run(
            "roboflow_core/open_ai@v4",
            _env(provider, timeout_s=0.2, retries=1),
            prompt="hi",
            api_key="k",
        )
    assert len(provider.requests) == 2


def test_egress_off_sends_nothing(provider: Provider) -> None:
    with pytest.raises(EgressDisabledError, match="VISIONFLOW_WORKFLOWS_ALLOW_EGRESS"):
        _run(
            "roboflow_core/google_gemini@v1",
            _env(provider, workflows_allow_egress=False),
            prompt="hi",
            api_key="k",
        )
    with pytest.raises(EgressDisabledError):
        _run("roboflow_core/google_gemini@v1", None, prompt="hi", api_key="k")
    assert provider.requests == []


def test_managed_key_needs_an_operator_key(provider: Provider) -> None:
    with pytest.raises(Exception, match="VISIONFLOW_WORKFLOWS_PROVIDER_KEYS"):
        _run("roboflow_core/open_ai@v4", _env(provider), prompt="hi")
    provider.replies.append(
        (
            200,
            {"output": [{"type": "message", "content": [{"type": "output_text", "text": "yes"}]}]},
            0,
        )
    )
    env = _env(provider, workflows_provider_keys=(("openai", "sk-operator"),))
    assert _run("roboflow_core/open_ai@v4", env, prompt="hi")["output"] == "yes"
    assert provider.requests[0]["headers"]["Authorization"] == "Bearer sk-operator"


def test_task_without_its_field_is_refused() -> None:
    with pytest.raises(ValueError, match="`classes` parameter required"):
        BLOCKS["roboflow_core/open_ai@v4"].manifest.model_validate(
            {
                "type": "roboflow_core/open_ai@v4",
                "name": "s",
                "images": "$inputs.image",
                "task_type": "classification",
            }
        )


def test_openai_compatible_through_workflows_run(provider: Provider, tmp_path: Any) -> None:
    """End to end: POST /workflows/run with an openai_compatible step whose base URL the
    operator configured (a local OpenAI-compatible server), and the same URL refused by the URL
    guard when it is not configured."""
    provider.replies.append((200, {"choices": [{"message": {"content": "two squares"}}]}, 0))
    settings = Settings(
        home=tmp_path / "home",
        register_demo_models=False,
        workflows_provider_urls=(("openai", f"{provider.url}/v1"),),
    )
    step = {
        "type": "roboflow_core/openai_compatible@v1",
        "name": "llm",
        "base_url": f"{provider.url}/v1",
        "model_name": "local-model",
        "api_key": "$inputs.key",
        "system_prompt": "Be brief.",
        "prompt": "Describe {{ $parameters.what }}",
        "prompt_parameters": {"what": "this", "picture": "$inputs.image"},
    }
    spec = {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "key"},
        ],
        "steps": [step],
        "outputs": [{"type": "JsonField", "name": "answer", "selector": "$steps.llm.output"}],
    }
    image = {"type": "base64", "value": base64.b64encode(jpeg_bytes(32, 16)).decode()}
    services = Services.build(settings)
    try:
        with TestClient(create_app(services)) as client:
            response = client.post(
                "/workflows/run",
                json={"specification": spec, "inputs": {"image": image, "key": "local-key"}},
            )
    finally:
        services.close()
    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [{"answer": "two squares"}]
    sent = provider.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer local-key"
    system, user = sent["json"]["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    text, picture = user["content"]
    assert text == {"type": "text", "text": "Describe this"}
    assert _decoded(picture["image_url"]["url"].split(",", 1)[1]) == (16, 32, 3)
    assert sent["json"]["model"] == "local-model"
