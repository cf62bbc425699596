"""The task types of the reference's VLM blocks: what each asks the model (a provider-neutral
prompt: system text, user text, the image) and how a reply becomes the block's outputs.

The texts are the reference's (``VLM_TASKS`` prompt builders shared by its OpenAI, Claude,
Gemini and OpenRouter blocks), so replies come in the formats ``vlm_as_classifier`` and
``vlm_as_detector`` parse: ``{"class_name", "confidence"}`` (classification),
``{"predicted_classes": [{"class", "confidence"}]}`` (multi-label) and
``{"detections": [{"x_min", "y_min", "x_max", "y_max", "class_name", "confidence"}]}`` with
coordinates in ``[0, 1]`` (object detection).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from visionflow.core.detections import make_detections
from visionflow.core.results import ClassificationResult
from visionflow.core.visualization import encode_jpeg
from visionflow.core.wire import classification_response
from visionflow.workflows.lineage import WorkflowImage, attach_lineage

__all__ = [
    "TASKS_REQUIRING_CLASSES",
    "TASKS_REQUIRING_OUTPUT_STRUCTURE",
    "TASKS_REQUIRING_PROMPT",
    "Prompt",
    "build_prompt",
    "decode_predictions",
    "encode_image",
    "missing_task_fields",
]

TASKS_REQUIRING_PROMPT = frozenset({"unconstrained", "visual-question-answering"})
TASKS_REQUIRING_CLASSES = frozenset(
    {"classification", "multi-label-classification", "object-detection", "instance-segmentation"}
)
TASKS_REQUIRING_OUTPUT_STRUCTURE = frozenset({"structured-answering"})

_CLASSIFICATION = (
    "You act as single-class classification model. You must provide reasonable predictions. "
    "You are only allowed to produce JSON document in Markdown ```json [...]``` markers. "
    'Expected structure of json: {"class_name": "class-name", "confidence": 0.4}. '
    "`class-name` must be one of the class names defined by user. You are only allowed to return "
    "single JSON document, even if there are potentially multiple classes. You are not allowed "
    "to return list."
)
_MULTI_LABEL = (
    "You act as multi-label classification model. You must provide reasonable predictions. "
    "You are only allowed to produce JSON document in Markdown ```json``` markers. "
    'Expected structure of json: {"predicted_classes": [{"class": "class-name-1", "confidence": '
    '0.9}, {"class": "class-name-2", "confidence": 0.7}]}. '
    "`class-name-X` must be one of the class names defined by user and `confidence` is a float "
    "value in range 0.0-1.0 that represent how sure you are that the class is present in the "
    "image. Only return class names that are visible."
)
_VQA = (
    "You act as Visual Question Answering model. Your task is to provide answer to question "
    "submitted by user. If this is open-question - answer with few sentences, for ABCD question, "
    "return only the indicator of the answer."
)
_OCR = (
    "You act as OCR model. Your task is to read text from the image and return it in "
    "paragraphs representing the structure of texts in the image. You should only return "
    "recognised text, nothing else."
)
_CAPTION = (
    "You act as image caption model. Your task is to provide description of the image. {detail}"
)
_STRUCTURED = (
    "You are supposed to produce responses in JSON wrapped in Markdown markers: "
    "```json\nyour-response\n```. User is to provide you dictionary with keys and values. "
    "Each key must be present in your response. Values in user dictionary represent "
    "descriptions for JSON fields to be generated. Provide only JSON Markdown in response."
)
_DETECTION = (
    "You act as object-detection model. You must provide reasonable predictions. "
    "You are only allowed to produce JSON document. "
    'Expected structure of json: {"detections": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, '
    '"y_max": 0.4, "class_name": "my-class-X", "confidence": 0.7}]}. '
    "`my-class-X` must be one of the class names defined by user. All coordinates must be in "
    "range 0.0-1.0, representing percentage of image dimensions. "
    "`confidence` is a value in range 0.0-1.0 representing your confidence in prediction. You "
    "should detect all instances of classes provided by user."
)
_SEGMENTATION = (
    "You act as instance-segmentation model. You are only allowed to produce JSON document. "
    'Expected structure of json: {"detections": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, '
    '"y_max": 0.4, "class_name": "my-class-X", "confidence": 0.7, "polygon": [[0.1, 0.2], '
    "[0.3, 0.2], [0.3, 0.4]]}]}. `my-class-X` must be one of the class names defined by user. "
    "All coordinates must be in range 0.0-1.0, representing percentage of image dimensions."
)


@dataclass(frozen=True)
class Prompt:
    """One request's content: ``system`` instructions (or ``None``), the user's ``text`` (or
    ``None``: the image alone), and the image as base64 of ``mime`` bytes."""

    system: str | None
    text: str | None
    image_b64: str
    mime: str = "image/jpeg"

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{self.image_b64}"


def encode_image(image: WorkflowImage) -> str:
    """The image as the reference sends it: JPEG, base64."""
    return base64.b64encode(encode_jpeg(image.pixels_bgr, 95)).decode("ascii")


def missing_task_fields(
    task_type: str, prompt: object, classes: object, output_structure: object
) -> str | None:
    """What ``task_type`` needs and was not given (a message), or ``None``."""
    if task_type in TASKS_REQUIRING_PROMPT and prompt is None:
        return f"`prompt` parameter required to be set for task `{task_type}`"
    if task_type in TASKS_REQUIRING_CLASSES and classes is None:
        return f"`classes` parameter required to be set for task `{task_type}`"
    if task_type in TASKS_REQUIRING_OUTPUT_STRUCTURE and output_structure is None:
        return f"`output_structure` parameter required to be set for task `{task_type}`"
    return None


def build_prompt(
    task_type: str,
    image_b64: str,
    *,
    prompt: str | None,
    classes: list[str] | None,
    output_structure: dict[str, Any] | None,
) -> Prompt:
    classes_text = f"List of all classes to be recognised by model: {', '.join(classes or [])}"
    if task_type == "unconstrained":
        return Prompt(None, prompt or "", image_b64)
    if task_type == "visual-question-answering":
        return Prompt(_VQA, f"Question: {prompt}", image_b64)
    if task_type == "ocr":
        return Prompt(_OCR, None, image_b64)
    if task_type in ("caption", "detailed-caption"):
        detail = "short" if task_type == "caption" else "extensive"
        return Prompt(_CAPTION.format(detail=f"Caption should be {detail}."), None, image_b64)
    if task_type == "classification":
        return Prompt(_CLASSIFICATION, classes_text, image_b64)
    if task_type == "multi-label-classification":
        return Prompt(_MULTI_LABEL, classes_text, image_b64)
    if task_type == "object-detection":
        return Prompt(_DETECTION, classes_text, image_b64)
    if task_type == "instance-segmentation":
        return Prompt(_SEGMENTATION, classes_text, image_b64)
    if task_type == "structured-answering":
        spec = json.dumps(output_structure or {}, indent=4)
        return Prompt(
            _STRUCTURED,
            f"Specification of requirements regarding output fields: \n{spec}",
            image_b64,
        )
    raise ValueError(f"Task type: {task_type} not supported.")


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _json_of(text: str) -> Any:
    """The JSON document in ``text`` (inside Markdown ```json fences or bare)."""
    match = _FENCE.search(text)
    candidate = match.group(1) if match else text
    try:
        return json.loads(candidate.strip())
    except ValueError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            raise
        return json.loads(candidate[start : end + 1])


def _number(value: Any, default: float = 0.0) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def decode_predictions(
    task_type: str, text: str, image: WorkflowImage, classes: list[str] | None
) -> tuple[object, bool, str]:
    """``(predictions, error_status, inference_id)`` of the blocks' newest versions: a
    classification body or detections for the classification and detection tasks, ``None``
    for the others; ``error_status`` is true when the reply could not be parsed."""
    inference_id = str(uuid.uuid4())
    names = list(classes or [])
    try:
        if task_type in ("classification", "multi-label-classification"):
            data = _json_of(text)
            if task_type == "classification":
                found = {str(data.get("class_name", "")): _number(data.get("confidence"))}
            else:
                found = {
                    str(item.get("class", "")): _number(item.get("confidence"))
                    for item in data.get("predicted_classes", [])
                    if isinstance(item, dict)
                }
            for name in found:
                if name and name not in names:
                    names.append(name)
            scores = np.array([found.get(name, 0.0) for name in names], dtype=np.float32)
            multilabel = task_type == "multi-label-classification"
            body = classification_response(
                ClassificationResult(tuple(names), scores, multilabel=multilabel),
                image_wh=image.lineage.size_wh,
                inference_id=inference_id,
                time_s=None,
                confidence=0.0,
            )
            body["prediction_type"] = "classification"
            body["parent_id"] = image.lineage.image_id
            body["root_parent_id"] = image.lineage.root_id
            return body, False, inference_id
        if task_type in ("object-detection", "instance-segmentation"):
            data = _json_of(text)
            width, height = image.lineage.size_wh
            rows = [d for d in data.get("detections", []) if isinstance(d, dict)]
            xyxy = np.array(
                [
                    [
                        _number(d.get("x_min")) * width,
                        _number(d.get("y_min")) * height,
                        _number(d.get("x_max")) * width,
                        _number(d.get("y_max")) * height,
                    ]
                    for d in rows
                ],
                dtype=np.float32,
            ).reshape(-1, 4)
            xyxy = np.clip(xyxy, 0, [width, height, width, height])
            for d in rows:
                name = str(d.get("class_name", ""))
                if name not in names:
                    names.append(name)
            ids = np.array([names.index(str(d.get("class_name", ""))) for d in rows])
            confidence = np.array([_number(d.get("confidence"), 1.0) for d in rows])
            detections = make_detections(xyxy, confidence, ids, names)
            return attach_lineage(detections, image.lineage), False, inference_id
    except (ValueError, AttributeError, TypeError):
        return None, True, inference_id
    return None, False, inference_id
