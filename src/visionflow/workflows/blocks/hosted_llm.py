"""The hosted LLM/VLM blocks: OpenAI, Anthropic Claude, Google Gemini, OpenRouter and the
models the reference reaches through it (Gemma, Kimi, Qwen, Llama, Mistral, Meta, Z.ai), xAI
(``spacexai``) and any OpenAI-compatible server. One class per API family; each type id of the
reference is a subclass that names its manifest (``hosted_manifests``) and its knobs.

Requests go through ``llm_egress`` (egress switch, base URLs, keys, timeouts, retries). A
batch's images are sent concurrently, at most ``max_concurrent_requests`` at a time (default 4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from visionflow.workflows.block import Block, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.hosted_manifests import hosted_spec
from visionflow.workflows.blocks.llm_anthropic import (
    EXACT_VERSIONS,
    default_max_tokens,
    messages_call,
    shrink,
)
from visionflow.workflows.blocks.llm_egress import (
    ProviderEnvironment,
    provider_key,
    providers_of,
)
from visionflow.workflows.blocks.llm_gemini import generate_content
from visionflow.workflows.blocks.llm_openai import (
    Reply,
    chat_completion,
    openrouter_routing,
    response_call,
)
from visionflow.workflows.blocks.llm_tasks import (
    Prompt,
    build_prompt,
    decode_predictions,
    encode_image,
    missing_task_fields,
)
from visionflow.workflows.blocks.openrouter_models import openrouter_model
from visionflow.workflows.lineage import WorkflowImage

__all__ = ["HOSTED_LLM_BLOCKS"]

_DEFAULT_CONCURRENCY = 4
_PARAMETER = re.compile(r"({{\s*\$parameters\.(\w+)\s*}})")


def _env(context: RunContext) -> ProviderEnvironment | None:
    return providers_of(context)


def _base(context: RunContext, provider: str) -> str:
    env = _env(context)
    return env.base_url(provider) if env is not None else ""


def _opt_str(inputs: StepInputs, name: str) -> str | None:
    value = inputs.get(name)
    return None if value is None else inputs.as_str(name)


def _opt_int(inputs: StepInputs, name: str) -> int | None:
    return None if inputs.get(name) is None else inputs.as_int(name, low=1)


def _opt_float(inputs: StepInputs, name: str) -> float | None:
    return None if inputs.get(name) is None else inputs.as_float(name)


class _VlmBlock(Block):
    """A task-typed VLM block: build the task's prompt, ask the provider, shape the outputs."""

    concurrent = True

    provider: ClassVar[str]

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        raise NotImplementedError

    def prepare(self, inputs: StepInputs, image: WorkflowImage) -> WorkflowImage:
        return image

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        if len(batch) <= 1:
            return [self.run(inputs, context) for inputs in batch]
        limit = batch[0].get("max_concurrent_requests") or _DEFAULT_CONCURRENCY
        workers = max(1, min(int(limit), len(batch), 16))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vlm") as pool:
            return list(pool.map(lambda inputs: self.run(inputs, context), batch))

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        task = str(inputs.get("task_type") or "unconstrained")
        text = _opt_str(inputs, "prompt")
        classes = inputs.as_str_list("classes")
        structure = inputs.get("output_structure")
        problem = missing_task_fields(task, text, classes, structure)
        if problem:
            raise inputs.fail("task_type", problem)
        prompt = build_prompt(
            task,
            encode_image(self.prepare(inputs, image)),
            prompt=text,
            classes=classes,
            output_structure=structure if isinstance(structure, dict) else None,
        )
        reply = self.ask(inputs, context, prompt)
        outputs: dict[str, Any] = {
            "output": reply.text,
            "classes": classes,
            "thinking": reply.thinking,
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
        }
        names = {o.name for o in self.outputs}
        if "predictions" in names:
            predictions, failed, inference_id = decode_predictions(task, reply.text, image, classes)
            outputs |= {
                "predictions": predictions,
                "error_status": failed,
                "inference_id": inference_id,
            }
        return {name: value for name, value in outputs.items() if name in names}


class _OpenAiChat(_VlmBlock):
    """OpenAI v2/v3: Chat Completions (v3 sends ``max_completion_tokens``)."""

    provider = "openai"
    tokens_field: ClassVar[str] = "max_tokens"

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        return chat_completion(
            inputs,
            context,
            provider="openai",
            base_url=_base(context, "openai"),
            api_key=provider_key(inputs, context, "openai"),
            model=inputs.as_str("model_version"),
            prompt=prompt,
            max_tokens=_opt_int(inputs, "max_tokens"),
            max_tokens_field=self.tokens_field,
            temperature=_opt_float(inputs, "temperature"),
            image_detail=inputs.as_str("image_detail"),
        )


class _OpenAiResponses(_VlmBlock):
    """OpenAI v4 to v7: the Responses API."""

    provider = "openai"

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        return response_call(
            inputs,
            context,
            base_url=_base(context, "openai"),
            api_key=provider_key(inputs, context, "openai"),
            model=inputs.as_str("model_version"),
            prompt=prompt,
            image_detail=inputs.as_str("image_detail"),
            max_tokens=_opt_int(inputs, "max_tokens"),
            temperature=_opt_float(inputs, "temperature"),
            reasoning_effort=_opt_str(inputs, "reasoning_effort"),
            service_tier=_opt_str(inputs, "service_tier"),
        )


class _Claude(_VlmBlock):
    provider = "anthropic"

    def prepare(self, inputs: StepInputs, image: WorkflowImage) -> WorkflowImage:
        return shrink(image, inputs.as_int("max_image_size", low=1))

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        version = inputs.as_str("model_version")
        max_tokens = _opt_int(inputs, "max_tokens") or default_max_tokens(version)
        thinking = None
        if inputs.get("extended_thinking"):
            thinking = _opt_int(inputs, "thinking_budget_tokens") or min(10000, max_tokens - 1)
        return messages_call(
            inputs,
            context,
            base_url=_base(context, "anthropic"),
            api_key=provider_key(inputs, context, "anthropic"),
            model=EXACT_VERSIONS.get(version, version),
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=_opt_float(inputs, "temperature"),
            thinking_budget=thinking,
        )


class _Gemini(_VlmBlock):
    provider = "gemini"

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        return generate_content(
            inputs,
            context,
            base_url=_base(context, "gemini"),
            api_key=provider_key(inputs, context, "gemini"),
            model=inputs.as_str("model_version"),
            prompt=prompt,
            max_tokens=_opt_int(inputs, "max_tokens"),
            temperature=_opt_float(inputs, "temperature"),
            thinking_level=_opt_str(inputs, "thinking_level"),
            code_execution=bool(inputs.get("google_code_execution")),
        )


class _OpenRouter(_VlmBlock):
    """Every block the reference sends through OpenRouter's Chat Completions."""

    provider = "openrouter"

    def model(self, inputs: StepInputs) -> str:
        if "model_id" in inputs:
            return inputs.as_str("model_id")
        if inputs.get("backend") == "native":
            raise inputs.fail(
                "backend",
                "the native backend runs Qwen-VL weights locally, which visionflow does not "
                "have; use backend 'openrouter'",
            )
        field = "openrouter_model_version" if "backend" in inputs else "model_version"
        return openrouter_model(inputs, self.type, field)

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        extra: dict[str, Any] = {}
        routing = openrouter_routing(_opt_str(inputs, "privacy_level"))
        if routing is not None:
            extra["provider"] = routing
        effort = _opt_str(inputs, "reasoning_effort")
        if effort is not None and effort != "none":
            extra["reasoning"] = {"effort": effort}
        if inputs.get("enable_thinking"):
            extra["reasoning"] = {**extra.get("reasoning", {}), "enabled": True}
        return chat_completion(
            inputs,
            context,
            provider="openrouter",
            base_url=_base(context, "openrouter"),
            api_key=provider_key(inputs, context, "openrouter"),
            model=self.model(inputs),
            prompt=prompt,
            max_tokens=_opt_int(inputs, "max_tokens"),
            temperature=_opt_float(inputs, "temperature"),
            extra=extra,
        )


class _Xai(_VlmBlock):
    provider = "xai"

    def ask(self, inputs: StepInputs, context: RunContext, prompt: Prompt) -> Reply:
        effort = _opt_str(inputs, "reasoning_effort")
        return chat_completion(
            inputs,
            context,
            provider="xai",
            base_url=_base(context, "xai"),
            api_key=provider_key(inputs, context, "xai"),
            model=inputs.as_str("model_version"),
            prompt=prompt,
            max_tokens=_opt_int(inputs, "max_tokens"),
            temperature=_opt_float(inputs, "temperature"),
            extra={"reasoning_effort": effort} if effort else None,
        )


class OpenAiCompatibleV1(Block):
    """A chat call to any OpenAI-compatible server at ``base_url`` with a templated prompt
    (``{{ $parameters.name }}``; images among the parameters become image parts). Failures
    answer ``output: ""`` and the error in ``error_status``, as the reference's block does; a
    refused egress or URL is still an error of the step."""

    concurrent = True

    type = "roboflow_core/openai_compatible@v1"
    manifest, aliases, outputs = hosted_spec(type)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        params = dict(inputs.get("prompt_parameters") or {})
        template = inputs.as_str("prompt")
        images: list[str] = []
        for name, value in params.items():
            values = value if isinstance(value, list) else [value]
            if values and all(isinstance(v, WorkflowImage) for v in values):
                images += [f"data:image/jpeg;base64,{encode_image(v)}" for v in values]
                template = re.sub(r"{{\s*\$parameters\." + name + r"\s*}}", "", template)
        text = _PARAMETER.sub(
            lambda m: str(params[m.group(2)]) if m.group(2) in params else m.group(1), template
        ).strip()
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content += [{"type": "image_url", "image_url": {"url": url}} for url in images]
        messages: list[dict[str, Any]] = []
        system = _opt_str(inputs, "system_prompt")
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": content})
        base_url = inputs.as_str("base_url").rstrip("/")
        env = _env(context)
        extra = dict(inputs.get("extra_body") or {})
        extra["messages"] = messages
        try:
            reply = chat_completion(
                inputs,
                context,
                provider="openai_compatible",
                base_url=base_url,
                api_key=_opt_str(inputs, "api_key") or "",
                model=inputs.as_str("model_name"),
                prompt=Prompt(None, None, ""),
                max_tokens=inputs.as_int("max_tokens", low=1),
                temperature=_opt_float(inputs, "temperature"),
                extra=extra,
                guarded=env is None or not env.trusted(base_url),
            )
        except Exception as exc:
            if getattr(exc, "code", None) in ("egress_disabled", "url_not_allowed"):
                raise
            return {"output": "", "error_status": str(exc)}
        return {"output": reply.text, "error_status": ""}


def _make(base: type[_VlmBlock], block_type: str, **attrs: Any) -> type[Block]:
    manifest, aliases, outputs = hosted_spec(block_type)
    name = manifest.__name__.removesuffix("Manifest")
    namespace = {"type": block_type, "manifest": manifest, "aliases": aliases, "outputs": outputs}
    return type(name, (base,), {**namespace, **attrs})


def _versions(base: type[_VlmBlock], name: str, versions: Sequence[int]) -> list[type[Block]]:
    return [_make(base, f"roboflow_core/{name}@v{v}") for v in versions]


HOSTED_LLM_BLOCKS: tuple[type[Block], ...] = (
    _make(_OpenAiChat, "roboflow_core/open_ai@v2"),
    _make(_OpenAiChat, "roboflow_core/open_ai@v3", tokens_field="max_completion_tokens"),
    *_versions(_OpenAiResponses, "open_ai", range(4, 8)),
    *_versions(_Claude, "anthropic_claude", range(1, 6)),
    *_versions(_Gemini, "google_gemini", range(1, 7)),
    *_versions(_OpenRouter, "google_gemma", range(1, 5)),
    *_versions(_OpenRouter, "openrouter", range(1, 4)),
    *_versions(_OpenRouter, "kimi_openrouter", range(1, 4)),
    *_versions(_OpenRouter, "qwen3_5_openrouter", (1,)),
    *_versions(_OpenRouter, "qwen3_6_openrouter", (1,)),
    *_versions(_OpenRouter, "llama_3_2_vision", (1,)),
    *_versions(_OpenRouter, "llama_vision", (2,)),
    *_versions(_OpenRouter, "mistral_vlm", (1,)),
    *_versions(_OpenRouter, "meta_vlm", range(1, 4)),
    *_versions(_OpenRouter, "zai_vlm", (1, 2)),
    *_versions(_OpenRouter, "qwen_vlm", range(1, 5)),
    *_versions(_Xai, "spacexai", range(1, 4)),
    OpenAiCompatibleV1,
)
