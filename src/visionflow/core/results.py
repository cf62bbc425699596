"""Result types of the tasks that are not detections (those use ``supervision.Detections``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ClassificationResult", "SemanticSegmentationResult"]


@dataclass(frozen=True)
class ClassificationResult:
    """Per-class scores of one image: ``scores`` is ``(C,) float32`` aligned with ``class_names``.

    ``multilabel``: scores are independent probabilities (sigmoid) rather than one distribution.
    """

    class_names: tuple[str, ...]
    scores: npt.NDArray[np.float32]
    multilabel: bool = False

    def __post_init__(self) -> None:
        if self.scores.shape != (len(self.class_names),):
            raise ValueError(
                f"scores must be ({len(self.class_names)},), got {tuple(self.scores.shape)}"
            )


@dataclass(frozen=True)
class SemanticSegmentationResult:
    """Per-pixel classes of one image at its original size.

    ``class_ids``: ``(H, W) int32``; ``confidence``: ``(H, W) float32`` in ``[0, 1]``.
    """

    class_names: tuple[str, ...]
    class_ids: npt.NDArray[np.int32]
    confidence: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        if self.class_ids.shape != self.confidence.shape or self.class_ids.ndim != 2:
            raise ValueError("class_ids and confidence must both be (H, W)")
