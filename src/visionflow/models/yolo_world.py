"""Open-vocabulary detection, YOLO-World style: the class names come with each call.

A package (architecture ``yolo-world``, task ``open-vocabulary-detection``) holds three weight
files: ``model`` — a detector graph with two inputs, ``images (B, 3, S, S)`` and
``txt_feats (1, K, D)``, and one output ``(B, 4 + K, A)`` (YOLOv8 rows: box centre/size, then K
class scores); ``text_encoder`` and ``tokenizer`` — the CLIP text side that turns class names
into ``D``-wide embeddings. ``extra`` carries ``max_classes`` (K), ``embedding_dim`` (D),
``context_length`` and ``pad_id`` (the tokenizer's, as in a CLIP package).
``scripts/export_yolo_world.py`` writes such packages.

K is fixed when the detector is exported. A call with ``n < K`` class names fills the unused
slots with copies of the first embedding — YOLO-World v2's text attention takes a maximum over
the classes, which duplicates leave unchanged, so the ``n`` real classes score exactly as a
detector exported for ``n`` would — and only the first ``n`` score rows are decoded, so the
unused slots never produce detections.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import make_detections
from visionflow.core.letterbox import ResizeMeta
from visionflow.errors import InvalidInputError, InvalidModelPackageError, ModelLoadError
from visionflow.models.base import SessionFactory, images_to_tensor
from visionflow.models.clip import ClipTextEncoder, ClipTokenizer
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import DetectionParams, OpenVocabularyParams, require_params
from visionflow.models.yolo import (
    MAX_DYNAMIC_BATCH,
    check_input_size,
    forward_padded,
    select_detections,
)
from visionflow.runtime import OnnxSession, TensorSpec

__all__ = [
    "EmbeddingCacheInfo",
    "OpenVocabularyParams",
    "YoloWorldModel",
    "check_class_names",
    "pad_embeddings",
]

TASK = "open-vocabulary-detection"
# Class lists whose text embeddings stay cached per loaded model.
DEFAULT_CACHE_SIZE = 256


@dataclass(frozen=True)
class EmbeddingCacheInfo:
    hits: int
    misses: int
    size: int
    max_size: int


def check_class_names(class_names: Sequence[Any], max_classes: int) -> tuple[str, ...]:
    """The class names as a tuple; an empty list, a non-string or blank name, or more than
    ``max_classes`` names is a 400 that says what to send."""
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise InvalidInputError(
            f"text must be a list of class names, got {type(class_names).__name__}"
        )
    if not class_names:
        raise InvalidInputError('text must name at least one class, e.g. ["person", "dog"]')
    for index, name in enumerate(class_names):
        if not isinstance(name, str):
            raise InvalidInputError(
                f"text[{index}] must be a string (a class name), got {type(name).__name__}"
            )
        if not name.strip():
            raise InvalidInputError(f"text[{index}] is blank: class names must not be empty")
    if len(class_names) > max_classes:
        raise InvalidInputError(
            f"this YOLO-World model takes at most {max_classes} class names per request "
            f"(K = {max_classes}, fixed when the detector was exported), got {len(class_names)}: "
            "send fewer classes, split them over several requests, or export the detector with "
            "a larger --max-classes",
            details={"max_classes": max_classes, "class_count": len(class_names)},
        )
    return tuple(class_names)


def pad_embeddings(
    embeddings: npt.NDArray[np.float32], max_classes: int
) -> npt.NDArray[np.float32]:
    """``(n, D)`` → ``(1, K, D)``: slots ``n..K-1`` repeat the first embedding (module doc)."""
    count = embeddings.shape[0]
    if not 1 <= count <= max_classes:
        raise ValueError(f"expected 1..{max_classes} embeddings, got {count}")
    padded = np.repeat(embeddings[:1], max_classes, axis=0)
    padded[:count] = embeddings
    return np.ascontiguousarray(padded[None], dtype=np.float32)


def _l2_normalize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class _EmbeddingCache:
    """A bounded LRU of class list → ``(n, D)`` unit embeddings (read-only arrays)."""

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._entries: OrderedDict[tuple[str, ...], npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: tuple[str, ...]) -> npt.NDArray[np.float32] | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self._misses += 1
                return None
            self._hits += 1
            self._entries.move_to_end(key)
            return value

    def put(self, key: tuple[str, ...], value: npt.NDArray[np.float32]) -> None:
        if self._max_size <= 0:
            return
        value.setflags(write=False)
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)

    def info(self) -> EmbeddingCacheInfo:
        with self._lock:
            return EmbeddingCacheInfo(self._hits, self._misses, len(self._entries), self._max_size)


def _graph_inputs(session: OnnxSession) -> tuple[TensorSpec, TensorSpec]:
    """The detector's image input ``(B, 3, H, W)`` and text input ``(1, K, D)``, by rank."""
    images = [spec for spec in session.inputs if len(spec.shape) == 4]
    texts = [spec for spec in session.inputs if len(spec.shape) == 3]
    if len(session.inputs) != 2 or len(images) != 1 or len(texts) != 1:
        found = ", ".join(f"{s.name} {s.shape}" for s in session.inputs)
        raise ModelLoadError(
            "a YOLO-World detector needs two inputs, images (B, 3, H, W) and txt_feats "
            f"(1, K, D); this graph has: {found}"
        )
    return images[0], texts[0]


class YoloWorldModel:
    """Class names → CLIP text embeddings (cached) → detector → ``sv.Detections`` named by them."""

    def __init__(
        self,
        manifest: ModelManifest,
        detector: OnnxSession,
        text_encoder: ClipTextEncoder,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.manifest = manifest
        self._detector = detector
        self._text_encoder = text_encoder
        self._image_input, self._text_input = _graph_inputs(detector)
        self.max_classes, self.embedding_dim = self._text_shape()
        check_input_size(manifest, self._image_input, "detector input")
        if text_encoder.dim != self.embedding_dim:
            raise ModelLoadError(
                f"the text encoder makes {text_encoder.dim}-wide embeddings, the detector takes "
                f"{self.embedding_dim}: package a text encoder of the detector's CLIP"
            )
        self._batch_size = self._image_input.shape[0]
        self._cache = _EmbeddingCache(cache_size)

    def _text_shape(self) -> tuple[int, int]:
        extra = self.manifest.extra
        batch, graph_k, graph_d = self._text_input.shape
        k = graph_k if graph_k is not None else extra.get("max_classes")
        d = graph_d if graph_d is not None else extra.get("embedding_dim")
        if not isinstance(k, int) or not isinstance(d, int) or k < 1 or d < 1:
            raise ModelLoadError(
                f"cannot tell K and D of the detector input {self._text_input.name} "
                f"{self._text_input.shape}: set extra.max_classes and extra.embedding_dim"
            )
        for key, graph_value in (("max_classes", k), ("embedding_dim", d)):
            declared = extra.get(key)
            if declared is not None and declared != graph_value:
                raise ModelLoadError(
                    f"model.json extra.{key} is {declared}, the detector graph says {graph_value}"
                )
        if batch not in (None, 1):
            raise ModelLoadError(f"txt_feats must have batch 1, got {self._text_input.shape}")
        return k, d

    @property
    def task(self) -> str:
        return TASK

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> YoloWorldModel:
        if package.manifest.task != TASK:
            raise InvalidModelPackageError(
                f"architecture 'yolo-world' needs task {TASK!r}, the manifest says "
                f"{package.manifest.task!r}"
            )
        extra = package.manifest.extra
        context_length = extra.get("context_length", 77)
        pad_id = extra.get("pad_id", 0)
        if not isinstance(context_length, int) or context_length < 2:
            raise ModelLoadError(f"extra.context_length must be an integer >= 2: {context_length}")
        if not isinstance(pad_id, int) or pad_id < 0:
            raise ModelLoadError(f"extra.pad_id must be a token id (integer >= 0): {pad_id}")
        tokenizer = ClipTokenizer.from_file(
            package.weight_path("tokenizer"), context_length=context_length, pad_id=pad_id
        )
        text_encoder = ClipTextEncoder(sessions(package.weight_path("text_encoder")), tokenizer)
        return cls(package.manifest, sessions(package.weight_path("model")), text_encoder)

    # -- text side --------------------------------------------------------------------------------

    def text_embeddings(self, class_names: Sequence[Any]) -> npt.NDArray[np.float32]:
        """``(n, D) float32`` L2-normalized CLIP embeddings of the names (cached per list)."""
        names = check_class_names(class_names, self.max_classes)
        cached = self._cache.get(names)
        if cached is not None:
            return cached
        embeddings = _l2_normalize(np.asarray(self._text_encoder.embed(list(names)), np.float32))
        self._cache.put(names, embeddings)
        return embeddings

    def cache_info(self) -> EmbeddingCacheInfo:
        return self._cache.info()

    # -- image side -------------------------------------------------------------------------------

    def preprocess(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
        return images_to_tensor(images_bgr, self.manifest.input)

    def forward(
        self, tensor: npt.NDArray[np.float32], txt_feats: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """``(B, 3, H, W)`` and ``(1, K, D)`` → ``(B, 4 + K, A)``; pads to a static batch."""
        [raw] = forward_padded(tensor, self._batch_size, lambda part: [self._run(part, txt_feats)])
        return raw

    def _run(
        self, tensor: npt.NDArray[np.float32], txt_feats: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        feeds: dict[str, npt.NDArray[np.generic]] = {
            self._image_input.name: tensor,
            self._text_input.name: txt_feats,
        }
        return np.asarray(self._detector.run(feeds)[0], dtype=np.float32)

    def postprocess(
        self,
        raw: npt.NDArray[np.float32],
        metas: Sequence[ResizeMeta],
        class_names: Sequence[str],
        params: DetectionParams,
    ) -> list[sv.Detections]:
        return [
            self._detections(raw[index], meta, class_names, params)
            for index, meta in enumerate(metas)
        ]

    def _detections(
        self,
        raw: npt.NDArray[np.float32],
        meta: ResizeMeta,
        class_names: Sequence[str],
        params: DetectionParams,
    ) -> sv.Detections:
        # Rows past 4 + n score the padded slots: never decoded, so never detected.
        kept = select_detections(raw[: 4 + len(class_names)], meta, params, class_names)
        return make_detections(kept.xyxy, kept.scores, kept.class_ids, class_names)

    # -- whole calls ------------------------------------------------------------------------------

    def infer_with_embeddings(
        self,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        embeddings: npt.NDArray[np.float32],
        class_names: Sequence[str],
        params: DetectionParams,
    ) -> list[sv.Detections]:
        """Detect ``class_names`` whose ``(n, D)`` embeddings the caller already has."""
        if embeddings.shape != (len(class_names), self.embedding_dim):
            raise ValueError(
                f"expected ({len(class_names)}, {self.embedding_dim}) embeddings, "
                f"got {embeddings.shape}"
            )
        txt_feats = pad_embeddings(embeddings, self.max_classes)
        step = self._batch_size or MAX_DYNAMIC_BATCH
        results: list[sv.Detections] = []
        for start in range(0, len(images_bgr), step):
            tensor, metas = self.preprocess(images_bgr[start : start + step])
            raw = self.forward(tensor, txt_feats)
            results.extend(self.postprocess(raw, metas, class_names, params))
        return results

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: OpenVocabularyParams
    ) -> list[sv.Detections]:
        checked = require_params(params, OpenVocabularyParams, type(self).__name__)
        if not checked.class_names:
            # What a route without class names (the legacy one, ``visionflow infer``) built.
            raise InvalidInputError(
                "this is an open-vocabulary (YOLO-World) model: the classes come with each "
                "request, so call POST /yolo_world/infer with text=[class names]"
            )
        embeddings = self.text_embeddings(checked.class_names)
        return self.infer_with_embeddings(images_bgr, embeddings, checked.class_names, checked)
