"""The predict use case: authorize → load images → infer → optional visualization."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.visualization import annotate_detections
from visionflow.errors import InvalidInputError
from visionflow.models.params import DetectionParams
from visionflow.service.auth import Principal
from visionflow.service.images import ImageRef
from visionflow.service.inference import LoadedModelView
from visionflow.service.services import Services

__all__ = ["Prediction", "VisualizeOptions", "detection_params", "predict_detections"]


@dataclass(frozen=True)
class VisualizeOptions:
    labels: bool = False
    stroke_width: int = 1


@dataclass(frozen=True)
class Prediction:
    image_wh: tuple[int, int]
    detections: sv.Detections
    visualization_bgr: npt.NDArray[np.uint8] | None = None


def detection_params(**values: object) -> DetectionParams:
    """``DetectionParams`` from request values; out-of-range values become a 400."""
    try:
        return DetectionParams(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def predict_detections(
    services: Services,
    principal: Principal,
    model_id: str,
    refs: Sequence[ImageRef],
    params: DetectionParams,
    visualize: VisualizeOptions | None = None,
    *,
    expected_task: str | None = "object-detection",
) -> tuple[LoadedModelView, list[Prediction]]:
    if not refs:
        raise InvalidInputError("no image given: send at least one image")
    view = services.inference.acquire(principal, model_id)
    task = view.record.task
    if expected_task is not None and task != expected_task:
        raise InvalidInputError(
            f"model {model_id!r} is a {task} model, not {expected_task}; call the route for {task}"
        )
    images = [services.images.load(ref) for ref in refs]
    results = view.model.infer(images, params)
    predictions = []
    for image, detections in zip(images, results, strict=True):
        drawn = None
        if visualize is not None:
            drawn = annotate_detections(
                image, detections, labels=visualize.labels, stroke_width=visualize.stroke_width
            )
        predictions.append(
            Prediction((int(image.shape[1]), int(image.shape[0])), detections, drawn)
        )
    return view, predictions
