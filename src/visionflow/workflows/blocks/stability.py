"""Stability AI's image blocks: ``stability_ai_image_gen@v1``, ``stability_ai_inpainting@v1``
and ``stability_ai_outpainting@v1``, on the v2beta Stable Image REST API the reference calls.

Each step sends one ``multipart/form-data`` POST (``Authorization: Bearer <key>``, ``Accept:
image/*``, ``output_format=jpeg``) and the answer's bytes are the new image:

- image_gen: ``/v2beta/stable-image/generate/{ultra,core,sd3}`` (another ``model`` means
  ``core``, as in the reference) with ``prompt``, ``negative_prompt`` and, for a variation of an
  input image, the image (JPEG) and ``strength``. The result is a new image (its own id).
- inpainting: ``/v2beta/stable-image/edit/inpaint`` with the image and a mask: white where the
  ``segmentation_mask`` detections' masks are (blurred by a 15x15 Gaussian, inverted when
  ``invert_segmentation_mask``), plus ``prompt``, ``negative_prompt``, ``preset`` and ``seed``.
- outpainting: ``/v2beta/stable-image/edit/outpaint`` with the image, ``left``/``right``/
  ``up``/``down`` (each at most 2000 px), ``creativity`` (clamped to [0, 1]), ``prompt``,
  ``preset`` and ``seed``; with no direction given the image is returned unchanged and nothing
  is sent.

Seeds are clamped to [0, 4294967294]. The base URL is the provider ``stability`` of
``VISIONFLOW_WORKFLOWS_PROVIDER_URLS``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from visionflow.core.images import decode_image_bytes
from visionflow.core.visualization import encode_jpeg
from visionflow.errors import VisionflowError
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.classical_cv import replace_pixels
from visionflow.workflows.blocks.llm_egress import (
    ProviderError,
    ProviderRequest,
    call_provider,
    provider_key,
    providers_of,
)
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    SecretSelector,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["STABILITY_BLOCKS"]

PROVIDER = "stability"
GENERATE = {
    "ultra": "/v2beta/stable-image/generate/ultra",
    "core": "/v2beta/stable-image/generate/core",
    "sd3": "/v2beta/stable-image/generate/sd3",
}
INPAINT = "/v2beta/stable-image/edit/inpaint"
OUTPAINT = "/v2beta/stable-image/edit/outpaint"
MAX_SEED = 4294967294
MAX_OUTPAINT_PX = 2000
Preset = Literal[
    "3d-model",
    "analog-film",
    "anime",
    "cinematic",
    "comic-book",
    "digital-art",
    "enhance",
    "fantasy-art",
    "isometric",
    "line-art",
    "low-poly",
    "modeling-compound",
    "neon-punk",
    "origami",
    "photographic",
    "pixel-art",
    "tile-texture",
]

SegmentationSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.INSTANCE_SEGMENTATION_PREDICTION,))
]


class StabilityAiImageGenV1Manifest(StepManifest):
    image: ImageSelector | None = None
    strength: float | FloatZeroToOneSelector = 0.3
    prompt: StringSelector | str
    negative_prompt: StringSelector | str | None = None
    model: StringSelector | str | None = "core"
    api_key: SecretSelector | str


class StabilityAiInpaintingV1Manifest(StepManifest):
    image: ImageSelector
    segmentation_mask: SegmentationSelector
    prompt: StringSelector | str
    negative_prompt: StringSelector | str | None = None
    api_key: SecretSelector | str
    invert_segmentation_mask: BooleanSelector | bool = False
    preset: Preset | None = None
    seed: IntegerSelector | int | None = None


class StabilityAiOutpaintingV1Manifest(StepManifest):
    image: ImageSelector
    creativity: FloatZeroToOneSelector | float = 0.5
    left: IntegerSelector | int | None = None
    right: IntegerSelector | int | None = None
    up: IntegerSelector | int | None = None
    down: IntegerSelector | int | None = None
    prompt: StringSelector | str | None = None
    preset: Preset | None = None
    seed: IntegerSelector | int | None = None
    api_key: SecretSelector | str


def _jpeg(pixels: npt.NDArray[np.uint8]) -> bytes:
    return encode_jpeg(pixels, 95)


def _seed(inputs: StepInputs) -> int | None:
    if inputs.get("seed") is None:
        return None
    seed = max(0, min(MAX_SEED, inputs.as_int("seed")))
    return seed or None


def _optional_str(inputs: StepInputs, name: str) -> str | None:
    return None if inputs.get(name) is None else inputs.as_str(name)


def _send(
    inputs: StepInputs,
    context: RunContext,
    path: str,
    data: dict[str, Any],
    files: dict[str, bytes],
) -> npt.NDArray[np.uint8]:
    """POST the form to ``path`` and decode the image Stability answers with."""
    env = providers_of(context)
    base = env.base_url(PROVIDER) if env is not None else ""
    response = call_provider(
        inputs,
        context,
        PROVIDER,
        ProviderRequest(
            "POST",
            f"{base}{path}",
            {
                "Authorization": f"Bearer {provider_key(inputs, context, PROVIDER)}",
                "Accept": "image/*",
            },
            data={name: str(value) for name, value in data.items()},
            files=files,
        ),
    )
    try:
        return decode_image_bytes(response.body, max_pixels=context.budget.limits.max_image_pixels)
    except VisionflowError as exc:
        raise ProviderError(
            f"{PROVIDER} answered step {inputs.step!r} with an image this server refuses: {exc}"
        ) from None


_OUTPUTS = (OutputDefinition("image", (k.IMAGE,)),)


class StabilityAiImageGenV1(Block):
    concurrent = True

    type = "roboflow_core/stability_ai_image_gen@v1"
    manifest = StabilityAiImageGenV1Manifest
    outputs = _OUTPUTS

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        data: dict[str, Any] = {"prompt": inputs.as_str("prompt"), "output_format": "jpeg"}
        # The reference always sends a multipart form, with a dummy part when there is no image.
        files = {"none": b""}
        if inputs.get("image") is not None:
            files = {"image": _jpeg(inputs.image("image").pixels_bgr)}
            data["strength"] = inputs.as_float("strength")
        negative = _optional_str(inputs, "negative_prompt")
        if negative is not None:
            data["negative_prompt"] = negative
        model = inputs.get("model")
        path = GENERATE.get(model if isinstance(model, str) else "core", GENERATE["core"])
        pixels = _send(inputs, context, path, data, files)
        return {"image": WorkflowImage.from_input(pixels, f"stability_ai.{uuid.uuid4()}")}


def inpainting_mask(
    detections_mask: npt.NDArray[np.bool_] | None, shape: tuple[int, ...], invert: bool
) -> npt.NDArray[np.uint8]:
    """The mask image Stability's inpaint takes: white on the masks, black elsewhere, softened
    by a 15x15 Gaussian (inverted on request)."""
    mask = np.zeros(shape, dtype=np.uint8)
    if detections_mask is not None and len(detections_mask):
        mask[np.any(detections_mask, axis=0)] = 255
    blurred = np.asarray(cv2.GaussianBlur(mask, (15, 15), 0), dtype=np.uint8)
    return np.asarray(cv2.bitwise_not(blurred), dtype=np.uint8) if invert else blurred


class StabilityAiInpaintingV1(Block):
    concurrent = True

    type = "roboflow_core/stability_ai_inpainting@v1"
    manifest = StabilityAiInpaintingV1Manifest
    outputs = _OUTPUTS

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        detections = inputs.detections("segmentation_mask")
        if len(detections) and detections.mask is None:
            raise inputs.fail(
                "segmentation_mask", "these detections have no masks (use a segmentation model)"
            )
        if detections.mask is not None and detections.mask.shape[1:] != image.pixels_bgr.shape[:2]:
            raise inputs.fail(
                "segmentation_mask",
                f"masks of {detections.mask.shape[2]}x{detections.mask.shape[1]} px do not fit "
                f"the {image.pixels_bgr.shape[1]}x{image.pixels_bgr.shape[0]} px image",
            )
        masks = None if detections.mask is None else np.asarray(detections.mask, dtype=bool)
        mask = inpainting_mask(
            masks, image.pixels_bgr.shape, inputs.as_bool("invert_segmentation_mask")
        )
        data: dict[str, Any] = {"prompt": inputs.as_str("prompt"), "output_format": "jpeg"}
        negative = _optional_str(inputs, "negative_prompt")
        if negative is not None:
            data["negative_prompt"] = negative
        if inputs.get("preset") is not None:
            data["preset"] = inputs.as_str("preset")
        seed = _seed(inputs)
        if seed is not None:
            data["seed"] = seed
        files = {"image": _jpeg(image.pixels_bgr), "mask": _jpeg(mask)}
        return {"image": replace_pixels(image, _send(inputs, context, INPAINT, data, files))}


class StabilityAiOutpaintingV1(Block):
    concurrent = True

    type = "roboflow_core/stability_ai_outpainting@v1"
    manifest = StabilityAiOutpaintingV1Manifest
    outputs = _OUTPUTS

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        sides = {
            side: min(MAX_OUTPAINT_PX, max(0, inputs.as_int(side)))
            for side in ("left", "right", "up", "down")
            if inputs.get(side) is not None
        }
        sides = {side: px for side, px in sides.items() if px}
        if not sides:
            return {"image": image.with_pixels(image.pixels_bgr.copy())}
        creativity = max(0.0, min(1.0, inputs.as_float("creativity")))
        data: dict[str, Any] = {"output_format": "jpeg", "creativity": creativity, **sides}
        if inputs.get("preset") is not None:
            data["preset"] = inputs.as_str("preset")
        prompt = _optional_str(inputs, "prompt")
        if prompt:
            data["prompt"] = prompt
        seed = _seed(inputs)
        if seed is not None:
            data["seed"] = seed
        files = {"image": _jpeg(image.pixels_bgr)}
        return {"image": replace_pixels(image, _send(inputs, context, OUTPAINT, data, files))}


STABILITY_BLOCKS: tuple[type[Block], ...] = (
    StabilityAiImageGenV1,
    StabilityAiInpaintingV1,
    StabilityAiOutpaintingV1,
)
