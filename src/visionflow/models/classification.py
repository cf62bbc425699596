"""Image classification, single- and multi-label.

The manifest says what the graph emits in ``extra["scores"]``: ``probabilities`` (already a
distribution or per-class probabilities, e.g. YOLOv8-cls), ``softmax`` (logits of one label) or
``sigmoid`` (logits of independent labels); ``extra["multilabel"]`` selects the multi-label answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from visionflow.core.results import ClassificationResult
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory, images_to_tensor
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import ClassificationParams, require_params
from visionflow.runtime import OnnxSession

__all__ = ["ClassificationModel"]

_SCORES = {"probabilities", "softmax", "sigmoid"}
_MAX_DYNAMIC_BATCH = 16


def _softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True), dtype=np.float32)


class ClassificationModel:
    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        self._session = session
        self._scores = str(manifest.extra.get("scores", "probabilities"))
        if self._scores not in _SCORES:
            raise ModelLoadError(f'extra["scores"] must be one of {sorted(_SCORES)}')
        self._multilabel = bool(manifest.extra.get("multilabel", False))
        self._batch_size = session.input.shape[0] or manifest.input.batch_size

    @property
    def task(self) -> str:
        return "classification"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> ClassificationModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def _scores_of(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        static = self._batch_size
        count = tensor.shape[0]
        if static is not None and count < static:
            filler = np.zeros((static - count, *tensor.shape[1:]), dtype=np.float32)
            tensor = np.concatenate([tensor, filler])
        raw = np.asarray(self._session.run({self._session.input.name: tensor})[0], np.float32)
        raw = raw.reshape(raw.shape[0], -1)[:count]
        if raw.shape[1] != len(self.manifest.class_names):
            raise ModelLoadError(
                f"classifier emits {raw.shape[1]} scores for {len(self.manifest.class_names)} "
                "classes"
            )
        if self._scores == "softmax":
            return _softmax(raw)
        if self._scores == "sigmoid":
            return (1.0 / (1.0 + np.exp(-raw))).astype(np.float32)
        return raw

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: ClassificationParams
    ) -> list[ClassificationResult]:
        """Every class's score: ``params.confidence`` picks the predicted classes where results
        are written."""
        require_params(params, ClassificationParams, type(self).__name__)
        results: list[ClassificationResult] = []
        step = self._batch_size or _MAX_DYNAMIC_BATCH
        for start in range(0, len(images_bgr), step):
            tensor, _metas = images_to_tensor(images_bgr[start : start + step], self.manifest.input)
            for scores in self._scores_of(tensor):
                results.append(
                    ClassificationResult(self.manifest.class_names, scores, self._multilabel)
                )
        return results
