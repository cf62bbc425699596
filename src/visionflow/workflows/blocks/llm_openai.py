"""The OpenAI API family: Chat Completions (``POST {base}/chat/completions``: OpenAI's older
blocks, OpenRouter, xAI and any OpenAI-compatible server) and Responses
(``POST {base}/responses``: OpenAI's blocks from v4), images sent as base64 data URLs.

OpenAI documents both at https://platform.openai.com/docs/api-reference; OpenRouter's
``provider`` routing object (data collection, zero retention) and ``reasoning`` at
https://openrouter.ai/docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visionflow.workflows.block import RunContext, StepInputs
from visionflow.workflows.blocks.llm_egress import ProviderError, ProviderRequest, call_json
from visionflow.workflows.blocks.llm_tasks import Prompt

__all__ = ["Reply", "chat_completion", "chat_messages", "openrouter_routing", "response_call"]


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    thinking: str = ""


def chat_messages(prompt: Prompt, image_detail: str | None = None) -> list[dict[str, Any]]:
    image: dict[str, Any] = {"url": prompt.data_url}
    if image_detail is not None:
        image["detail"] = image_detail
    content: list[dict[str, Any]] = []
    if prompt.text is not None:
        content.append({"type": "text", "text": prompt.text})
    content.append({"type": "image_url", "image_url": image})
    messages: list[dict[str, Any]] = []
    if prompt.system is not None:
        messages.append({"role": "system", "content": prompt.system})
    messages.append({"role": "user", "content": content})
    return messages


def openrouter_routing(privacy_level: str | None) -> dict[str, Any] | None:
    """OpenRouter's ``provider`` object for the reference's ``privacy_level``."""
    if privacy_level == "deny":
        return {"data_collection": "deny"}
    if privacy_level == "zdr":
        return {"data_collection": "deny", "zdr": True}
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def chat_completion(
    inputs: StepInputs,
    context: RunContext,
    *,
    provider: str,
    base_url: str,
    api_key: str | None,
    model: str,
    prompt: Prompt,
    max_tokens: int | None = None,
    max_tokens_field: str = "max_tokens",
    temperature: float | None = None,
    image_detail: str | None = None,
    extra: dict[str, Any] | None = None,
    guarded: bool = False,
) -> Reply:
    body: dict[str, Any] = {"model": model, "messages": chat_messages(prompt, image_detail)}
    if max_tokens is not None:
        body[max_tokens_field] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    body.update(extra or {})
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = call_json(
        inputs,
        context,
        provider,
        ProviderRequest("POST", f"{base_url}/chat/completions", headers, body, guarded=guarded),
    )
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        detail = data.get("error")
        raise ProviderError(
            f"{provider} answered step {inputs.step!r} without choices"
            + (f": {detail}" if detail else "")
        )
    message = choices[0].get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # some servers answer content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        hint = (
            " (it ran out of tokens: raise max_tokens)"
            if choices[0].get("finish_reason") == "length"
            else ""
        )
        raise ProviderError(f"{provider} answered step {inputs.step!r} with no text{hint}")
    usage: dict[str, Any] = u if isinstance(u := data.get("usage"), dict) else {}
    reasoning = message.get("reasoning")
    return Reply(
        content,
        _int_or_none(usage.get("prompt_tokens")),
        _int_or_none(usage.get("completion_tokens")),
        reasoning if isinstance(reasoning, str) else "",
    )


def response_call(
    inputs: StepInputs,
    context: RunContext,
    *,
    base_url: str,
    api_key: str,
    model: str,
    prompt: Prompt,
    image_detail: str,
    max_tokens: int | None,
    temperature: float | None,
    reasoning_effort: str | None = None,
    service_tier: str | None = None,
) -> Reply:
    """One call of OpenAI's Responses API (``input_text`` / ``input_image`` parts)."""
    content: list[dict[str, Any]] = []
    if prompt.text is not None:
        content.append({"type": "input_text", "text": prompt.text})
    content.append({"type": "input_image", "image_url": prompt.data_url, "detail": image_detail})
    body: dict[str, Any] = {"model": model, "input": [{"role": "user", "content": content}]}
    if prompt.system is not None:
        body["instructions"] = prompt.system
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if reasoning_effort is not None:
        body["reasoning"] = {"effort": reasoning_effort}
    if service_tier is not None:
        body["service_tier"] = service_tier
    data = call_json(
        inputs,
        context,
        "openai",
        ProviderRequest(
            "POST",
            f"{base_url}/responses",
            {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
            body,
        ),
    )
    status = data.get("status")
    if status == "failed":
        error = data.get("error") or {}
        raise ProviderError(
            f"OpenAI API request of step {inputs.step!r} failed: "
            f"{error.get('code', 'Unknown')}: {error.get('message', 'Unknown error')}"
        )
    if status == "incomplete":
        reason = (data.get("incomplete_details") or {}).get("reason", "Unknown reason")
        if reason == "max_output_tokens":
            raise ProviderError(
                "OpenAI API stopped generation because the max_tokens limit was reached. "
                "Please increase the max_tokens parameter to allow for a complete response."
            )
        raise ProviderError(f"OpenAI API returned an incomplete response. Reason: {reason}")
    if status == "cancelled":
        raise ProviderError("OpenAI API request was cancelled.")
    texts = [
        str(part.get("text", ""))
        for item in data.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    ]
    text = "".join(texts)
    if not text:
        raise ProviderError("OpenAI API returned no text content in response.")
    usage: dict[str, Any] = u if isinstance(u := data.get("usage"), dict) else {}
    return Reply(
        text, _int_or_none(usage.get("input_tokens")), _int_or_none(usage.get("output_tokens"))
    )
