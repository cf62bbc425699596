"""Model blocks turn their fields into the model's typed params, per version."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.fakes import FakeModels, context, decode_image, definition
from visionflow.models.params import (
    ClassificationParams,
    DetectionParams,
    KeypointParams,
    SegmentationParams,
    SemanticParams,
)
from visionflow.workflows import BlockRegistry, Executor, compile_workflow
from visionflow.workflows.errors import InvalidInputTypeError


@pytest.fixture(scope="module")
def registry() -> BlockRegistry:
    return BlockRegistry()


def _params(registry: BlockRegistry, block: str, inputs: dict[str, Any], **fields: Any) -> object:
    step = {
        "type": f"roboflow_core/{block}",
        "name": "m",
        "images": "$inputs.image",
        "model_id": "fake/1",
        **fields,
    }
    declared = [{"type": "WorkflowImage", "name": "image"}] + [
        {"type": "WorkflowParameter", "name": name} for name in inputs
    ]
    plan = compile_workflow(definition([step], {"p": "$steps.m.predictions"}, declared), registry)
    models = FakeModels()
    Executor().run(
        plan, {"image": "64x48", **inputs}, context=context(models), decode_image=decode_image
    )
    [params] = models.params
    return params


@pytest.mark.parametrize(
    ("block", "fields", "expected"),
    [
        pytest.param("roboflow_object_detection_model@v1", {}, DetectionParams(), id="od-defaults"),
        pytest.param(
            "roboflow_object_detection_model@v2",
            {"confidence": 0.6, "class_filter": ["a"], "max_detections": 5},
            DetectionParams(confidence=0.6, class_filter=("a",), max_detections=5),
            id="od-fields",
        ),
        pytest.param(
            "roboflow_object_detection_model@v3",
            {"confidence_mode": "custom", "custom_confidence": 0.7},
            DetectionParams(confidence=0.7),
            id="od-v3-custom",
        ),
        pytest.param(
            "roboflow_object_detection_model@v3",
            {"confidence_mode": "best", "custom_confidence": 0.7},
            DetectionParams(confidence=0.4),
            id="od-v3-best",
        ),
        pytest.param(
            "roboflow_instance_segmentation_model@v2",
            {"mask_decode_mode": "fast", "iou_threshold": 0.5},
            SegmentationParams(mask_decode_mode="fast", iou_threshold=0.5),
            id="seg",
        ),
        pytest.param(
            "roboflow_instance_segmentation_model@v4",
            {"confidence_mode": "custom", "custom_confidence": 0.6, "tradeoff_factor": 0.5},
            SegmentationParams(confidence=0.6, tradeoff_factor=0.5),
            id="seg-v4",
        ),
        pytest.param(
            # v4 has no dense-mask switch: a v3 definition's is ignored, like any unknown field.
            "roboflow_instance_segmentation_model@v4",
            {"enforce_dense_masks_in_inference_models": False},
            SegmentationParams(),
            id="seg-v4-v3-fields",
        ),
        pytest.param(
            "roboflow_keypoint_detection_model@v3",
            {"confidence_mode": "custom", "custom_confidence": 0.2},
            KeypointParams(confidence=0.2),
            id="keypoints-v3",
        ),
        pytest.param(
            "roboflow_keypoint_detection_model@v2",
            {"keypoint_confidence": 0.5},
            KeypointParams(keypoint_confidence=0.5),
            id="keypoints-v2-keypoint-confidence",
        ),
        pytest.param(
            "roboflow_classification_model@v2",
            {"confidence": 0.7},
            ClassificationParams(confidence=0.7),
            id="cls",
        ),
        pytest.param(
            "roboflow_multi_label_classification_model@v3", {}, ClassificationParams(), id="ml-v3"
        ),
        # As the reference's blocks: v1 sends no confidence, v2's "default" mode the default one.
        pytest.param("roboflow_semantic_segmentation_model@v1", {}, SemanticParams(), id="sem"),
        pytest.param("roboflow_semantic_segmentation_model@v2", {}, SemanticParams(), id="sem-v2"),
        pytest.param(
            "roboflow_semantic_segmentation_model@v2",
            {"confidence_mode": "custom", "custom_confidence": 0.3},
            SemanticParams(confidence=0.3),
            id="sem-v2-custom",
        ),
    ],
)
def test_fields_become_params(
    registry: BlockRegistry, block: str, fields: dict[str, Any], expected: object
) -> None:
    assert _params(registry, block, {}, **fields) == expected


def test_params_from_selectors(registry: BlockRegistry) -> None:
    params = _params(
        registry,
        "roboflow_object_detection_model@v2",
        {"conf": 0.55, "classes": ["x", "y"]},
        confidence="$inputs.conf",
        class_filter="$inputs.classes",
    )
    assert params == DetectionParams(confidence=0.55, class_filter=("x", "y"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "loose", "field 'confidence_mode': expected best, default or custom", id="mode"
        ),
    ],
)
def test_bad_runtime_values(registry: BlockRegistry, value: Any, message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _params(
            registry,
            "roboflow_object_detection_model@v3",
            {"mode": value},
            confidence_mode="$inputs.mode",
        )
