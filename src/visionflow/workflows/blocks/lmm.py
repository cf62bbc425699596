"""The reference's first-generation LMM blocks: ``open_ai@v1`` (alias ``OpenAI``), ``lmm@v1``
(``LMM``) and ``lmm_for_classification@v1`` (``LMMForClassification``).

Each image goes to OpenAI's Chat Completions as the reference sends it (the prompt, then the
image as a base64 JPEG data URL with its ``detail``, ``max_tokens``), through ``llm_egress``
(egress switch, ``VISIONFLOW_WORKFLOWS_PROVIDER_URLS`` ``openai=...``, retries). Replies become
the reference's outputs: ``raw_output``, ``structured_output`` (the fields of ``json_output`` /
``json_output_format`` read from the reply's JSON, ``"not_detected"`` where missing) and each
field as its own output; the classifier asks for ``{"top": ...}`` and answers ``top``.

A missing key (``None``) uses the operator's OpenAI key from
``VISIONFLOW_WORKFLOWS_PROVIDER_KEYS``, or is refused naming the field and that setting.
``lmm_type`` ``gpt_4v`` is the only model the reference still runs; CogVLM (``cog_vlm``) needs
local weights it removed, and a step that asks for it is refused naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.llm_egress import provider_key, providers_of
from visionflow.workflows.blocks.llm_openai import chat_completion
from visionflow.workflows.blocks.llm_tasks import Prompt, encode_image
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    ImageSelector,
    ListOfValuesSelector,
    SecretSelector,
    StepManifest,
    StringSelector,
)

__all__ = ["LMM_BLOCKS"]

GPT_4V = "gpt_4v"
NOT_DETECTED = "not_detected"
_CONCURRENCY = 4
_JSON_BLOCK = re.compile(r"```json\n([\s\S]*?)\n```")

OpenAiModel = Literal["gpt-4o", "gpt-4o-mini", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.5"]
ImageDetail = Literal["auto", "high", "low"]


class LMMConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    max_tokens: int = 450
    gpt_image_detail: Literal["low", "high", "auto"] = "auto"
    gpt_model_version: str = "gpt-4o"


class OpenAIV1Manifest(StepManifest):
    images: ImageSelector
    prompt: StringSelector | str
    openai_api_key: SecretSelector | str | None
    openai_model: StringSelector | OpenAiModel = "gpt-4o"
    json_output_format: dict[str, str] | None = None
    image_detail: StringSelector | ImageDetail = "auto"
    max_tokens: int = 450


class LMMV1Manifest(StepManifest):
    images: ImageSelector
    prompt: StringSelector | str
    lmm_type: StringSelector | Literal["gpt_4v"]
    lmm_config: LMMConfig = Field(default_factory=LMMConfig)
    remote_api_key: SecretSelector | str | None = None
    json_output: dict[str, str] | None = None


class LMMForClassificationV1Manifest(StepManifest):
    images: ImageSelector
    lmm_type: StringSelector | Literal["gpt_4v"]
    classes: list[str] | ListOfValuesSelector
    lmm_config: LMMConfig = Field(default_factory=LMMConfig)
    remote_api_key: SecretSelector | str | None = None


_LINEAGE_OUTPUTS = (
    OutputDefinition("parent_id", (k.PARENT_ID,)),
    OutputDefinition("root_parent_id", (k.PARENT_ID,)),
    OutputDefinition("image", (k.IMAGE_METADATA,)),
)
_PROMPTING_OUTPUTS = (
    *_LINEAGE_OUTPUTS,
    OutputDefinition("structured_output", (k.DICTIONARY,)),
    OutputDefinition("raw_output", (k.STRING,)),
)


def _parse_json(text: str, fields: dict[str, str]) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return dict.fromkeys(fields, NOT_DETECTED)
    if not isinstance(data, dict):
        return dict.fromkeys(fields, NOT_DETECTED)
    return {key: data.get(key, NOT_DETECTED) for key in fields}


def structured(text: str, fields: dict[str, str] | None) -> dict[str, Any] | list[dict[str, Any]]:
    """The ``fields`` read from the reply: from each fenced JSON block (a list when there are
    several) or from the whole text, ``"not_detected"`` where one is missing."""
    if fields is None:
        return {}
    blocks = _JSON_BLOCK.findall(text)
    if not blocks:
        return _parse_json(text, fields)
    found = [_parse_json(block, fields) for block in blocks]
    return found if len(found) > 1 else found[0]


def with_format(prompt: str, fields: dict[str, str] | None) -> str:
    if not fields:
        return prompt
    return f"{prompt}\n\nVALID response format is JSON:\n{json.dumps(fields, indent=4)}"


def _config(inputs: StepInputs) -> LMMConfig:
    raw = inputs.get("lmm_config")
    if isinstance(raw, LMMConfig):
        return raw
    try:
        return LMMConfig.model_validate(raw or {})
    except ValueError as exc:
        raise inputs.fail("lmm_config", str(exc)) from None


def _check_lmm_type(inputs: StepInputs) -> None:
    lmm_type = inputs.get("lmm_type")
    if lmm_type != GPT_4V:
        raise inputs.fail(
            "lmm_type",
            f"{lmm_type!r} is not available: CogVLM needs local model weights, which the "
            "reference removed and this server does not have; use 'gpt_4v' (OpenAI)",
        )


class _GptPrompting(Block):
    """Asks OpenAI about each image of the batch, at most four requests at a time."""

    concurrent = True

    def ask(
        self,
        inputs: StepInputs,
        context: RunContext,
        image: WorkflowImage,
        prompt: str,
        *,
        key_field: str,
        model: str,
        detail: str,
        max_tokens: int,
    ) -> str:
        env = providers_of(context)
        reply = chat_completion(
            inputs,
            context,
            provider="openai",
            base_url=env.base_url("openai") if env is not None else "",
            api_key=provider_key(inputs, context, "openai", key_field),
            model=model,
            prompt=Prompt(None, prompt, encode_image(image)),
            max_tokens=max_tokens,
            image_detail=detail,
        )
        return reply.text

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        if len(batch) <= 1:
            return [self.run(inputs, context) for inputs in batch]
        with ThreadPoolExecutor(min(_CONCURRENCY, len(batch)), thread_name_prefix="lmm") as pool:
            return list(pool.map(lambda inputs: self.run(inputs, context), batch))


def _lineage(image: WorkflowImage) -> dict[str, Any]:
    height, width = image.pixels_bgr.shape[:2]
    return {
        "parent_id": image.lineage.image_id,
        "root_parent_id": image.lineage.root_id,
        "image": {"width": width, "height": height},
    }


def _prompting_outputs(
    image: WorkflowImage, text: str, fields: dict[str, str] | None
) -> dict[str, Any]:
    found = structured(text, fields)
    spread = found if isinstance(found, dict) else found[0]
    return {
        **_lineage(image),
        "structured_output": found,
        "raw_output": text,
        **spread,
    }


def _field_outputs(fields: dict[str, str] | None) -> tuple[OutputDefinition, ...]:
    extra = tuple(OutputDefinition(name, (k.WILDCARD,)) for name in fields or {})
    return (*_PROMPTING_OUTPUTS, *extra)


class OpenAIV1(_GptPrompting):
    type = "roboflow_core/open_ai@v1"
    aliases = ("OpenAI",)
    manifest = OpenAIV1Manifest
    outputs = (*_PROMPTING_OUTPUTS, OutputDefinition("*", (k.WILDCARD,)))

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, OpenAIV1Manifest)
        return _field_outputs(manifest.json_output_format)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        fields = inputs.get("json_output_format")
        text = self.ask(
            inputs,
            context,
            image,
            with_format(inputs.as_str("prompt"), fields),
            key_field="openai_api_key",
            model=inputs.as_str("openai_model"),
            detail=inputs.as_str("image_detail"),
            max_tokens=inputs.as_int("max_tokens", low=1),
        )
        return _prompting_outputs(image, text, fields)


class LMMV1(_GptPrompting):
    type = "roboflow_core/lmm@v1"
    aliases = ("LMM",)
    manifest = LMMV1Manifest
    outputs = (*_PROMPTING_OUTPUTS, OutputDefinition("*", (k.WILDCARD,)))

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, LMMV1Manifest)
        return _field_outputs(manifest.json_output)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        _check_lmm_type(inputs)
        image = inputs.image("images")
        fields = inputs.get("json_output")
        config = _config(inputs)
        text = self.ask(
            inputs,
            context,
            image,
            with_format(inputs.as_str("prompt"), fields),
            key_field="remote_api_key",
            model=config.gpt_model_version,
            detail=config.gpt_image_detail,
            max_tokens=config.max_tokens,
        )
        return _prompting_outputs(image, text, fields)


class LMMForClassificationV1(_GptPrompting):
    type = "roboflow_core/lmm_for_classification@v1"
    aliases = ("LMMForClassification",)
    manifest = LMMForClassificationV1Manifest
    outputs = (
        OutputDefinition("raw_output", (k.STRING,)),
        OutputDefinition("top", (k.TOP_CLASS,)),
        *_LINEAGE_OUTPUTS,
        OutputDefinition("prediction_type", (k.PREDICTION_TYPE,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        _check_lmm_type(inputs)
        image = inputs.image("images")
        classes = inputs.as_str_list("classes") or []
        config = _config(inputs)
        prompt = (
            "You are supposed to perform image classification task. You are given image that "
            f"should be assigned one of the following classes: {classes}. "
            'Your response must be JSON in format: {"top": "some_class"}'
        )
        text = self.ask(
            inputs,
            context,
            image,
            prompt,
            key_field="remote_api_key",
            model=config.gpt_model_version,
            detail=config.gpt_image_detail,
            max_tokens=config.max_tokens,
        )
        found = structured(text, {"top": "name of the class"})
        top = (found if isinstance(found, dict) else found[0])["top"]
        return {
            "raw_output": text,
            "top": top,
            **_lineage(image),
            "prediction_type": "classification",
        }


LMM_BLOCKS: tuple[type[Block], ...] = (OpenAIV1, LMMV1, LMMForClassificationV1)
