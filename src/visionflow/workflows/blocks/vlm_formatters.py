"""``vlm_as_classifier`` and ``vlm_as_detector`` (v1, v2): a language model's text answer as a
classification or as detections on the image it was asked about.

The classifier reads ``{"class_name", "confidence"}`` (one class: every class of ``classes``
listed with its confidence, 0.0 for the others, an unlisted answer first with class id -1) or
``{"predicted_classes": [{"class", "confidence"}]}`` (multi-label, highest confidence of a
repeated class; a bare list of such entries too). The detector reads the box conventions of
``model_type`` (``vlm_detections``). JSON is found as the reference finds it (``vlm_json``).
An answer that does not parse, or has an unexpected shape, gives ``error_status`` true and no
``predictions`` (and a warning in the log), never an error of the workflow. v2 only types
``inference_id`` as kind ``inference_id`` and adds the model types of the newer VLM blocks.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.formatters import LanguageModelOutputSelector
from visionflow.workflows.blocks.vlm_detections import (
    DETECTOR_PARSERS_V1,
    DETECTOR_PARSERS_V2,
    Parser,
)
from visionflow.workflows.blocks.vlm_json import (
    coerce_classification_payload,
    extract_flat_object_entries,
    extract_json_payload,
)
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import ImageSelector, ListOfValuesSelector, StepManifest

__all__ = [
    "VLM_FORMATTER_BLOCKS",
    "VlmAsClassifierV1",
    "VlmAsClassifierV2",
    "VlmAsDetectorV1",
    "VlmAsDetectorV2",
    "classify_vlm_output",
]

_LOG = logging.getLogger(__name__)

TaskType = Literal[
    "object-detection",
    "phrase-grounded-object-detection",
    "object-detection-and-caption",
    "open-vocabulary-object-detection",
    "ocr-with-text-detection",
    "region-proposal",
]


def _scaled(value: Any) -> float:
    return min(max(float(value), 0.0), 1.0)


def _failed(inference_id: str) -> StepResult:
    return {"error_status": True, "predictions": None, "inference_id": inference_id}


def _single_class(parsed: dict[str, Any], classes: Sequence[str]) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(classes)}
    top = parsed["class_name"]
    confidences = {top: _scaled(parsed["confidence"])}
    predictions = []
    if top not in index:
        predictions.append({"class": top, "class_id": -1, "confidence": confidences[top]})
    predictions += [
        {"class": name, "class_id": i, "confidence": confidences.get(name, 0.0)}
        for name, i in index.items()
    ]
    return {"predictions": predictions, "top": top, "confidence": confidences[top]}


def _multi_label(parsed: dict[str, Any], classes: Sequence[str]) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(classes)}
    confidences: dict[Any, float] = {}
    for entry in parsed["predicted_classes"]:
        name = entry["class"]
        index.setdefault(name, -1)
        score = _scaled(entry["confidence"])
        confidences[name] = max(confidences[name], score) if name in confidences else score
    return {
        "predictions": {
            name: {"confidence": confidences.get(name, 0.0), "class_id": i}
            for name, i in index.items()
        },
        "predicted_classes": list(confidences),
    }


def classify_vlm_output(
    text: object, classes: Sequence[str], image: WorkflowImage, block_type: str
) -> StepResult:
    """``error_status``, ``predictions`` (the reference's classification dict) and
    ``inference_id`` for a model's answer ``text``."""
    inference_id = str(uuid.uuid4())
    error, payload = extract_json_payload(text)
    parsed = None if error else coerce_classification_payload(payload)
    if parsed is None:
        return _failed(inference_id)
    if "class_name" in parsed and "confidence" in parsed:
        shape = _single_class
    elif "predicted_classes" in parsed:
        shape = _multi_label
    else:
        return _failed(inference_id)
    try:
        body = shape(parsed, classes)
    # As the reference: whatever is wrong inside the answer's JSON only sets error_status.
    except Exception as exc:
        _LOG.warning("%s: could not parse the classification (%r)", block_type, exc)
        return _failed(inference_id)
    width, height = image.lineage.size_wh
    prediction = {
        "image": {"width": width, "height": height},
        **body,
        "inference_id": inference_id,
        "parent_id": image.lineage.image_id,
    }
    return {"error_status": False, "predictions": prediction, "inference_id": inference_id}


class VlmAsClassifierManifest(StepManifest):
    image: ImageSelector
    vlm_output: LanguageModelOutputSelector
    classes: ListOfValuesSelector | list[str]


class VlmAsClassifierV1(Block):
    """A model's answer as a classification prediction (``classes`` give the class ids)."""

    type = "roboflow_core/vlm_as_classifier@v1"
    manifest = VlmAsClassifierManifest
    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("predictions", (k.CLASSIFICATION_PREDICTION,)),
        OutputDefinition("inference_id", (k.STRING,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        classes = inputs.as_str_list("classes") or []
        return classify_vlm_output(
            inputs.get("vlm_output"), classes, inputs.image("image"), self.type
        )


class VlmAsClassifierV2(VlmAsClassifierV1):
    type = "roboflow_core/vlm_as_classifier@v2"
    outputs = (*VlmAsClassifierV1.outputs[:2], OutputDefinition("inference_id", (k.INFERENCE_ID,)))


def _check_detector(
    model_type: str, task_type: str, classes: object, parsers: dict[tuple[str, str], Parser]
) -> None:
    if (model_type, task_type) not in parsers:
        raise ValueError(f"Could not parse result of task {task_type} for model {model_type}")
    if model_type != "florence-2" and classes is None:
        raise ValueError(
            "Must pass list of classes to this block for every model type except florence-2"
        )


class VlmAsDetectorV1Manifest(StepManifest):
    image: ImageSelector
    vlm_output: LanguageModelOutputSelector
    classes: ListOfValuesSelector | list[str] | None
    model_type: Literal["google-gemini", "anthropic-claude", "florence-2"]
    task_type: TaskType

    @model_validator(mode="after")
    def _parsable(self) -> VlmAsDetectorV1Manifest:
        _check_detector(self.model_type, self.task_type, self.classes, DETECTOR_PARSERS_V1)
        return self


class VlmAsDetectorV2Manifest(StepManifest):
    image: ImageSelector
    vlm_output: LanguageModelOutputSelector
    classes: ListOfValuesSelector | list[str] | None
    model_type: Literal[
        "openai",
        "google-gemini",
        "anthropic-claude",
        "spacexai",
        "qwen",
        "muse",
        "zai",
        "zai-flash",
        "florence-2",
    ]
    task_type: TaskType

    @model_validator(mode="after")
    def _parsable(self) -> VlmAsDetectorV2Manifest:
        _check_detector(self.model_type, self.task_type, self.classes, DETECTOR_PARSERS_V2)
        return self


class VlmAsDetectorV1(Block):
    """A model's answer as detections on ``image``, read by the conventions of
    ``model_type`` for ``task_type``."""

    type = "roboflow_core/vlm_as_detector@v1"
    manifest: ClassVar[builtins.type[StepManifest]] = VlmAsDetectorV1Manifest
    parsers: ClassVar[dict[tuple[str, str], Parser]] = DETECTOR_PARSERS_V1
    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("inference_id", (k.STRING,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        classes = inputs.as_str_list("classes")
        model_type, task_type = str(inputs["model_type"]), str(inputs["task_type"])
        text = inputs.get("vlm_output")
        inference_id = str(uuid.uuid4())
        error, payload = extract_json_payload(text)
        if error and model_type == "muse" and isinstance(text, str):
            loose = extract_flat_object_entries(text)
            if loose:
                error, payload = False, loose
        if error:
            return _failed(inference_id)
        try:
            predictions = self.parsers[(model_type, task_type)](payload, classes, image)
        # As the reference: whatever is wrong inside the answer's JSON only sets error_status.
        except Exception as exc:
            _LOG.warning(
                "%s: could not parse the %s answer for %s (%r)",
                self.type,
                model_type,
                task_type,
                exc,
            )
            return _failed(inference_id)
        return {"error_status": False, "predictions": predictions, "inference_id": inference_id}


class VlmAsDetectorV2(VlmAsDetectorV1):
    type = "roboflow_core/vlm_as_detector@v2"
    manifest = VlmAsDetectorV2Manifest
    parsers = DETECTOR_PARSERS_V2
    outputs = (*VlmAsDetectorV1.outputs[:2], OutputDefinition("inference_id", (k.INFERENCE_ID,)))


VLM_FORMATTER_BLOCKS: tuple[type[Block], ...] = (
    VlmAsClassifierV1,
    VlmAsClassifierV2,
    VlmAsDetectorV1,
    VlmAsDetectorV2,
)
