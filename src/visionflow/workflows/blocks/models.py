"""Model blocks: run a registered model on each image of the step's batch.

Thin on purpose: fields become the model's typed params through ``build_params`` (as every other
caller's values do), the injected ``ModelRunner`` runs the model (one call per distinct model and
parameter set), and results get the image's lineage. Manifests (``blocks.model_manifests``) match
the reference's field names and defaults; versions differ in outputs (``model_id`` from v2) and in
how confidence is chosen (``confidence_mode`` from v3: ``best``/``default`` mean the default
confidence, as this server has no per-model thresholds); instance segmentation v4 drops the
dense-mask switch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import supervision as sv

from visionflow.core.detections import DETECTION_ID, KEYPOINTS_CONFIDENCE
from visionflow.core.masks import mask_to_rle
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult
from visionflow.core.wire import classification_response
from visionflow.models.params import (
    MASK_DECODE_MODES,
    ClassificationParams,
    InvalidParamError,
    KeypointParams,
    ParamsTask,
    ParamValues,
    TaskParams,
    build_params,
)
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.model_manifests import (
    ClassificationManifestV1,
    ClassificationManifestV3,
    DetectionManifestV1,
    DetectionManifestV3,
    KeypointManifestV1,
    KeypointManifestV3,
    MultiLabelManifestV3,
    SegmentationManifestV1,
    SegmentationManifestV3,
    SegmentationManifestV4,
    SemanticManifestV1,
    SemanticManifestV2,
)
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.serialize import RLE_MASK

__all__ = ["MODEL_BLOCKS"]

# -- shared run logic -----------------------------------------------------------------------------


def _confidence(inputs: StepInputs) -> float | None:
    """``confidence`` (v1/v2) or ``confidence_mode`` + ``custom_confidence`` (v3); ``None`` for
    the default (semantic segmentation v1 has no confidence field)."""
    if "confidence" in inputs:
        return inputs.as_float("confidence", low=0.0, high=1.0)
    if "confidence_mode" not in inputs:
        return None
    mode = inputs.as_str("confidence_mode")
    if mode not in ("best", "default", "custom"):
        raise inputs.fail("confidence_mode", f"expected best, default or custom, got {mode!r}")
    if mode == "custom" and inputs.get("custom_confidence") is not None:
        return inputs.as_float("custom_confidence", low=0.0, high=1.0)
    return None


def _detection_values(inputs: StepInputs) -> ParamValues:
    return ParamValues(
        confidence=_confidence(inputs),
        iou_threshold=inputs.as_float("iou_threshold", low=0.0, high=1.0),
        class_agnostic_nms=bool(inputs.get("class_agnostic_nms")),
        max_detections=inputs.as_int("max_detections", low=1),
        max_candidates=inputs.as_int("max_candidates", low=1),
        class_filter=inputs.as_str_list("class_filter"),
    )


@dataclass(frozen=True)
class _ModelCall:
    """One call of a model on a group of images: its id (the step's ``inference_id`` output,
    shared by the group's results as the reference's batch request shares one) and the seconds
    it took."""

    inference_id: str
    time_s: float


class _ModelBlock(Block):
    """Groups a step's elements by (model id, params) and runs each group as one batch."""

    concurrent = True

    task: ClassVar[ParamsTask]
    with_model_id: ClassVar[bool] = True

    def values(self, inputs: StepInputs) -> ParamValues:
        """What the step's fields say about the params."""
        return ParamValues(confidence=_confidence(inputs))

    def params(self, inputs: StepInputs) -> TaskParams:
        try:
            return build_params(self.task, self.values(inputs))
        except InvalidParamError as exc:
            raise inputs.fail(exc.param, exc.message) from None

    def convert(
        self, result: object, image: WorkflowImage, params: TaskParams, call: _ModelCall
    ) -> object:
        raise NotImplementedError

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        groups: dict[tuple[str, TaskParams], list[int]] = {}
        for position, inputs in enumerate(batch):
            inputs.image("images")
            groups.setdefault((inputs.as_str("model_id"), self.params(inputs)), []).append(position)
        outputs: list[StepResult] = [{} for _ in batch]
        for (model_id, params), positions in groups.items():
            images = [batch[p].image("images") for p in positions]
            started = time.perf_counter()
            results = context.models.infer(
                model_id, self.task, [image.pixels_bgr for image in images], params
            )
            call = _ModelCall(str(uuid.uuid4()), time.perf_counter() - started)
            for position, image, result in zip(positions, images, results, strict=True):
                values: dict[str, Any] = {
                    "inference_id": call.inference_id,
                    "predictions": self.convert(result, image, params, call),
                }
                if self.with_model_id:
                    values["model_id"] = model_id
                outputs[position] = values
        return outputs


def _outputs(prediction_kinds: tuple[str, ...], v1: bool) -> tuple[OutputDefinition, ...]:
    if v1:
        return (
            OutputDefinition("inference_id", (k.STRING,)),
            OutputDefinition("predictions", prediction_kinds),
        )
    return (
        OutputDefinition("inference_id", (k.INFERENCE_ID,)),
        OutputDefinition("predictions", prediction_kinds),
        OutputDefinition("model_id", (k.ROBOFLOW_MODEL_ID,)),
    )


# -- detection-like tasks -------------------------------------------------------------------------


class _DetectionBlock(_ModelBlock):
    task: ClassVar[ParamsTask] = "object-detection"

    def values(self, inputs: StepInputs) -> ParamValues:
        return _detection_values(inputs)

    def convert(
        self, result: object, image: WorkflowImage, params: TaskParams, call: _ModelCall
    ) -> object:
        assert isinstance(result, sv.Detections)
        return attach_lineage(result, image.lineage)


class ObjectDetectionModelV1(_DetectionBlock):
    type = "roboflow_core/roboflow_object_detection_model@v1"
    aliases = ("RoboflowObjectDetectionModel", "ObjectDetectionModel")
    manifest = DetectionManifestV1
    outputs = _outputs((k.OBJECT_DETECTION_PREDICTION,), v1=True)
    with_model_id = False


class ObjectDetectionModelV2(_DetectionBlock):
    type = "roboflow_core/roboflow_object_detection_model@v2"
    manifest = DetectionManifestV1
    outputs = _outputs((k.OBJECT_DETECTION_PREDICTION,), v1=False)


class ObjectDetectionModelV3(_DetectionBlock):
    type = "roboflow_core/roboflow_object_detection_model@v3"
    manifest = DetectionManifestV3
    outputs = _outputs((k.OBJECT_DETECTION_PREDICTION,), v1=False)


class _SegmentationBlock(_DetectionBlock):
    task: ClassVar[ParamsTask] = "instance-segmentation"

    def values(self, inputs: StepInputs) -> ParamValues:
        mode = inputs.as_str("mask_decode_mode")
        if mode not in MASK_DECODE_MODES:
            raise inputs.fail("mask_decode_mode", f"expected accurate, tradeoff or fast: {mode!r}")
        return replace(
            _detection_values(inputs),
            mask_decode_mode=mode,
            tradeoff_factor=inputs.as_float("tradeoff_factor", low=0.0, high=1.0),
        )


class InstanceSegmentationModelV1(_SegmentationBlock):
    type = "roboflow_core/roboflow_instance_segmentation_model@v1"
    aliases = ("RoboflowInstanceSegmentationModel", "InstanceSegmentationModel")
    manifest = SegmentationManifestV1
    outputs = _outputs((k.INSTANCE_SEGMENTATION_PREDICTION,), v1=True)
    with_model_id = False


class InstanceSegmentationModelV2(_SegmentationBlock):
    type = "roboflow_core/roboflow_instance_segmentation_model@v2"
    manifest = SegmentationManifestV1
    outputs = _outputs((k.INSTANCE_SEGMENTATION_PREDICTION,), v1=False)


class InstanceSegmentationModelV3(_SegmentationBlock):
    type = "roboflow_core/roboflow_instance_segmentation_model@v3"
    manifest = SegmentationManifestV3
    outputs = _outputs((k.INSTANCE_SEGMENTATION_PREDICTION,), v1=False)


class InstanceSegmentationModelV4(_SegmentationBlock):
    """v4: no ``enforce_dense_masks_in_inference_models`` (the reference may answer with RLE
    masks, hence the extra output kind); the models here give dense masks, written as polygons."""

    type = "roboflow_core/roboflow_instance_segmentation_model@v4"
    manifest = SegmentationManifestV4
    outputs = _outputs(
        (k.RLE_INSTANCE_SEGMENTATION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION), v1=False
    )


class _KeypointBlock(_DetectionBlock):
    task: ClassVar[ParamsTask] = "keypoint-detection"

    def values(self, inputs: StepInputs) -> ParamValues:
        return replace(
            _detection_values(inputs),
            keypoint_confidence=inputs.as_float("keypoint_confidence", low=0.0, high=1.0),
        )

    def convert(
        self, result: object, image: WorkflowImage, params: TaskParams, call: _ModelCall
    ) -> object:
        assert isinstance(result, sv.Detections)
        assert isinstance(params, KeypointParams)
        threshold = params.keypoint_confidence
        if KEYPOINTS_CONFIDENCE in result.data and threshold > 0:
            # Keypoints under the threshold are not reported (the wire drops score-0 keypoints).
            scores = np.asarray(result.data[KEYPOINTS_CONFIDENCE], dtype=np.float32)
            result.data[KEYPOINTS_CONFIDENCE] = np.where(scores < threshold, 0.0, scores)
        return attach_lineage(result, image.lineage)


class KeypointDetectionModelV1(_KeypointBlock):
    type = "roboflow_core/roboflow_keypoint_detection_model@v1"
    aliases = ("RoboflowKeypointDetectionModel", "KeypointsDetectionModel")
    manifest = KeypointManifestV1
    outputs = _outputs((k.KEYPOINT_DETECTION_PREDICTION,), v1=True)
    with_model_id = False


class KeypointDetectionModelV2(_KeypointBlock):
    type = "roboflow_core/roboflow_keypoint_detection_model@v2"
    manifest = KeypointManifestV1
    outputs = _outputs((k.KEYPOINT_DETECTION_PREDICTION,), v1=False)


class KeypointDetectionModelV3(_KeypointBlock):
    type = "roboflow_core/roboflow_keypoint_detection_model@v3"
    manifest = KeypointManifestV3
    outputs = _outputs((k.KEYPOINT_DETECTION_PREDICTION,), v1=False)


# -- classification -------------------------------------------------------------------------------


class _ClassificationBlock(_ModelBlock):
    """Predictions are the ``/infer/classification`` body (with the call's ``inference_id`` and
    ``time``) plus ``prediction_type``, ``parent_id`` and ``root_parent_id``, as the reference's
    blocks return them."""

    task: ClassVar[ParamsTask] = "classification"

    def convert(
        self, result: object, image: WorkflowImage, params: TaskParams, call: _ModelCall
    ) -> object:
        assert isinstance(result, ClassificationResult)
        assert isinstance(params, ClassificationParams)
        body = classification_response(
            result,
            image_wh=image.lineage.size_wh,
            inference_id=call.inference_id,
            time_s=call.time_s,
            confidence=params.confidence,
        )
        body["prediction_type"] = "classification"
        body["parent_id"] = image.lineage.image_id
        body["root_parent_id"] = image.lineage.root_id
        return body


def _classification_outputs(v1: bool) -> tuple[OutputDefinition, ...]:
    predictions = OutputDefinition("predictions", (k.CLASSIFICATION_PREDICTION,))
    if v1:
        return (predictions, OutputDefinition("inference_id", (k.STRING,)))
    return (
        predictions,
        OutputDefinition("inference_id", (k.INFERENCE_ID,)),
        OutputDefinition("model_id", (k.ROBOFLOW_MODEL_ID,)),
    )


class ClassificationModelV1(_ClassificationBlock):
    type = "roboflow_core/roboflow_classification_model@v1"
    aliases = ("RoboflowClassificationModel", "ClassificationModel")
    manifest = ClassificationManifestV1
    outputs = _classification_outputs(v1=True)
    with_model_id = False


class ClassificationModelV2(_ClassificationBlock):
    type = "roboflow_core/roboflow_classification_model@v2"
    manifest = ClassificationManifestV1
    outputs = _classification_outputs(v1=False)


class ClassificationModelV3(_ClassificationBlock):
    type = "roboflow_core/roboflow_classification_model@v3"
    manifest = ClassificationManifestV3
    outputs = _classification_outputs(v1=False)


class MultiLabelClassificationModelV1(ClassificationModelV1):
    type = "roboflow_core/roboflow_multi_label_classification_model@v1"
    aliases = ("RoboflowMultiLabelClassificationModel", "MultiLabelClassificationModel")


class MultiLabelClassificationModelV2(ClassificationModelV2):
    type = "roboflow_core/roboflow_multi_label_classification_model@v2"


class MultiLabelClassificationModelV3(_ClassificationBlock):
    type = "roboflow_core/roboflow_multi_label_classification_model@v3"
    manifest = MultiLabelManifestV3
    outputs = _classification_outputs(v1=False)


# -- semantic segmentation ------------------------------------------------------------------------


def semantic_detections(result: SemanticSegmentationResult) -> sv.Detections:
    """One detection per class present (class 0, background, excluded): the class's bounding box,
    its mean confidence, and its mask as COCO RLE in ``data["rle_mask"]``."""
    boxes, ids, scores, rles = [], [], [], []
    for class_id in (int(c) for c in np.unique(result.class_ids) if c != 0):
        mask = result.class_ids == class_id
        rows, cols = np.nonzero(np.any(mask, axis=1))[0], np.nonzero(np.any(mask, axis=0))[0]
        boxes.append([cols[0], rows[0], cols[-1], rows[-1]])
        ids.append(class_id)
        scores.append(float(result.confidence[mask].mean()))
        rles.append(mask_to_rle(mask))
    names = [result.class_names[i] if i < len(result.class_names) else str(i) for i in ids]
    count = len(ids)
    rle_column = np.empty(count, dtype=object)
    for index, rle in enumerate(rles):
        rle_column[index] = rle
    return sv.Detections(
        xyxy=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.asarray(scores, dtype=np.float32),
        class_id=np.asarray(ids, dtype=np.int64),
        data={
            "class_name": np.array(names, dtype=object).reshape(count),
            DETECTION_ID: np.array([str(uuid.uuid4()) for _ in ids], dtype=object),
            RLE_MASK: rle_column,
        },
    )


class _SemanticBlock(_ModelBlock):
    task: ClassVar[ParamsTask] = "semantic-segmentation"
    outputs = _outputs((k.SEMANTIC_SEGMENTATION_PREDICTION,), v1=False)

    def convert(
        self, result: object, image: WorkflowImage, params: TaskParams, call: _ModelCall
    ) -> object:
        assert isinstance(result, SemanticSegmentationResult)
        return attach_lineage(semantic_detections(result), image.lineage)


class SemanticSegmentationModelV1(_SemanticBlock):
    type = "roboflow_core/roboflow_semantic_segmentation_model@v1"
    manifest = SemanticManifestV1


class SemanticSegmentationModelV2(_SemanticBlock):
    type = "roboflow_core/roboflow_semantic_segmentation_model@v2"
    manifest = SemanticManifestV2


MODEL_BLOCKS: tuple[type[Block], ...] = (
    ObjectDetectionModelV1,
    ObjectDetectionModelV2,
    ObjectDetectionModelV3,
    InstanceSegmentationModelV1,
    InstanceSegmentationModelV2,
    InstanceSegmentationModelV3,
    InstanceSegmentationModelV4,
    KeypointDetectionModelV1,
    KeypointDetectionModelV2,
    KeypointDetectionModelV3,
    ClassificationModelV1,
    ClassificationModelV2,
    ClassificationModelV3,
    MultiLabelClassificationModelV1,
    MultiLabelClassificationModelV2,
    MultiLabelClassificationModelV3,
    SemanticSegmentationModelV1,
    SemanticSegmentationModelV2,
)
