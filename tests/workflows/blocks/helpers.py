"""Running block workflows through the real compiler and executor on hand-made images.

Image inputs name an entry of ``images`` (``{"image": "scene"}``); ``ScriptedModels`` answers
each model id with fixed detections (boxes in the pixels of whatever image it is given)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import make_detections
from visionflow.workflows import BlockRegistry, Executor, RunContext, compile_workflow

REGISTRY = BlockRegistry()
Pixels = npt.NDArray[np.uint8]


def boxes(
    xyxy: Sequence[Sequence[float]],
    confidence: Sequence[float] | None = None,
    class_ids: Sequence[int] | None = None,
    names: Sequence[str] = ("a", "b", "c"),
) -> sv.Detections:
    count = len(xyxy)
    return make_detections(
        np.array(xyxy, dtype=np.float32).reshape(-1, 4),
        np.array(confidence if confidence is not None else [0.9] * count),
        np.array(class_ids if class_ids is not None else [0] * count),
        list(names),
    )


@dataclass
class ScriptedModels:
    """``model_id`` → a function of the image giving its detections."""

    answers: dict[str, Callable[[Pixels], sv.Detections]] = field(default_factory=dict)
    calls: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)

    def infer(
        self, model_id: str, task: str, images_bgr: Sequence[Pixels], params: object
    ) -> Sequence[object]:
        results = []
        for image in images_bgr:
            self.calls.append((model_id, tuple(image.shape)))
            results.append(self.answers[model_id](image))
        return results


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


def model_step(name: str, model_id: str, images: str = "$inputs.image", **extra: Any) -> Any:
    return step(
        "roboflow_object_detection_model@v2", name, images=images, model_id=model_id, **extra
    )


def run(
    steps: list[dict[str, Any]],
    outputs: dict[str, str],
    images: dict[str, Pixels],
    inputs: dict[str, Any] | None = None,
    *,
    declared: list[dict[str, Any]] | None = None,
    models: ScriptedModels | None = None,
    serialize: bool = False,
    context: RunContext | None = None,
    coordinates_system: str = "parent",
) -> list[dict[str, Any]]:
    """Compile and run; ``declared`` inputs default to one image ``image``."""
    workflow = {
        "version": "1.0",
        "inputs": declared or [{"type": "WorkflowImage", "name": "image"}],
        "steps": steps,
        "outputs": [
            {
                "type": "JsonField",
                "name": name,
                "selector": selector,
                "coordinates_system": coordinates_system,
            }
            for name, selector in outputs.items()
        ],
    }
    plan = compile_workflow(workflow, REGISTRY)

    def decode(value: Any) -> Pixels:
        # An image object ({"type", "value", ["video_metadata"]}) names its image in "value".
        return images[str(value["value"] if isinstance(value, dict) else value)]

    return Executor().run(
        plan,
        inputs if inputs is not None else {"image": "image"},
        context=context or RunContext(models=models or ScriptedModels()),
        decode_image=decode,
        serialize=serialize,
    )


def canvas(width: int = 200, height: int = 100, value: int = 0) -> Pixels:
    return np.full((height, width, 3), value, dtype=np.uint8)
