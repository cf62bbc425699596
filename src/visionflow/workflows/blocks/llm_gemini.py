"""Google's Gemini API: ``POST {base}/models/{model}:generateContent`` with the
``x-goog-api-key`` header, images as ``inline_data`` parts (documented at
https://ai.google.dev/api/generate-content)."""

from __future__ import annotations

from typing import Any

from visionflow.workflows.block import RunContext, StepInputs
from visionflow.workflows.blocks.llm_egress import ProviderError, ProviderRequest, call_json
from visionflow.workflows.blocks.llm_openai import Reply
from visionflow.workflows.blocks.llm_tasks import Prompt

__all__ = ["generate_content"]


def generate_content(
    inputs: StepInputs,
    context: RunContext,
    *,
    base_url: str,
    api_key: str,
    model: str,
    prompt: Prompt,
    max_tokens: int | None,
    temperature: float | None,
    thinking_level: str | None = None,
    code_execution: bool = False,
) -> Reply:
    parts: list[dict[str, Any]] = [
        {"inline_data": {"mime_type": prompt.mime, "data": prompt.image_b64}}
    ]
    if prompt.text is not None:
        parts.append({"text": prompt.text})
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}]}
    if prompt.system is not None:
        body["systemInstruction"] = {"role": "system", "parts": [{"text": prompt.system}]}
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if temperature is not None:
        config["temperature"] = temperature
    if thinking_level is not None:
        config["thinkingConfig"] = {"thinkingLevel": thinking_level}
    if config:
        body["generationConfig"] = config
    if code_execution:
        body["tools"] = [{"code_execution": {}}]
    data = call_json(
        inputs,
        context,
        "gemini",
        ProviderRequest(
            "POST",
            f"{base_url}/models/{model}:generateContent",
            {"Content-Type": "application/json", "x-goog-api-key": api_key},
            body,
        ),
    )
    candidates = data.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        feedback = data.get("promptFeedback") or {}
        raise ProviderError(
            f"Gemini answered step {inputs.step!r} with no candidates"
            + (f" (blocked: {feedback.get('blockReason')})" if feedback else "")
        )
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    found = (candidate.get("content") or {}).get("parts") or []
    text = "".join(str(p.get("text", "")) for p in found if isinstance(p, dict) and "text" in p)
    if not text:
        reason = candidate.get("finishReason")
        if reason == "MAX_TOKENS":
            raise ProviderError(
                "Gemini stopped generation because the max_tokens limit was reached. "
                "Please increase the max_tokens parameter."
            )
        raise ProviderError(f"Gemini answered step {inputs.step!r} with no text ({reason})")
    usage: dict[str, Any] = u if isinstance(u := data.get("usageMetadata"), dict) else {}
    return Reply(text, usage.get("promptTokenCount"), usage.get("candidatesTokenCount"))
