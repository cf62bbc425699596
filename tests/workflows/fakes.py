"""Fakes for workflow tests: a ModelRunner returning known results, definition builders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import make_detections
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult
from visionflow.workflows import RunContext

IMAGE_INPUT = {"type": "WorkflowImage", "name": "image"}


def definition(
    steps: list[dict[str, Any]],
    outputs: dict[str, str] | list[dict[str, Any]],
    inputs: list[dict[str, Any]] | None = None,
    version: str = "1.0",
) -> dict[str, Any]:
    """A definition; ``outputs`` maps output names to selectors (or is the JsonField list)."""
    fields = (
        [{"type": "JsonField", "name": name, "selector": sel} for name, sel in outputs.items()]
        if isinstance(outputs, dict)
        else outputs
    )
    return {
        "version": version,
        "inputs": [IMAGE_INPUT] if inputs is None else inputs,
        "steps": steps,
        "outputs": fields,
    }


def detector(name: str = "det", images: str = "$inputs.image", **extra: Any) -> dict[str, Any]:
    return {
        "type": "roboflow_core/roboflow_object_detection_model@v2",
        "name": name,
        "images": images,
        "model_id": "fake/1",
        **extra,
    }


@dataclass
class FakeModels:
    """Object detection: a box at the centre half of each image (class ``square``, 0.9) plus,
    when the image is wider than 100 px, a ``circle`` box at its top-left quarter (0.3).
    Classification: ``cat`` 0.8 / ``dog`` 0.2. Records every call."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def infer(
        self,
        model_id: str,
        task: str,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: object,
    ) -> Sequence[object]:
        self.calls.append((model_id, task, len(images_bgr)))
        self.params.append(params)
        if task == "classification":
            scores = np.array([0.8, 0.2], dtype=np.float32)
            return [ClassificationResult(("cat", "dog"), scores) for _ in images_bgr]
        if task == "semantic-segmentation":
            return [
                SemanticSegmentationResult(
                    ("background", "thing"),
                    np.ones(image.shape[:2], dtype=np.int32),
                    np.ones(image.shape[:2], dtype=np.float32),
                )
                for image in images_bgr
            ]
        return [self._detections(image) for image in images_bgr]

    @staticmethod
    def _detections(image: npt.NDArray[np.uint8]) -> sv.Detections:
        height, width = image.shape[:2]
        boxes = [[width / 4, height / 4, 3 * width / 4, 3 * height / 4]]
        scores, ids = [0.9], [1]
        if width > 100:
            boxes.append([0, 0, width / 4, height / 4])
            scores.append(0.3)
            ids.append(0)
        return make_detections(
            np.array(boxes), np.array(scores), np.array(ids), ["circle", "square"]
        )


def context(models: FakeModels | None = None) -> RunContext:
    return RunContext(models=models or FakeModels())


def decode_image(value: Any) -> npt.NDArray[np.uint8]:
    """Test inputs name their size: ``"WxH"`` → a gray image of that size."""
    width, height = (int(v) for v in str(value).split("x"))
    return np.full((height, width, 3), 90, dtype=np.uint8)
