"""``roboflow_core/google_vision_ocr@v1``: Google Cloud Vision's ``images:annotate``.

The image goes as base64 JPEG with one feature, ``TEXT_DETECTION`` (``ocr_type:
text_detection``) or ``DOCUMENT_TEXT_DETECTION`` (``ocr_text_detection``), and the optional
``languageHints``; the key travels as the documented ``?key=`` parameter. As the reference
reads the answer: ``text`` and ``language`` come from the first text annotation, and each block
of ``fullTextAnnotation`` becomes one OCR detection (its vertices' bounding box, its words
joined by spaces as class name, class ids 0..n-1, the block's confidence or 1.0). An image
without text gives ``""`` and no detections.

The base URL is the provider ``google_vision`` of ``VISIONFLOW_WORKFLOWS_PROVIDER_URLS``; the
reference's Roboflow-managed key (``rf_key:account``, the default) uses the operator's
``google_vision`` key from ``VISIONFLOW_WORKFLOWS_PROVIDER_KEYS``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.llm_egress import (
    ProviderError,
    ProviderRejectedError,
    ProviderRequest,
    call_json,
    provider_key,
    providers_of,
)
from visionflow.workflows.blocks.llm_tasks import encode_image
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import ImageSelector, Reference, StepManifest
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["GOOGLE_VISION_BLOCKS", "ocr_detections"]

PROVIDER = "google_vision"
_FEATURES = {"text_detection": "TEXT_DETECTION", "ocr_text_detection": "DOCUMENT_TEXT_DETECTION"}

ManagedKeySelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.STRING, k.SECRET, "ROBOFLOW_MANAGED_KEY")),
]


class GoogleVisionOcrV1Manifest(StepManifest):
    image: ImageSelector
    ocr_type: Literal["text_detection", "ocr_text_detection"]
    api_key: ManagedKeySelector | str = "rf_key:account"
    language_hints: list[str] | None = None


def _vertex(vertex: Any, axis: str) -> float:
    value = vertex.get(axis, 0) if isinstance(vertex, dict) else 0
    return float(value) if isinstance(value, int | float) else 0.0


def ocr_detections(annotation: dict[str, Any]) -> sv.Detections:
    """One detection per block of Google's ``fullTextAnnotation``."""
    boxes: list[list[float]] = []
    scores: list[float] = []
    texts: list[str] = []
    for page in annotation.get("pages") or []:
        for block in page.get("blocks") or []:
            vertices = (block.get("boundingBox") or {}).get("vertices") or [{}]
            xs = [_vertex(v, "x") for v in vertices]
            ys = [_vertex(v, "y") for v in vertices]
            boxes.append([min(xs), min(ys), max(xs), max(ys)])
            scores.append(float(block.get("confidence", 1.0)))
            words = [
                "".join(str(s.get("text", "")) for s in word.get("symbols") or [])
                for paragraph in block.get("paragraphs") or []
                for word in paragraph.get("words") or []
            ]
            texts.append(" ".join(words))
    count = len(boxes)
    return sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.array(scores, dtype=np.float32),
        class_id=np.arange(count, dtype=np.int64),
        data={
            CLASS_NAME: np.array(texts, dtype=object).reshape(count),
            DETECTION_ID: np.array([str(uuid.uuid4()) for _ in range(count)], dtype=object),
        },
    )


class GoogleVisionOcrV1(Block):
    concurrent = True

    type = "roboflow_core/google_vision_ocr@v1"
    manifest = GoogleVisionOcrV1Manifest
    outputs = (
        OutputDefinition("text", (k.STRING,)),
        OutputDefinition("language", (k.STRING,)),
        OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        feature = _FEATURES[inputs.as_str("ocr_type")]
        request: dict[str, Any] = {
            "image": {"content": encode_image(image)},
            "features": [{"type": feature}],
        }
        hints = inputs.as_str_list("language_hints")
        if hints is not None:
            request["imageContext"] = {"languageHints": hints}
        key = provider_key(inputs, context, PROVIDER)
        env = providers_of(context)
        base = env.base_url(PROVIDER) if env is not None else ""
        data = call_json(
            inputs,
            context,
            PROVIDER,
            ProviderRequest(
                "POST",
                f"{base}/images:annotate?key={quote(key, safe='')}",
                {"Content-Type": "application/json"},
                {"requests": [request]},
            ),
        )
        return self._outputs(inputs, data, image)

    def _outputs(
        self, inputs: StepInputs, data: dict[str, Any], image: WorkflowImage
    ) -> dict[str, Any]:
        responses = data.get("responses")
        if not isinstance(responses, list) or not responses or not isinstance(responses[0], dict):
            raise ProviderError(
                f"{PROVIDER} answered step {inputs.step!r} without a response for the image"
            )
        result: dict[str, Any] = responses[0]
        error = result.get("error")
        if isinstance(error, dict):
            raise ProviderRejectedError(
                f"{PROVIDER} refused the image of step {inputs.step!r}: "
                f"{error.get('message') or error}"
            )
        annotations = result.get("textAnnotations")
        if not isinstance(annotations, list) or not annotations:
            empty = ocr_detections({})
            return {"text": "", "language": "", "predictions": attach_lineage(empty, image.lineage)}
        first = annotations[0] if isinstance(annotations[0], dict) else {}
        found = ocr_detections(result.get("fullTextAnnotation") or {})
        return {
            "text": str(first.get("description", "")),
            "language": str(first.get("locale", "")),
            "predictions": attach_lineage(found, image.lineage),
        }


GOOGLE_VISION_BLOCKS: tuple[type[Block], ...] = (GoogleVisionOcrV1,)
