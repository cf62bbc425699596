"""Semantic segmentation: a class for every pixel.

``extra["output"]`` says what the graph emits: ``logits`` ``(B, K, H, W)``, ``probability`` — one
foreground probability map ``(B, 1, H, W)``, ``(B, H, W, 1)`` or ``(B, H, W)`` (class 1 where
``p > 0.5``, else class 0) — or ``class_map`` ``(B, H, W)`` of ids.

Logits follow the reference's default engine (wire reference §8.4): the letterbox padding is cut
off (``visionflow.core.masks.cut_padding``), every class plane is resized to the image with the
antialiased bilinear filter, **then** softmax over classes gives the confidence (max) and the class
(argmax). ``K`` may be the number of classes, or one less when the labels include ``background``
but the graph has no channel for it, or 1 (a sigmoid foreground). Pixels whose confidence is
below the request's ``confidence`` become the background class (the one named ``background``,
else class 0) with confidence 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.core.letterbox import ResizeMeta
from visionflow.core.masks import cut_padding
from visionflow.core.resample import resize_antialiased
from visionflow.core.results import SemanticSegmentationResult
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory, images_to_tensor
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import SemanticParams, require_params
from visionflow.runtime import OnnxSession

# SemanticParams lives in visionflow.models.params; it stays importable from here.
__all__ = ["SemanticParams", "SemanticSegmentationModel"]

_OUTPUTS = {"logits", "probability", "class_map"}


def _background_id(names: Sequence[str]) -> int:
    lowered = [name.lower() for name in names]
    return lowered.index("background") if "background" in lowered else 0


def _softmax_planes(
    logits: npt.NDArray[np.float32], meta: ResizeMeta, names: Sequence[str]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """``(K, h, w)`` logits → class ids and confidence at the image size."""
    background = _background_id(names)
    cut = cut_padding(logits, meta, fill=float(background))
    width, height = meta.original_wh
    if cut.shape[1:] != (height, width):
        cut = np.stack([resize_antialiased(plane, (height, width)) for plane in cut])
    channels = cut.shape[0]
    if channels == 1:
        confidence = (1.0 / (1.0 + np.exp(-cut[0]))).astype(np.float32)
        channel_ids = np.zeros(confidence.shape, dtype=np.int64)
    else:
        shifted = cut - cut.max(axis=0, keepdims=True)
        exp = np.exp(shifted)
        probabilities = exp / exp.sum(axis=0, keepdims=True)
        channel_ids = np.argmax(probabilities, axis=0)
        confidence = np.max(probabilities, axis=0).astype(np.float32)
    if channels == len(names):
        return channel_ids.astype(np.int32), confidence
    # No channel for the background: channel k is the k-th class that is not the background.
    foreground = np.array([i for i in range(len(names)) if i != background], dtype=np.int32)
    return foreground[channel_ids], confidence


def _to_image(
    plane: npt.NDArray[np.float32], meta: ResizeMeta, interpolation: int
) -> npt.NDArray[np.float32]:
    """A network-resolution ``(h, w)`` plane, cut to the unpadded region, at the image size."""
    plane_h, plane_w = plane.shape
    gx, gy = plane_w / meta.input_wh[0], plane_h / meta.input_wh[1]
    left = max(0, int(meta.pad_xy[0] * gx))
    top = max(0, int(meta.pad_xy[1] * gy))
    right = min(plane_w, round((meta.pad_xy[0] + meta.original_wh[0] * meta.scale_xy[0]) * gx))
    bottom = min(plane_h, round((meta.pad_xy[1] + meta.original_wh[1] * meta.scale_xy[1]) * gy))
    cut = np.ascontiguousarray(plane[top:bottom, left:right])
    return np.asarray(cv2.resize(cut, meta.original_wh, interpolation=interpolation), np.float32)


class SemanticSegmentationModel:
    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        self._session = session
        self._output = str(manifest.extra.get("output", "logits"))
        if self._output not in _OUTPUTS:
            raise ModelLoadError(f'extra["output"] must be one of {sorted(_OUTPUTS)}')
        self._batch_size = session.input.shape[0] or manifest.input.batch_size

    @property
    def task(self) -> str:
        return "semantic-segmentation"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> SemanticSegmentationModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: SemanticParams
    ) -> list[SemanticSegmentationResult]:
        threshold = require_params(params, SemanticParams, type(self).__name__).confidence
        results = []
        for image in images_bgr:  # one at a time: outputs are full-resolution maps
            tensor, [meta] = images_to_tensor([image], self.manifest.input)
            if self._batch_size not in (None, 1):
                filler = np.zeros((self._batch_size - 1, *tensor.shape[1:]), dtype=np.float32)
                tensor = np.concatenate([tensor, filler])
            raw = np.asarray(self._session.run({self._session.input.name: tensor})[0][0])
            results.append(self._postprocess(raw.astype(np.float32), meta, threshold))
        return results

    def _postprocess(
        self, raw: npt.NDArray[np.float32], meta: ResizeMeta, threshold: float
    ) -> SemanticSegmentationResult:
        names = self.manifest.class_names
        if self._output == "class_map":
            ids = _to_image(raw.reshape(raw.shape[-2:]), meta, cv2.INTER_NEAREST)
            class_ids = ids.astype(np.int32)
            confidence = np.ones_like(ids, dtype=np.float32)
        elif self._output == "probability":
            plane = (
                raw.reshape(raw.shape[0], raw.shape[1])
                if raw.ndim == 3 and raw.shape[2] == 1
                else raw.reshape(raw.shape[-2:])
            )
            probability = np.clip(_to_image(plane, meta, cv2.INTER_LINEAR), 0.0, 1.0)
            class_ids = (probability > 0.5).astype(np.int32)
            confidence = np.where(class_ids == 1, probability, 1.0 - probability).astype(np.float32)
        else:
            channels = raw.shape[0] if raw.ndim == 3 else 0
            if channels not in (len(names), len(names) - 1, 1):
                raise ModelLoadError(
                    f"expected logits (K, H, W) with K = {len(names)} classes (or one less "
                    f"without a background channel, or 1), got {tuple(raw.shape)}"
                )
            class_ids, confidence = _softmax_planes(raw, meta, names)
        if threshold > 0:
            below = confidence < np.float32(threshold)
            class_ids = np.where(below, _background_id(names), class_ids).astype(np.int32)
            confidence = np.where(below, np.float32(0.0), confidence).astype(np.float32)
        return SemanticSegmentationResult(names, class_ids, confidence)
