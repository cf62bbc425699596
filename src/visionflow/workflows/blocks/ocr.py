"""OCR blocks: ``ocr_model@v1`` (the reference's DocTR block) and ``pp_ocr@v1``.

Both read text with the built-in PP-OCR engine through ``ModelRunner.ocr``. As the reference
does, ``ocr_model`` reports one detection per word and ``pp_ocr`` one per line; either way the
detection's class name is its text (class id 0, the recognition score as confidence), so
detection blocks and visualizations downstream work on them. ``result`` is the text of every line
joined by spaces; an image without text gives ``""`` and no detections.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import AfterValidator

from visionflow.core.detections import DETECTION_ID
from visionflow.models.ocr import PP_OCR_SIZES, OcrResult
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import ImageSelector, StepManifest

__all__ = ["OCR_BLOCKS"]

PREDICTION_TYPE = "ocr"


def _supported_size(value: str) -> str:
    if value not in PP_OCR_SIZES:
        raise ValueError(
            f"unsupported model size {value!r}: supported are {', '.join(PP_OCR_SIZES)} "
            "(this server cannot skip a PP-OCR stage)"
        )
    return value


PpOcrSize = Annotated[Literal["none", "tiny", "small", "medium"], AfterValidator(_supported_size)]


class OcrModelManifest(StepManifest):
    images: ImageSelector


class PpOcrManifest(StepManifest):
    images: ImageSelector
    text_detection: PpOcrSize = "small"
    text_recognition: PpOcrSize = "small"


_OUTPUTS = (
    OutputDefinition("result", (k.STRING,)),
    OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),
    OutputDefinition("parent_id", (k.PARENT_ID,)),
    OutputDefinition("root_parent_id", (k.PARENT_ID,)),
    OutputDefinition("prediction_type", (k.PREDICTION_TYPE,)),
)


def _with_ids(detections: sv.Detections) -> sv.Detections:
    """A copy of ``detections`` with a fresh ``detection_id`` per row (crops are named by it)."""
    copy = detections[np.arange(len(detections))]
    assert isinstance(copy, sv.Detections)
    copy.data[DETECTION_ID] = np.array([str(uuid.uuid4()) for _ in range(len(copy))], dtype=object)
    return copy


class _OcrBlock(Block):
    """Reads every image of the step's batch in one ``ModelRunner.ocr`` call."""

    outputs = _OUTPUTS
    level: ClassVar[Literal["words", "lines"]]

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        images = [inputs.image("images") for inputs in batch]
        results = context.models.ocr([image.pixels_bgr for image in images])
        return [self._outputs(result, image) for image, result in zip(images, results, strict=True)]

    def _outputs(self, result: OcrResult, image: WorkflowImage) -> dict[str, Any]:
        found = result.words if self.level == "words" else result.lines
        return {
            "result": result.text,
            "predictions": attach_lineage(_with_ids(found), image.lineage),
            "parent_id": image.lineage.image_id,
            "root_parent_id": image.lineage.root_id,
            "prediction_type": PREDICTION_TYPE,
        }


class OcrModelV1(_OcrBlock):
    type = "roboflow_core/ocr_model@v1"
    aliases = ("OCRModel",)
    manifest = OcrModelManifest
    level = "words"


class PpOcrV1(_OcrBlock):
    type = "roboflow_core/pp_ocr@v1"
    manifest = PpOcrManifest
    level = "lines"


OCR_BLOCKS: tuple[type[Block], ...] = (OcrModelV1, PpOcrV1)
