"""OCR blocks: ``ocr_model@v1`` (the reference's DocTR block), ``pp_ocr@v1`` and ``easy_ocr@v1``.

All read text with the built-in PP-OCR engine through ``ModelRunner.ocr``. As the reference
does, ``ocr_model`` reports one detection per word, ``pp_ocr`` and ``easy_ocr`` one per line;
either way the detection's class name is its text (class id 0, the recognition score as
confidence), so detection blocks and visualizations downstream work on them. ``result`` is the
text of every line joined by spaces; an image without text gives ``""`` and no detections.
``pp_ocr`` can skip a stage: ``text_recognition: none`` gives the line boxes with text ``""``
(the detection score as confidence), ``text_detection: none`` reads the whole image as one line.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import AfterValidator, model_validator

from visionflow.core.detections import DETECTION_ID
from visionflow.models.ocr import EASY_OCR_LANGUAGES, OcrOptions, OcrResult
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import ImageSelector, StepManifest

__all__ = ["OCR_BLOCKS"]

PREDICTION_TYPE = "ocr"
PpOcrSize = Literal["none", "tiny", "small", "medium"]
EasyOcrLanguage = Literal[
    "English", "Japanese", "Kannada", "Korean", "Latin", "Telugu", "Simplified Chinese"
]
# The reference's EasyOCR language names and the language code each one reads first.
_EASY_OCR_CODES = {
    "English": "en",
    "Japanese": "ja",
    "Kannada": "kn",
    "Korean": "ko",
    "Latin": "la",
    "Telugu": "te",
    "Simplified Chinese": "ch_sim",
}
EASY_OCR_LANGUAGE_NAMES = tuple(
    name for name, code in _EASY_OCR_CODES.items() if code in EASY_OCR_LANGUAGES
)


def _supported_language(value: str) -> str:
    if value not in EASY_OCR_LANGUAGE_NAMES:
        raise ValueError(
            f"unsupported language {value!r}: supported are {', '.join(EASY_OCR_LANGUAGE_NAMES)} "
            "(this server reads text with its built-in PP-OCR engine, as /easy_ocr/ocr does)"
        )
    return value


class OcrModelManifest(StepManifest):
    images: ImageSelector


class PpOcrManifest(StepManifest):
    images: ImageSelector
    text_detection: PpOcrSize = "small"
    text_recognition: PpOcrSize = "small"

    @model_validator(mode="after")
    def _one_stage_at_least(self) -> PpOcrManifest:
        if self.text_detection == "none" and self.text_recognition == "none":
            raise ValueError(
                "text_detection and text_recognition cannot both be 'none': PP-OCR needs one "
                "stage at least"
            )
        return self


class EasyOcrManifest(StepManifest):
    images: ImageSelector
    language: Annotated[EasyOcrLanguage, AfterValidator(_supported_language)] = "English"
    quantize: bool = False


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
    """Reads every image of the step's batch in one ``ModelRunner.ocr`` call per set of options
    (one, unless fields differ between elements)."""

    concurrent = True

    outputs = _OUTPUTS
    level: ClassVar[Literal["words", "lines"]]

    def options(self, inputs: StepInputs) -> OcrOptions:
        return OcrOptions(words=self.level == "words")

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        images = [inputs.image("images") for inputs in batch]
        groups: dict[OcrOptions, list[int]] = {}
        for index, inputs in enumerate(batch):
            groups.setdefault(self.options(inputs), []).append(index)
        results: dict[int, StepResult] = {}
        for options, indices in groups.items():
            read = context.models.ocr([images[i].pixels_bgr for i in indices], options)
            for i, result in zip(indices, read, strict=True):
                results[i] = self._outputs(result, images[i])
        return [results[i] for i in range(len(batch))]

    def _outputs(self, result: OcrResult, image: WorkflowImage) -> dict[str, Any]:
        found = result.words if self.level == "words" and result.words is not None else result.lines
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

    def options(self, inputs: StepInputs) -> OcrOptions:
        return OcrOptions(
            detect=inputs.get("text_detection") != "none",
            recognize=inputs.get("text_recognition") != "none",
        )


class EasyOcrV1(_OcrBlock):
    """EasyOCR's block on the PP-OCR engine: one detection per line; ``quantize`` is accepted
    and has no effect."""

    type = "roboflow_core/easy_ocr@v1"
    aliases = ("EasyOCR",)
    manifest = EasyOcrManifest
    level = "lines"


OCR_BLOCKS: tuple[type[Block], ...] = (OcrModelV1, PpOcrV1, EasyOcrV1)
