"""The contract every model implements, and the shared image → tensor step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.core.letterbox import ResizeMeta, resize_to_input
from visionflow.models.manifest import InputSpec, ModelManifest
from visionflow.runtime import OnnxSession
from visionflow.runtime.batcher import BatcherStats

__all__ = [
    "Model",
    "SessionFactory",
    "batcher_stats",
    "images_to_tensor",
    "scaled_pixels",
    "session_bytes",
    "sessions_of",
]

SessionFactory = Callable[[Path], OnnxSession]


class Model(Protocol):
    """A loaded model: ``infer`` takes BGR images and its task's params (one of
    ``visionflow.models.params.TaskParams``, made by ``build_params``) and returns one result per
    image; params of another type are a ``TypeError`` (``require_params``).

    Implementations keep no per-request state on ``self``; what a call needs (letterbox scale and
    padding, original sizes) travels in the values ``preprocess`` returns.
    """

    manifest: ModelManifest

    @property
    def task(self) -> str: ...

    def infer(self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: Any) -> list[Any]: ...


def scaled_pixels(pixels: npt.NDArray[np.uint8], spec: InputSpec) -> npt.NDArray[np.float32]:
    """``(H, W, 3) uint8`` at the input size → float32 ``/ scaling_factor``, then
    ``(x - mean) / std`` when ``spec.normalization`` is set."""
    values = pixels.astype(np.float32) / np.float32(spec.scaling_factor)
    if spec.normalization is None:
        return values
    mean = np.asarray(spec.normalization.mean, dtype=np.float32)
    std = np.asarray(spec.normalization.std, dtype=np.float32)
    return (values - mean) / std


def images_to_tensor(
    images_bgr: Sequence[npt.NDArray[np.uint8]], spec: InputSpec
) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
    """Resize, reorder colours, scale and normalize: ``(B, 3, H, W) float32`` (or
    ``(B, H, W, 3)`` for ``nhwc`` graphs) plus the per-image mappings.

    ``nchw`` in one pass per colour plane: each uint8 plane of the resized image is divided
    straight into its slot of the batch (no float copy of the whole image, no transpose); the
    same float32 operations as ``scaled_pixels``, so the same values bit for bit.
    """
    if spec.layout == "nhwc":
        return _images_to_nhwc(images_bgr, spec)
    batch = np.empty((len(images_bgr), 3, spec.height, spec.width), dtype=np.float32)
    scale = np.float32(spec.scaling_factor)
    norm = spec.normalization
    mean = None if norm is None else np.asarray(norm.mean, dtype=np.float32)
    std = None if norm is None else np.asarray(norm.std, dtype=np.float32)
    # Channel c of the tensor comes from plane order[c] of the BGR image.
    order = (2, 1, 0) if spec.color_mode == "rgb" else (0, 1, 2)
    metas: list[ResizeMeta] = []
    for index, image in enumerate(images_bgr):
        resized, meta = resize_to_input(
            image, (spec.width, spec.height), spec.resize_mode, spec.padding_value
        )
        planes = cv2.split(resized)
        for channel, plane in enumerate(order):
            out = batch[index, channel]
            np.divide(planes[plane], scale, out=out, dtype=np.float32)
            if mean is not None and std is not None:
                np.subtract(out, mean[channel], out=out)
                np.divide(out, std[channel], out=out)
        metas.append(meta)
    return batch, metas


def _images_to_nhwc(
    images_bgr: Sequence[npt.NDArray[np.uint8]], spec: InputSpec
) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
    batch = np.empty((len(images_bgr), spec.height, spec.width, 3), dtype=np.float32)
    metas: list[ResizeMeta] = []
    for index, image in enumerate(images_bgr):
        resized, meta = resize_to_input(
            image, (spec.width, spec.height), spec.resize_mode, spec.padding_value
        )
        if spec.color_mode == "rgb":
            resized = np.asarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        batch[index] = scaled_pixels(resized, spec)
        metas.append(meta)
    return batch, metas


def sessions_of(model: object, depth: int = 3) -> list[OnnxSession]:
    """The ONNX sessions a model holds (in its attributes, their attributes, lists and dicts,
    ``depth`` levels down; each session once), in the order found."""
    seen: set[int] = set()
    found: list[OnnxSession] = []

    def walk(value: object, level: int) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, OnnxSession):
            found.append(value)
            return
        if level == 0:
            return
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list | tuple):
            children = list(value)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            children = list(vars(value).values())
        else:
            return
        for child in children:
            walk(child, level - 1)

    walk(model, depth)
    return found


def session_bytes(model: object) -> int:
    """The summed ``weight_bytes`` of a model's ONNX sessions (``sessions_of``): the memory
    budget's measure of a model (a lower bound: ONNX Runtime adds its arena on top)."""
    return sum(int(session.weight_bytes) for session in sessions_of(model))


def batcher_stats(model: object) -> BatcherStats | None:
    """The micro-batchers of a model's sessions summed (``largest_batch``: the largest of
    them); None when none of its sessions batches."""
    stats = [s for s in (session.batcher_stats() for session in sessions_of(model)) if s]
    if not stats:
        return None
    return BatcherStats(
        runs=sum(s.runs for s in stats),
        requests=sum(s.requests for s in stats),
        queue_depth=sum(s.queue_depth for s in stats),
        largest_batch=max(s.largest_batch for s in stats),
    )
