"""``roboflow_core/yolo_world_model@v1``: open-vocabulary detection of the step's class names.

Runs through ``ModelRunner.yolo_world``: ``version`` (``v2-s``, ``l``, …) names a registered
YOLO-World package the way ``yolo_world_version_id`` does on ``POST /yolo_world/infer``. The
elements of a batch that share version, classes and confidence run as one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import supervision as sv
from pydantic import Field

from visionflow.models.params import OpenVocabularyParams, ParamValues, build_params
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import attach_lineage
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    ListOfValuesSelector,
    StepManifest,
    StringSelector,
)

__all__ = ["YOLO_WORLD_BLOCKS"]

VERSIONS = ("v2-s", "v2-m", "v2-l", "v2-x", "s", "m", "l", "x")
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]


class YoloWorldManifest(StepManifest):
    images: ImageSelector
    class_names: ListOfValuesSelector | list[str]
    version: Literal["v2-s", "v2-m", "v2-l", "v2-x", "s", "m", "l", "x"] | StringSelector = "v2-s"
    confidence: ZeroToOne | FloatZeroToOneSelector | None = 0.005


def _params(inputs: StepInputs) -> OpenVocabularyParams:
    names = inputs.as_str_list("class_names")
    if not names:
        raise inputs.fail("class_names", "expected a non-empty list of class names")
    # An explicit ``confidence: null`` means the route's default threshold.
    confidence = (
        None
        if inputs.get("confidence") is None
        else inputs.as_float("confidence", low=0.0, high=1.0)
    )
    values = ParamValues(confidence=confidence, class_names=names)
    return build_params("open-vocabulary-detection", values)


def _version(inputs: StepInputs) -> str:
    version = inputs.as_str("version")
    if version not in VERSIONS:
        raise inputs.fail("version", f"expected one of {', '.join(VERSIONS)}, got {version!r}")
    return version


class YoloWorldModelV1(Block):
    concurrent = True

    type = "roboflow_core/yolo_world_model@v1"
    aliases = ("YoloWorldModel", "YoloWorld")
    manifest = YoloWorldManifest
    outputs = (OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        groups: dict[tuple[str, OpenVocabularyParams], list[int]] = {}
        for position, inputs in enumerate(batch):
            inputs.image("images")
            groups.setdefault((_version(inputs), _params(inputs)), []).append(position)
        outputs: list[StepResult] = [{} for _ in batch]
        for (version, params), positions in groups.items():
            images = [batch[p].image("images") for p in positions]
            results = context.models.yolo_world(
                version, [image.pixels_bgr for image in images], params
            )
            for position, image, result in zip(positions, images, results, strict=True):
                assert isinstance(result, sv.Detections)
                outputs[position] = {"predictions": attach_lineage(result, image.lineage)}
        return outputs


YOLO_WORLD_BLOCKS: tuple[type[Block], ...] = (YoloWorldModelV1,)
