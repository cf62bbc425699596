"""What workflow blocks need from the layers above: running a model by id.

Workflows sit below the service layer, so they never import it; the service implements this
protocol (authorizing the caller, resolving the model in the caller's workspaces) and injects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.models.ocr import OcrOptions, OcrResult
from visionflow.models.params import OpenVocabularyParams, TaskParams

__all__ = ["ModelRunner"]


class ModelRunner(Protocol):
    def infer(
        self,
        model_id: str,
        task: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> Sequence[object]:
        """One result per image from model ``model_id``, which must be a ``task`` model
        (``"object-detection"``, ``"classification"``...) given that task's params
        (``build_params(task, values)``): ``sv.Detections`` for detection-like
        tasks, ``ClassificationResult`` or ``SemanticSegmentationResult`` otherwise."""
        ...

    def ocr(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], options: OcrOptions
    ) -> Sequence[OcrResult]:
        """The text of each image (PP-OCR): lines, the joined text, and words when
        ``options.words`` asks for them."""
        ...

    def clip_embed(
        self, version: str | None, values: Sequence[npt.NDArray[np.uint8] | str]
    ) -> npt.NDArray[np.float32]:
        """CLIP embeddings ``(N, D) float32`` (unnormalized) of BGR images and texts, in order,
        from the CLIP model that ``version`` (``"ViT-B-16"``..., ``None``: default) maps to."""
        ...

    def yolo_world(
        self,
        version: str | None,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: OpenVocabularyParams,
    ) -> Sequence[sv.Detections]:
        """Open-vocabulary detections of ``params.class_names`` per image, from the YOLO-World
        model that ``version`` (``"v2-s"``, ``"l"``..., ``None``: default) maps to."""
        ...
