"""CLIP use cases: image and text embeddings, and subject-vs-prompts cosine similarity.

``clip_version_id`` values (``ViT-B-16``, ``RN50``, …) map to registered CLIP packages through
``Settings.clip_models`` (``VISIONFLOW_CLIP_MODELS``); a ``<project>/<version>`` model id is also
accepted directly. Models resolve in the caller's workspaces and load through the ModelManager
like every other model.

One ``/clip`` request carries at most ``Settings.clip_max_batch_size`` images, texts or prompts
(``VISIONFLOW_CLIP_MAX_BATCH_SIZE``, the reference's ``CLIP_MAX_BATCH_SIZE`` = 8); workflow
blocks may embed more through :meth:`ClipService.embed`, which runs the model in chunks of that
size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from visionflow.errors import InvalidInputError
from visionflow.models.clip import ClipModel, cosine_similarity
from visionflow.service.auth import Principal
from visionflow.service.images import ImageLoader, ImageRef
from visionflow.service.inference import InferenceService
from visionflow.service.versions import VersionMap

__all__ = [
    "ClipInput",
    "ClipPrompts",
    "ClipService",
    "parse_prompts",
    "parse_subject",
    "parse_texts",
]

T = TypeVar("T")
InputType = Literal["image", "text"]
_INPUT_TYPES = ("image", "text")


@dataclass(frozen=True)
class ClipInput:
    """One thing to embed: an image declaration or a text."""

    type: InputType
    value: ImageRef | str


@dataclass(frozen=True)
class ClipPrompts:
    """The prompts of a compare request; ``names`` is set when they came as a dict."""

    items: tuple[ClipInput, ...]
    names: tuple[str, ...] | None = None


def parse_texts(value: Any, field: str = "text") -> list[str]:
    """A text or a list of texts, each non-blank."""
    texts = value if isinstance(value, list) else [value]
    if not texts:
        raise InvalidInputError(f"'{field}' is an empty list: send at least one text")
    for index, text in enumerate(texts):
        where = f"'{field}'" if not isinstance(value, list) else f"'{field}[{index}]'"
        if not isinstance(text, str):
            raise InvalidInputError(
                f"{where} must be a string, not {type(text).__name__}",
            )
        if not text.strip():
            raise InvalidInputError(f"{where} is empty: CLIP needs some text to embed")
    return list(texts)


def _input_type(raw: Any, field: str) -> InputType:
    if raw is None:
        raise InvalidInputError(f"'{field}' must be 'image' or 'text'")
    kind = str(raw).lower()
    if kind not in _INPUT_TYPES:
        raise InvalidInputError(
            f"unknown {field} {raw!r}: use 'image' or 'text'",
            details={"supported": ["image", "text"]},
        )
    return "image" if kind == "image" else "text"


def _is_image_object(value: Any) -> bool:
    return isinstance(value, dict) and "type" in value and "value" in value


def _item(value: Any, kind: InputType, where: str) -> ClipInput:
    if kind == "text":
        if isinstance(value, dict):
            raise InvalidInputError(f"{where} is an object but its type is 'text': send a string")
        if not isinstance(value, str):
            raise InvalidInputError(f"{where} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise InvalidInputError(f"{where} is empty: CLIP needs some text to embed")
        return ClipInput("text", value)
    if isinstance(value, str):
        raise InvalidInputError(
            f"{where} is a string but its type is 'image': send an image object "
            '{"type": "base64" | "url", "value": ...} or set the type to \'text\''
        )
    if not _is_image_object(value) or not isinstance(value["type"], str):
        raise InvalidInputError(
            f'{where} must be an image object {{"type": "base64" | "url", "value": ...}}'
        )
    return ClipInput("image", ImageRef(type=value["type"], value=value["value"]))


def parse_subject(value: Any, subject_type: Any) -> ClipInput:
    if value is None:
        raise InvalidInputError("'subject' is required")
    if isinstance(value, list):
        raise InvalidInputError("'subject' must be one image or one text, not a list")
    return _item(value, _input_type(subject_type, "subject_type"), "'subject'")


def parse_prompts(value: Any, prompt_type: Any) -> ClipPrompts:
    """An image or text, a list of them, or a dict ``{name: image | text}`` (not an image
    object): the answer then carries the names."""
    kind = _input_type(prompt_type, "prompt_type")
    if value is None:
        raise InvalidInputError("'prompt' is required")
    if isinstance(value, dict) and not _is_image_object(value):
        if not value:
            raise InvalidInputError("'prompt' is an empty object: send at least one prompt")
        items = tuple(_item(v, kind, f"'prompt[{k!r}]'") for k, v in value.items())
        return ClipPrompts(items, tuple(str(k) for k in value))
    if isinstance(value, list):
        if not value:
            raise InvalidInputError("'prompt' is an empty list: send at least one prompt")
        return ClipPrompts(tuple(_item(v, kind, f"'prompt[{i}]'") for i, v in enumerate(value)))
    return ClipPrompts((_item(value, kind, "'prompt'"),))


class ClipService:
    """Embeddings and similarities from the CLIP package a ``clip_version_id`` names."""

    def __init__(self, inference: InferenceService, images: ImageLoader | None = None) -> None:
        self._inference = inference
        self._images = images
        settings = inference.settings
        self.max_batch_size = settings.clip_max_batch_size
        self._versions = VersionMap(
            family="CLIP",
            request_field="clip_version_id",
            setting="VISIONFLOW_CLIP_MODELS",
            export_script="scripts/export_clip.py",
            example_model_id="clip/2",
            default=settings.clip_default_version,
            versions=dict(settings.clip_models),
        )

    def model_id(self, version: str | None) -> str:
        """The registered model id that ``version`` (or the default version) maps to."""
        return self._versions.model_id(version)

    def model(self, principal: Principal, version: str | None) -> ClipModel:
        view = self._versions.acquire(self._inference, principal, version)
        if not isinstance(view.model, ClipModel):
            raise InvalidInputError(
                f"model {self.model_id(version)!r} is a {view.record.task} model, not a CLIP model",
                details={"model_task": view.record.task},
            )
        return view.model

    def check_batch(self, count: int, field: str) -> None:
        """A 400 when one request carries more than ``clip_max_batch_size`` items in ``field``."""
        limit = self.max_batch_size
        if count > limit:
            raise InvalidInputError(
                f"'{field}' has {count} items but one CLIP request takes at most {limit} "
                f"(VISIONFLOW_CLIP_MAX_BATCH_SIZE={limit}, the reference's CLIP_MAX_BATCH_SIZE): "
                "send them in several requests",
                details={"count": count, "max_batch_size": limit},
            )

    def image_embeddings(
        self, principal: Principal, version: str | None, refs: Sequence[ImageRef]
    ) -> npt.NDArray[np.float32]:
        """``(N, D) float32``, unnormalized, of one request's images (1 to
        ``max_batch_size``; checked before any image loads)."""
        if not refs:
            raise InvalidInputError("no image given: send at least one image")
        self.check_batch(len(refs), "image")
        images = self._loader().load_all(refs)
        return self.model(principal, version).image.embed(images)

    def text_embeddings(
        self, principal: Principal, version: str | None, texts: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        """``(N, D) float32``, unnormalized, of one request's texts (1 to ``max_batch_size``)."""
        if not texts:
            raise InvalidInputError("'text' is an empty list: send at least one text")
        self.check_batch(len(texts), "text")
        return self.model(principal, version).text.embed(texts)

    def embed(
        self,
        principal: Principal,
        version: str | None,
        values: Sequence[npt.NDArray[np.uint8] | str],
    ) -> npt.NDArray[np.float32]:
        """Embeddings of BGR images and texts, mixed, in order: images and texts each run
        through the model in chunks of at most ``max_batch_size``. No count limit here: the
        caller (a route or a workflow block) bounds ``values``."""
        model = self.model(principal, version)
        out = np.zeros((len(values), model.dim), dtype=np.float32)
        texts = [i for i, value in enumerate(values) if isinstance(value, str)]
        images = [i for i, value in enumerate(values) if not isinstance(value, str)]
        if images:
            out[images] = self._chunked(
                model.image.embed, [np.asarray(values[i], np.uint8) for i in images]
            )
        if texts:
            out[texts] = self._chunked(model.text.embed, [str(values[i]) for i in texts])
        return out

    def _chunked(
        self, encode: Callable[[list[T]], npt.NDArray[np.float32]], items: list[T]
    ) -> npt.NDArray[np.float32]:
        step = self.max_batch_size
        return np.concatenate([encode(items[i : i + step]) for i in range(0, len(items), step)])

    def compare(
        self,
        principal: Principal,
        version: str | None,
        subject: ClipInput,
        prompts: ClipPrompts,
    ) -> list[float] | dict[str, float]:
        """Cosine similarity of the subject with each prompt (a dict when prompts were named);
        at most ``max_batch_size`` prompts, checked before any image loads."""
        self.check_batch(len(prompts.items), "prompt")
        items = (subject, *prompts.items)
        refs = [item.value for item in items if isinstance(item.value, ImageRef)]
        # Every image is counted and its header checked before any is decoded.
        images = iter(self._loader().load_all(refs) if refs else [])
        values = [item.value if isinstance(item.value, str) else next(images) for item in items]
        vectors = self.embed(principal, version, values)
        scores = [float(s) for s in cosine_similarity(vectors[:1], vectors[1:])[0]]
        if prompts.names is not None:
            return dict(zip(prompts.names, scores, strict=True))
        return scores

    def _loader(self) -> ImageLoader:
        if self._images is None:
            raise InvalidInputError("this CLIP service was built without an image loader")
        return self._images
