"""``embedding_model@v1`` (an embedding per image, from a CLIP model) and ``cosine_similarity@v1``.

The reference's ``embedding_model`` embeds images with classifiers (ResNet, ViT, DINOv3); this
server embeds with CLIP only, through ``ModelRunner.clip_embed`` like ``clip@v1``: ``model_id``
is ``clip/<version>`` (``clip/ViT-B-16``…, mapped as ``clip_version_id`` is) or the id of a
registered CLIP package (``clip/1``). Any other model id is a 400 that says so, and so is
``output_type: logits`` (CLIP has no classifier head). Texts (from a parameter) embed in the same
space as images, so the two compare with ``cosine_similarity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field

from visionflow.models.clip import cosine_similarity
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.clip import ClipVersion, embed_batch
from visionflow.workflows.manifest import ImageSelector, ModelIdSelector, Reference, StepManifest
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["EMBEDDING_BLOCKS"]

CLIP_PREFIX = "clip/"
CLIP_VERSIONS: tuple[str, ...] = get_args(ClipVersion)
EmbeddingSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.EMBEDDING,))]


def _feature_vector_only(value: str) -> str:
    if value != "feature_vector":
        raise ValueError(
            f"unsupported output_type {value!r}: supported is feature_vector (this server "
            "embeds with CLIP, which has no classifier logits)"
        )
    return value


class EmbeddingModelManifest(StepManifest):
    data: ImageSelector
    model_id: ModelIdSelector | str
    output_type: Annotated[
        Literal["feature_vector", "logits"], AfterValidator(_feature_vector_only)
    ] = "feature_vector"


class CosineSimilarityManifest(StepManifest):
    embedding_1: EmbeddingSelector
    embedding_2: EmbeddingSelector


def clip_version(inputs: StepInputs) -> str:
    """What ``model_id`` names for ``ModelRunner.clip_embed``: a CLIP version, or a registered
    model id (``<project>/<version>``; the runner checks it is a CLIP package)."""
    model_id = inputs.as_str("model_id").strip()
    if model_id.startswith(CLIP_PREFIX) and model_id[len(CLIP_PREFIX) :] in CLIP_VERSIONS:
        return model_id[len(CLIP_PREFIX) :]
    if "/" in model_id.strip("/"):
        return model_id
    raise inputs.fail(
        "model_id",
        f"unsupported embedding model {model_id!r}: this server computes embeddings with CLIP "
        f"only; use 'clip/<version>' (versions: {', '.join(CLIP_VERSIONS)}) or the id of a "
        "registered CLIP package such as 'clip/1' (classifier embeddings from ResNet, ViT or "
        "DINOv3 are not supported)",
    )


class EmbeddingModelV1(Block):
    """``embedding`` (``D`` floats, unnormalized) and ``embedding_info`` for each image (or text).
    Elements naming the same model are embedded in one call."""

    type = "roboflow_core/embedding_model@v1"
    manifest = EmbeddingModelManifest
    outputs = (
        OutputDefinition("embedding", (k.EMBEDDING,)),
        OutputDefinition("embedding_info", (k.DICTIONARY,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        vectors = embed_batch(batch, context, clip_version)
        return [
            {
                "embedding": [float(v) for v in vector],
                "embedding_info": _info(
                    inputs.as_str("model_id").strip(),
                    "text" if isinstance(inputs.get("data"), str) else "image",
                    len(vector),
                ),
            }
            for inputs, vector in zip(batch, vectors, strict=True)
        ]


def _info(model_id: str, source: str, dimension: int) -> dict[str, Any]:
    """The reference's compatibility fields: vectors compare only within one ``space_id``."""
    return {
        "model_id": model_id,
        "feature_definition": f"clip-{source}-embedding",
        "output_type": "feature_vector",
        "dimension": dimension,
        "normalization": "none",
        "space_id": f"clip:{model_id}",
    }


def _vector(inputs: StepInputs, field: str) -> npt.NDArray[np.float64]:
    value = inputs.get(field)
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        vector = np.zeros(0)
    if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)):
        raise inputs.fail(
            field, f"expected a non-empty list of numbers, got {type(value).__name__}"
        )
    return vector


class CosineSimilarityV1(Block):
    """``similarity``: the cosine of the two embeddings (``0`` when one is all zeros)."""

    type = "roboflow_core/cosine_similarity@v1"
    manifest = CosineSimilarityManifest
    outputs = (OutputDefinition("similarity", (k.FLOAT,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        first, second = _vector(inputs, "embedding_1"), _vector(inputs, "embedding_2")
        if first.size != second.size:
            raise inputs.fail(
                "embedding_2",
                f"has {second.size} values but embedding_1 has {first.size}: compare embeddings "
                "of the same model",
            )
        return {"similarity": float(cosine_similarity(first[None], second[None])[0, 0])}


EMBEDDING_BLOCKS: tuple[type[Block], ...] = (EmbeddingModelV1, CosineSimilarityV1)
