"""Anthropic's Messages API (``POST {base}/v1/messages``, ``x-api-key`` and
``anthropic-version: 2023-06-01`` headers; images as base64 ``image`` content blocks), as
documented at https://docs.anthropic.com/en/api/messages."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from visionflow.workflows.block import RunContext, StepInputs
from visionflow.workflows.blocks.llm_egress import ProviderError, ProviderRequest, call_json
from visionflow.workflows.blocks.llm_openai import Reply
from visionflow.workflows.blocks.llm_tasks import Prompt
from visionflow.workflows.lineage import WorkflowImage

__all__ = ["ANTHROPIC_VERSION", "EXACT_VERSIONS", "messages_call", "shrink"]

ANTHROPIC_VERSION = "2023-06-01"
# The reference's block model names → the API's model ids.
EXACT_VERSIONS = {
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-3-7-sonnet": "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-v2": "claude-sonnet-4-5-20250929",
    "claude-3-5-haiku": "claude-3-5-haiku-20241022",
    "claude-3-5-sonnet": "claude-sonnet-4-5-20250929",
    "claude-3-opus": "claude-3-opus-20240229",
    "claude-3-haiku": "claude-3-haiku-20240307",
}
# Newer models answer up to 128k tokens; the reference asks for the model's most when the block
# gives no max_tokens.
_MAX_OUTPUT = {"claude-sonnet-4-6": 64000, "claude-opus-4-1": 32000, "claude-opus-4": 32000}
_MAX_OUTPUT_4 = 64000


def default_max_tokens(model_version: str) -> int:
    if model_version in _MAX_OUTPUT:
        return _MAX_OUTPUT[model_version]
    if model_version in EXACT_VERSIONS:
        return _MAX_OUTPUT_4
    return 128000


def shrink(image: WorkflowImage, max_size: int) -> WorkflowImage:
    """The image with its longer edge at most ``max_size`` px (the reference's
    ``max_image_size``), aspect kept; unchanged when it already fits."""
    height, width = image.pixels_bgr.shape[:2]
    if max(height, width) <= max_size or max_size < 1:
        return image
    scale = max_size / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(image.pixels_bgr, size, interpolation=cv2.INTER_AREA)
    return image.with_pixels(np.asarray(resized, dtype=np.uint8))


def messages_call(
    inputs: StepInputs,
    context: RunContext,
    *,
    base_url: str,
    api_key: str,
    model: str,
    prompt: Prompt,
    max_tokens: int,
    temperature: float | None,
    thinking_budget: int | None = None,
) -> Reply:
    content: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": prompt.mime, "data": prompt.image_b64},
        }
    ]
    if prompt.text is not None:
        content.append({"type": "text", "text": prompt.text})
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    if prompt.system is not None:
        body["system"] = prompt.system
    if temperature is not None:
        body["temperature"] = temperature
    if thinking_budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    data = call_json(
        inputs,
        context,
        "anthropic",
        ProviderRequest(
            "POST",
            f"{base_url}/v1/messages",
            {
                "Content-Type": "application/json",
                "x-api-key": api_key,
                "anthropic-version": ANTHROPIC_VERSION,
            },
            body,
        ),
    )
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise ProviderError(f"anthropic answered step {inputs.step!r} without content")
    text = "".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )
    thinking = "".join(
        str(b.get("thinking", ""))
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "thinking"
    )
    if not text and data.get("stop_reason") == "max_tokens":
        raise ProviderError(
            "Claude stopped generation because the max_tokens limit was reached. "
            "Please increase the max_tokens parameter."
        )
    usage: dict[str, Any] = u if isinstance(u := data.get("usage"), dict) else {}
    return Reply(text, usage.get("input_tokens"), usage.get("output_tokens"), thinking)
