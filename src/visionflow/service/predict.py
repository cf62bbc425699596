"""The predict use case: authorize → resolve the model → load images → infer → visualize."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from visionflow.core.visualization import Result, annotate
from visionflow.core.wire import TASK_ROUTES
from visionflow.errors import InvalidInputError
from visionflow.models.params import TaskParams
from visionflow.service.auth import Principal
from visionflow.service.executor import ModelRun
from visionflow.service.images import ImageRef
from visionflow.service.services import Services

__all__ = ["MAX_STROKE_WIDTH", "Prediction", "VisualizeOptions", "predict"]


# The widest box outline drawn, in pixels: OpenCV refuses lines past 32767, and drawing time
# grows with the width (300 boxes on an 8000x8000 image: about 1 s at 1000-2000, 19 s at 32767).
MAX_STROKE_WIDTH = 1000


@dataclass(frozen=True)
class VisualizeOptions:
    """How predictions are drawn; ``stroke_width`` 0..``MAX_STROKE_WIDTH`` (0 draws as 1)."""

    labels: bool = False
    stroke_width: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.stroke_width <= MAX_STROKE_WIDTH:
            raise InvalidInputError(
                f"the stroke width must be within 0..{MAX_STROKE_WIDTH} pixels, "
                f"got {self.stroke_width}"
            )


@dataclass(frozen=True)
class Prediction:
    image_wh: tuple[int, int]
    result: Result
    visualization_bgr: npt.NDArray[np.uint8] | None = None


def predict(
    services: Services,
    principal: Principal,
    model_id: str,
    refs: Sequence[ImageRef],
    params: TaskParams,
    visualize: VisualizeOptions | None = None,
    *,
    expected_task: str | None = None,
) -> tuple[ModelRun, list[Prediction]]:
    """Run ``model_id`` on the images; ``expected_task`` guards task-specific routes."""
    if not refs:
        raise InvalidInputError("no image given: send at least one image")
    # Counted before the model loads or any image is fetched.
    budget = services.images.budget(len(refs))
    # Resolving authorizes; the model loads where the executor runs models (here or Ray Serve).
    record = services.inference.resolve(principal, model_id)
    task = record.task
    if expected_task is not None and task != expected_task:
        route = TASK_ROUTES.get(task, "the legacy /{project}/{version} route")
        raise InvalidInputError(
            f"model {model_id!r} is a {task} model, not {expected_task}: call {route}",
            details={"model_task": task, "route": route},
        )
    images = services.images.load_all(refs, budget)
    run, results = services.inference.run(record, images, params)
    predictions = []
    for image, result in zip(images, results, strict=True):
        drawn = None
        if visualize is not None:
            drawn = annotate(
                image, result, labels=visualize.labels, stroke_width=visualize.stroke_width
            )
        predictions.append(Prediction((int(image.shape[1]), int(image.shape[0])), result, drawn))
    return run, predictions
