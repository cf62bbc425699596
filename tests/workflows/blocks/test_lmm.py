"""open_ai@v1, lmm@v1 and lmm_for_classification@v1 against a local OpenAI-format server on
127.0.0.1: the Chat Completions request each sends (path, key, model, max_tokens, the prompt and
the image as a base64 JPEG with its detail) and how the reply becomes the reference's outputs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from tests.support.provider_server import ProviderServer, provider_server
from tests.workflows.fakes import FakeModels
from visionflow.config import Settings
from visionflow.service.providers import HttpProviderTransport, provider_environment
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.blocks.llm_egress import EgressDisabledError, ProviderEnvironment
from visionflow.workflows.lineage import WorkflowImage

# By type id and by alias (the reference's old names work in definitions).
BLOCKS = {name: b for b in CORE_BLOCKS for name in (b.type, *b.aliases)}


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def environment(server: ProviderServer, **changes: Any) -> ProviderEnvironment:
    urls = {
        "openai": f"{server.url}/v1",
        "google_vision": f"{server.url}/v1",
        "stability": server.url,
    }
    settings = Settings(
        workflows_provider_urls=tuple(urls.items()),
        workflows_provider_timeout_s=5.0,
        workflows_provider_retries=1,
        **changes,
    )
    env = provider_environment(settings, HttpProviderTransport(settings))
    return ProviderEnvironment(**{**env.__dict__, "backoff_s": 0.01})


def image(width: int = 64, height: int = 48) -> WorkflowImage:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (0, 0, 255)
    return WorkflowImage.from_input(pixels, "img")


def run_step(
    block_type: str, env: ProviderEnvironment | None, values: dict[str, Any], **fields: Any
) -> Any:
    """Validate ``fields`` with the block's manifest, then run it with ``values`` standing in
    for the selectors' data."""
    block = BLOCKS[block_type]
    manifest = block.manifest.model_validate({"type": block_type, "name": "s", **fields})
    inputs = StepInputs(
        "s", block_type, {**manifest.model_dump(exclude={"type", "name"}), **values}
    )
    return block().run_batch([inputs], RunContext(models=FakeModels(), providers=env))[0]


def decoded(b64: str) -> tuple[int, ...]:
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    return tuple(pixels.shape)


def _reply(text: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


def _sent_parts(server: ProviderServer) -> tuple[str, dict[str, Any]]:
    [user] = server.requests[0].json["messages"]
    text, picture = user["content"]
    assert text["type"] == "text"
    assert picture["type"] == "image_url"
    return text["text"], picture["image_url"]


def test_open_ai_v1_json_output(server: ProviderServer) -> None:
    server.reply_json(_reply('{"count": 2, "colour": "red"}'))
    out = run_step(
        "OpenAI",
        environment(server),
        {"images": image()},
        images="$inputs.image",
        prompt="Count the cats",
        openai_api_key="sk-test",
        json_output_format={"count": "number of cats", "mood": "their mood"},
        image_detail="low",
    )
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "gpt-4o"
    assert sent.json["max_tokens"] == 450
    text, picture = _sent_parts(server)
    assert text.startswith("Count the cats\n\nVALID response format is JSON:\n{\n")
    assert '"count": "number of cats"' in text
    assert picture["detail"] == "low"
    assert picture["url"].startswith("data:image/jpeg;base64,")
    assert decoded(picture["url"].split(",", 1)[1]) == (48, 64, 3)
    assert out["raw_output"] == '{"count": 2, "colour": "red"}'
    assert out["structured_output"] == {"count": 2, "mood": "not_detected"}
    assert (out["count"], out["mood"]) == (2, "not_detected")
    assert out["image"] == {"width": 64, "height": 48}
    assert (out["parent_id"], out["root_parent_id"]) == ("img", "img")
    manifest = BLOCKS["OpenAI"].manifest.model_validate(
        {"type": "OpenAI", "name": "s", "images": "$inputs.image", "prompt": "p",
         "openai_api_key": None, "json_output_format": {"count": "n"}}
    )  # fmt: skip
    names = [o.name for o in BLOCKS["OpenAI"]().outputs_for(manifest)]
    assert names == ["parent_id", "root_parent_id", "image", "structured_output", "raw_output",
                     "count"]  # fmt: skip


def test_lmm_v1_config_and_fenced_json(server: ProviderServer) -> None:
    server.reply_json(_reply('Sure:\n```json\n{"count": 3}\n```'))
    out = run_step(
        "roboflow_core/lmm@v1",
        environment(server),
        {"images": image(), "remote_api_key": "sk-lmm"},
        images="$inputs.image",
        prompt="How many?",
        lmm_type="gpt_4v",
        lmm_config={"max_tokens": 20, "gpt_image_detail": "high", "gpt_model_version": "gpt-x"},
        remote_api_key="$inputs.key",
        json_output={"count": "how many"},
    )
    sent = server.requests[0]
    assert sent.headers["Authorization"] == "Bearer sk-lmm"
    assert (sent.json["model"], sent.json["max_tokens"]) == ("gpt-x", 20)
    assert _sent_parts(server)[1]["detail"] == "high"
    assert out["structured_output"] == {"count": 3}
    assert out["count"] == 3


def test_lmm_for_classification(server: ProviderServer) -> None:
    server.reply_json(_reply('{"top": "dog"}'))
    out = run_step(
        "LMMForClassification",
        environment(server),
        {"images": image()},
        images="$inputs.image",
        lmm_type="gpt_4v",
        classes=["cat", "dog"],
        remote_api_key="sk-c",
    )
    text, _ = _sent_parts(server)
    assert text == (
        "You are supposed to perform image classification task. You are given image that "
        "should be assigned one of the following classes: ['cat', 'dog']. "
        'Your response must be JSON in format: {"top": "some_class"}'
    )
    assert server.requests[0].json["max_tokens"] == 450
    assert out == {
        "raw_output": '{"top": "dog"}',
        "top": "dog",
        "parent_id": "img",
        "root_parent_id": "img",
        "image": {"width": 64, "height": 48},
        "prediction_type": "classification",
    }


def test_cogvlm_is_refused_naming_the_field(server: ProviderServer) -> None:
    base = {"type": "LMM", "name": "s", "images": "$inputs.image", "prompt": "p"}
    with pytest.raises(ValidationError, match="lmm_type"):
        BLOCKS["LMM"].manifest.model_validate({**base, "lmm_type": "cog_vlm"})
    with pytest.raises(Exception, match=r"field 'lmm_type'.*CogVLM needs local model weights"):
        run_step(
            "LMM",
            environment(server),
            {"images": image(), "lmm_type": "cog_vlm"},
            images="$inputs.image",
            prompt="p",
            lmm_type="$inputs.kind",
            remote_api_key="sk",
        )
    assert server.requests == []


def test_missing_key_and_egress_off(server: ProviderServer) -> None:
    fields = {"images": "$inputs.image", "lmm_type": "gpt_4v", "classes": ["a"]}
    with pytest.raises(Exception, match="VISIONFLOW_WORKFLOWS_PROVIDER_KEYS"):
        run_step("LMMForClassification", environment(server), {"images": image()}, **fields)
    off = environment(server, workflows_allow_egress=False)
    with pytest.raises(EgressDisabledError, match="VISIONFLOW_WORKFLOWS_ALLOW_EGRESS"):
        run_step(
            "OpenAI", off, {"images": image()}, images="$inputs.image", prompt="p",
            openai_api_key="sk",
        )  # fmt: skip
    assert server.requests == []
