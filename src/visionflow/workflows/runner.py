"""What workflow blocks need from the layers above: running a model by id.

Workflows sit below the service layer, so they never import it; the service implements this
protocol (authorizing the caller, resolving the model in the caller's workspaces) and injects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["ModelRunner"]


class ModelRunner(Protocol):
    def infer(
        self,
        model_id: str,
        task: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: object,
    ) -> Sequence[object]:
        """One result per image from model ``model_id``, which must be a ``task`` model
        (``"object-detection"``, ``"classification"``...): ``sv.Detections`` for detection-like
        tasks, ``ClassificationResult`` or ``SemanticSegmentationResult`` otherwise."""
        ...
