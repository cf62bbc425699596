"""OpenRouter model slugs of the reference's display names, per block family (its
``MODEL_VERSIONS`` tables); a name not listed is sent as given (``openrouter`` takes slugs)."""

from __future__ import annotations

from visionflow.workflows.block import StepInputs

__all__ = ["OPENROUTER_MODELS", "openrouter_model"]

OPENROUTER_MODELS: dict[str, dict[str, str]] = {
    "google_gemma": {
        "Gemma 4 26B A4B - OpenRouter": "google/gemma-4-26b-a4b-it",
        "Gemma 4 31B - OpenRouter": "google/gemma-4-31b-it",
    },
    "kimi_openrouter": {
        "Kimi K2.5 - OpenRouter": "moonshotai/kimi-k2.5",
        "Kimi K2.6 - OpenRouter": "moonshotai/kimi-k2.6",
    },
    "llama_3_2_vision": {
        "11B (Free) - OpenRouter": "meta-llama/llama-3.2-11b-vision-instruct:free",
        "11B (Regular) - OpenRouter": "meta-llama/llama-3.2-11b-vision-instruct",
        "90B (Free) - OpenRouter": "meta-llama/llama-3.2-90b-vision-instruct:free",
        "90B (Regular) - OpenRouter": "meta-llama/llama-3.2-90b-vision-instruct",
    },
    "llama_vision": {
        "11B (Free) - OpenRouter": "meta-llama/llama-3.2-11b-vision-instruct:free",
        "11B (Regular) - OpenRouter": "meta-llama/llama-3.2-11b-vision-instruct",
        "11B - OpenRouter": "meta-llama/llama-3.2-11b-vision-instruct",
        "90B (Free) - OpenRouter": "meta-llama/llama-3.2-90b-vision-instruct:free",
        "90B (Regular) - OpenRouter": "meta-llama/llama-3.2-90b-vision-instruct",
        "90B - OpenRouter": "meta-llama/llama-3.2-90b-vision-instruct",
    },
    "meta_vlm": {
        "Muse Glimmer": "meta/muse-glimmer-30b",
        "Muse Spark 1.1": "meta/muse-spark-1.1",
        "Muse Spark 1.2": "meta/muse-spark-1.2",
        "Muse Spark 1.3": "meta/muse-spark-1.3",
        "Muse Wonder": "meta/muse-wonder",
    },
    "mistral_vlm": {
        "Mistral Large 4": "mistralai/mistral-large-4-0",
    },
    "qwen3_5_openrouter": {
        "Qwen 3.5 122B A10B - OpenRouter": "qwen/qwen3.5-122b-a10b",
        "Qwen 3.5 27B - OpenRouter": "qwen/qwen3.5-27b",
        "Qwen 3.5 397B A17B - OpenRouter": "qwen/qwen3.5-397b-a17b",
        "Qwen 3.5 9B - OpenRouter": "qwen/qwen3.5-9b",
        "Qwen 3.5 Flash 02-23 - OpenRouter": "qwen/qwen3.5-flash-02-23",
        "Qwen 3.5 Plus 20260420 - OpenRouter": "qwen/qwen3.5-plus-20260420",
    },
    "qwen3_6_openrouter": {
        "Qwen 3.6 27B - OpenRouter": "qwen/qwen3.6-27b",
        "Qwen 3.6 35B A3B - OpenRouter": "qwen/qwen3.6-35b-a3b",
        "Qwen 3.6 Flash - OpenRouter": "qwen/qwen3.6-flash",
        "Qwen 3.6 Max Preview - OpenRouter": "qwen/qwen3.6-max-preview",
        "Qwen 3.6 Plus - OpenRouter": "qwen/qwen3.6-plus",
    },
    "qwen_vlm": {
        "Qwen 2.5 VL 7B": "qwen25-vl-7b",
        "Qwen 3 VL 235B A22B": "qwen/qwen3-vl-235b-a22b-instruct",
        "Qwen 3 VL 235B A22B Thinking": "qwen/qwen3-vl-235b-a22b-thinking",
        "Qwen 3 VL 2B": "qwen3vl-2b-instruct",
        "Qwen 3 VL 30B A3B Instruct": "qwen/qwen3-vl-30b-a3b-instruct",
        "Qwen 3 VL 30B A3B Thinking": "qwen/qwen3-vl-30b-a3b-thinking",
        "Qwen 3 VL 32B Instruct": "qwen/qwen3-vl-32b-instruct",
        "Qwen 3 VL 8B Instruct": "qwen/qwen3-vl-8b-instruct",
        "Qwen 3 VL 8B Thinking": "qwen/qwen3-vl-8b-thinking",
        "Qwen 3.5 122B A10B": "qwen/qwen3.5-122b-a10b",
        "Qwen 3.5 27B": "qwen/qwen3.5-27b",
        "Qwen 3.5 35B A3B": "qwen/qwen3.5-35b-a3b",
        "Qwen 3.5 397B A17B": "qwen/qwen3.5-397b-a17b",
        "Qwen 3.5 9B": "qwen/qwen3.5-9b",
        "Qwen 3.5 Flash": "qwen/qwen3.5-flash-02-23",
        "Qwen 3.5 Flash 02-23": "qwen/qwen3.5-flash-02-23",
        "Qwen 3.5 Plus": "qwen/qwen3.5-plus-20260420",
        "Qwen 3.5 Plus 02-15": "qwen/qwen3.5-plus-02-15",
        "Qwen 3.5 VL 0.8B": "qwen3_5-0.8b",
        "Qwen 3.5 VL 2B": "qwen3_5-2b",
        "Qwen 3.6 27B": "qwen/qwen3.6-27b",
        "Qwen 3.6 35B A3B": "qwen/qwen3.6-35b-a3b",
        "Qwen 3.6 Flash": "qwen/qwen3.6-flash",
        "Qwen 3.6 Plus": "qwen/qwen3.6-plus",
        "Qwen 3.7 Flash": "qwen/qwen3.7-flash",
        "Qwen 3.7 Plus": "qwen/qwen3.7-plus",
        "Qwen 3.8 27B": "qwen/qwen3.8-27b",
        "Qwen 3.8 Flash": "qwen/qwen3.8-flash",
        "Qwen 3.8 Max": "qwen/qwen3.8-max",
        "Qwen 3.8 VL 27B": "qwen3_8-27b",
    },
    "zai_vlm": {
        "GLM 5.3 Flash": "z-ai/glm-5.3-flash",
        "GLM 5V Turbo": "z-ai/glm-5v-turbo",
    },
}


def openrouter_model(inputs: StepInputs, block_type: str, field: str) -> str:
    """The slug to send for the block's ``field`` (its display name or a slug)."""
    family = block_type.split("/", 1)[1].split("@")[0]
    label = inputs.as_str(field)
    return OPENROUTER_MODELS.get(family, {}).get(label, label)
