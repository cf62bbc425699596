"""CLIP blocks: ``clip_comparison@v1`` / ``@v2`` (image vs texts) and ``clip@v1`` (an embedding).

All reach the CLIP model through ``ModelRunner.clip_embed``; the ``version`` (``ViT-B-16``…)
maps to a registered CLIP package on the server (``VISIONFLOW_CLIP_MODELS``). Similarities are
cosines of the unnormalized embeddings, as ``/clip/compare`` answers them.

Unlike ``/clip/compare`` (at most ``VISIONFLOW_CLIP_MAX_BATCH_SIZE`` prompts a request), a step
may compare with up to :data:`MAX_CLASSES` classes in one call: the server's ``clip_embed``
runs the model in chunks of the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field

from visionflow.config import ClipVersion
from visionflow.models.clip import cosine_similarity
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    ImageSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["CLIP_BLOCKS", "MAX_CLASSES", "ClipVersion", "embed_batch"]

# Texts one comparison step embeds at most: enough for any label set, small enough that one
# step cannot keep the model busy for minutes.
MAX_CLASSES = 1000

ImageOrStringSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.IMAGE, k.STRING))
]
PREDICTION_TYPE = "embeddings-comparison"


def _not_empty(value: list[str] | str) -> list[str] | str:
    if isinstance(value, list) and not value:
        raise ValueError("give at least one class")
    return value


class ClipComparisonManifestV1(StepManifest):
    images: ImageSelector
    texts: ListOfValuesSelector | list[str]


class ClipComparisonManifestV2(StepManifest):
    images: ImageSelector
    classes: Annotated[ListOfValuesSelector | list[str], AfterValidator(_not_empty)]
    version: ClipVersion | StringSelector = "ViT-B-16"


class ClipManifestV1(StepManifest):
    data: ImageOrStringSelector | str
    version: ClipVersion | StringSelector = "ViT-B-32"


def _texts(inputs: StepInputs, field: str) -> list[str]:
    texts = inputs.as_str_list(field)
    if not texts:
        raise inputs.fail(field, "expected a non-empty list of strings")
    if len(texts) > MAX_CLASSES:
        raise inputs.fail(
            field, f"has {len(texts)} classes: a CLIP comparison takes at most {MAX_CLASSES}"
        )
    if not all(text.strip() for text in texts):
        raise inputs.fail(field, "CLIP cannot embed an empty string")
    return texts


def _version(inputs: StepInputs) -> str | None:
    value = inputs.get("version")
    if value is None:
        return None
    if not isinstance(value, str):
        raise inputs.fail("version", f"expected a CLIP version name, got {value!r}")
    return value


def _similarities(
    inputs: StepInputs, context: RunContext, field: str
) -> tuple[WorkflowImage, list[str], list[float]]:
    image = inputs.image("images")
    texts = _texts(inputs, field)
    vectors = context.models.clip_embed(_version(inputs), [image.pixels_bgr, *texts])
    scores = [float(s) for s in cosine_similarity(vectors[:1], vectors[1:])[0]]
    return image, texts, scores


class ClipComparisonV1(Block):
    """Cosine similarity of each image with each text: ``similarity`` in text order."""

    concurrent = True

    type = "roboflow_core/clip_comparison@v1"
    aliases = ("ClipComparison",)
    manifest = ClipComparisonManifestV1
    outputs = (
        OutputDefinition("similarity", (k.LIST_OF_VALUES,)),
        OutputDefinition("parent_id", (k.PARENT_ID,)),
        OutputDefinition("root_parent_id", (k.PARENT_ID,)),
        OutputDefinition("prediction_type", (k.PREDICTION_TYPE,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image, _, scores = _similarities(inputs, context, "texts")
        return {
            "similarity": scores,
            "parent_id": image.lineage.image_id,
            "root_parent_id": image.lineage.root_id,
            "prediction_type": PREDICTION_TYPE,
        }


class ClipComparisonV2(Block):
    """As v1 for ``classes``, plus the most and least similar class and a classification-style
    prediction whose confidences are the similarities (classes in the order given)."""

    concurrent = True

    type = "roboflow_core/clip_comparison@v2"
    manifest = ClipComparisonManifestV2
    outputs = (
        OutputDefinition("similarities", (k.LIST_OF_VALUES,)),
        OutputDefinition("max_similarity", (k.FLOAT_ZERO_TO_ONE,)),
        OutputDefinition("most_similar_class", (k.STRING,)),
        OutputDefinition("min_similarity", (k.FLOAT_ZERO_TO_ONE,)),
        OutputDefinition("least_similar_class", (k.STRING,)),
        OutputDefinition("classification_predictions", (k.CLASSIFICATION_PREDICTION,)),
        OutputDefinition("parent_id", (k.PARENT_ID,)),
        OutputDefinition("root_parent_id", (k.PARENT_ID,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image, classes, scores = _similarities(inputs, context, "classes")
        best, worst = int(np.argmax(scores)), int(np.argmin(scores))
        return {
            "similarities": scores,
            "max_similarity": scores[best],
            "most_similar_class": classes[best],
            "min_similarity": scores[worst],
            "least_similar_class": classes[worst],
            "classification_predictions": {
                "predictions": [
                    {"class": name, "class_id": index, "confidence": score}
                    for index, (name, score) in enumerate(zip(classes, scores, strict=True))
                ],
                "top": classes[best],
                "confidence": scores[best],
                "parent_id": image.lineage.image_id,
            },
            "parent_id": image.lineage.image_id,
            "root_parent_id": image.lineage.root_id,
        }


class ClipV1(Block):
    """The CLIP embedding of an image or a text (``embedding``: ``D`` floats)."""

    concurrent = True

    type = "roboflow_core/clip@v1"
    manifest = ClipManifestV1
    outputs = (OutputDefinition("embedding", (k.EMBEDDING,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        vectors = embed_batch(batch, context, _version)
        return [{"embedding": [float(v) for v in vector]} for vector in vectors]


def clip_input(inputs: StepInputs) -> npt.NDArray[np.uint8] | str:
    """The image (BGR pixels) or the text in the step's ``data`` field."""
    value = inputs.get("data")
    if isinstance(value, WorkflowImage):
        return value.pixels_bgr
    if isinstance(value, str) and value.strip():
        return value
    raise inputs.fail("data", f"expected an image or a non-empty string, got {value!r}")


def embed_batch(
    batch: Sequence[StepInputs],
    context: RunContext,
    version_of: Callable[[StepInputs], str | None],
) -> list[npt.NDArray[np.float32]]:
    """The CLIP embedding of each element's ``data``, in order: one model call per version that
    ``version_of`` names, so a batch of images (or texts) is embedded together."""
    vectors: dict[int, npt.NDArray[np.float32]] = {}
    groups: dict[str | None, list[int]] = {}
    for index, inputs in enumerate(batch):
        groups.setdefault(version_of(inputs), []).append(index)
    for version, indices in groups.items():
        found = context.models.clip_embed(version, [clip_input(batch[i]) for i in indices])
        vectors.update(zip(indices, found, strict=True))
    return [vectors[i] for i in range(len(batch))]


CLIP_BLOCKS: tuple[type[Block], ...] = (ClipComparisonV1, ClipComparisonV2, ClipV1)
