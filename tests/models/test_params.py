"""``build_params``: one params type per task, every default defined once, ranges checked."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from visionflow.errors import InvalidInputError
from visionflow.models import params as params_module
from visionflow.models.params import (
    DEFAULT_CONFIDENCE,
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_KEYPOINT_CONFIDENCE,
    DEFAULT_MASK_DECODE_MODE,
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_MAX_DETECTIONS,
    DEFAULT_TRADEOFF_FACTOR,
    PARAMS_TYPES,
    ClassificationParams,
    DetectionParams,
    InvalidParamError,
    KeypointParams,
    OpenVocabularyParams,
    ParamValues,
    SegmentationParams,
    SemanticParams,
    build_params,
    require_params,
)

SRC = Path(params_module.__file__).parents[1]


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(params_module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", params_module.__name__) == params_module.__name__
        and name not in {"annotations", "TYPE_CHECKING", "P"}
    }
    assert public <= set(params_module.__all__)


def test_the_reference_defaults() -> None:
    # Wire reference §8.2.
    assert (DEFAULT_CONFIDENCE, DEFAULT_IOU_THRESHOLD) == (0.4, 0.3)
    assert (DEFAULT_MAX_DETECTIONS, DEFAULT_MAX_CANDIDATES) == (300, 3000)
    assert (DEFAULT_KEYPOINT_CONFIDENCE, DEFAULT_TRADEOFF_FACTOR) == (0.0, 0.0)
    assert DEFAULT_MASK_DECODE_MODE == "accurate"


def test_the_confidence_default_is_written_once() -> None:
    # The literal lives in models/params.py; everything else names DEFAULT_CONFIDENCE (other
    # 0.4 defaults, e.g. a rotation threshold in degrees, are not confidences).
    places = [
        (str(path.relative_to(SRC)), line.strip())
        for path in sorted(SRC.rglob("*.py"))
        for line in path.read_text().splitlines()
        if "= 0.4" in (code := line.split("#")[0]) and "conf" in code.lower()
    ]
    assert places == [("models/params.py", "DEFAULT_CONFIDENCE = 0.4")]


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        pytest.param("object-detection", DetectionParams(), id="detection"),
        pytest.param("instance-segmentation", SegmentationParams(), id="segmentation"),
        pytest.param("keypoint-detection", KeypointParams(), id="keypoints"),
        pytest.param("open-vocabulary-detection", OpenVocabularyParams(), id="open-vocabulary"),
        pytest.param("classification", ClassificationParams(), id="classification"),
        pytest.param("semantic-segmentation", SemanticParams(), id="semantic"),
    ],
)
def test_nothing_given_is_every_default(task: str, expected: object) -> None:
    built = build_params(task)

    assert built == expected
    assert type(built) is PARAMS_TYPES[task]
    assert built.confidence == DEFAULT_CONFIDENCE


def test_every_task_has_a_params_type() -> None:
    assert set(PARAMS_TYPES) == {
        "object-detection",
        "instance-segmentation",
        "keypoint-detection",
        "open-vocabulary-detection",
        "classification",
        "semantic-segmentation",
    }


EVERYTHING = ParamValues(
    confidence=0.55,
    iou_threshold=0.45,
    class_agnostic_nms=True,
    max_detections=7,
    max_candidates=70,
    class_filter=["a", "b"],
    mask_decode_mode="tradeoff",
    tradeoff_factor=0.25,
    allow_reduced_mask_resolution=True,
    keypoint_confidence=0.35,
    class_names=["cat"],
)
NMS: dict[str, Any] = {
    "confidence": 0.55,
    "iou_threshold": 0.45,
    "class_agnostic_nms": True,
    "max_detections": 7,
    "max_candidates": 70,
    "class_filter": ("a", "b"),
}


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        pytest.param("object-detection", DetectionParams(**NMS), id="detection"),
        pytest.param(
            "instance-segmentation",
            SegmentationParams(
                **NMS,
                mask_decode_mode="tradeoff",
                tradeoff_factor=0.25,
                allow_reduced_mask_resolution=True,
            ),
            id="segmentation",
        ),
        pytest.param(
            "keypoint-detection", KeypointParams(**NMS, keypoint_confidence=0.35), id="keypoints"
        ),
        pytest.param(
            "open-vocabulary-detection",
            OpenVocabularyParams(**NMS, class_names=("cat",)),
            id="open-vocabulary",
        ),
        # Values a task has no use for are ignored, as the reference ignores them.
        pytest.param("classification", ClassificationParams(0.55), id="classification"),
        pytest.param("semantic-segmentation", SemanticParams(0.55), id="semantic"),
    ],
)
def test_each_task_takes_its_values(task: str, expected: object) -> None:
    built = build_params(task, EVERYTHING)

    assert built == expected
    hash(built)  # params group workflow calls: they must stay hashable


def test_a_value_given_as_the_default_is_the_default() -> None:
    given = ParamValues(confidence=DEFAULT_CONFIDENCE, iou_threshold=DEFAULT_IOU_THRESHOLD)
    assert build_params("object-detection", given) == build_params("object-detection")


def test_segmentation_keeps_the_reduced_resolution_opt_in() -> None:
    # mask_decode_mode applies only with allow_reduced_mask_resolution, as on the reference.
    fast = build_params("instance-segmentation", ParamValues(mask_decode_mode="fast"))
    assert fast.resolution_factor == 1.0
    reduced = dataclasses.replace(fast, allow_reduced_mask_resolution=True)
    assert reduced.resolution_factor == 0.0
    tradeoff = build_params(
        "instance-segmentation",
        ParamValues(
            mask_decode_mode="tradeoff", tradeoff_factor=0.25, allow_reduced_mask_resolution=True
        ),
    )
    assert tradeoff.resolution_factor == 0.25


@pytest.mark.parametrize(
    ("task", "values", "param", "message"),
    [
        pytest.param(
            "object-detection",
            ParamValues(confidence=1.5),
            "confidence",
            r"confidence must be within \[0, 1\], got 1.5",
            id="confidence-above-one",
        ),
        pytest.param(
            "classification",
            ParamValues(confidence=-0.1),
            "confidence",
            r"confidence must be within \[0, 1\], got -0.1",
            id="classification-negative",
        ),
        pytest.param(
            "semantic-segmentation",
            ParamValues(confidence=math.nan),
            "confidence",
            r"confidence must be within \[0, 1\], got nan",
            id="semantic-nan",
        ),
        pytest.param(
            "object-detection",
            ParamValues(iou_threshold=2.0),
            "iou_threshold",
            r"iou_threshold must be within \[0, 1\]",
            id="iou",
        ),
        pytest.param(
            "object-detection",
            ParamValues(max_detections=-1),
            "max_detections",
            r"max_detections must be >= 0, got -1",
            id="max-detections",
        ),
        pytest.param(
            "object-detection",
            ParamValues(max_candidates=-5),
            "max_candidates",
            r"max_candidates must be >= 0, got -5",
            id="max-candidates",
        ),
        pytest.param(
            "instance-segmentation",
            ParamValues(mask_decode_mode="sloppy"),
            "mask_decode_mode",
            r"mask_decode_mode='sloppy' is not supported; use accurate, fast or tradeoff",
            id="mask-decode-mode",
        ),
        pytest.param(
            "instance-segmentation",
            ParamValues(tradeoff_factor=1.01),
            "tradeoff_factor",
            r"tradeoff_factor must be within \[0, 1\]",
            id="tradeoff",
        ),
        pytest.param(
            "keypoint-detection",
            ParamValues(keypoint_confidence=3.0),
            "keypoint_confidence",
            r"keypoint_confidence must be within \[0, 1\]",
            id="keypoint-confidence",
        ),
    ],
)
def test_out_of_range_is_a_400_naming_the_parameter(
    task: str, values: ParamValues, param: str, message: str
) -> None:
    with pytest.raises(InvalidParamError, match=message) as raised:
        build_params(task, values)

    assert raised.value.param == param
    assert raised.value.status_code == 400


def test_values_of_other_tasks_are_not_checked() -> None:
    # A detection request's stray mask field is ignored, not refused.
    assert build_params("object-detection", ParamValues(mask_decode_mode="sloppy")) == (
        DetectionParams()
    )


@pytest.mark.parametrize("task", ["embedding", "ocr", ""])
def test_a_task_without_params_is_a_400(task: str) -> None:
    with pytest.raises(InvalidInputError, match="take no inference parameters") as raised:
        build_params(task)
    assert raised.value.details == {"model_task": task}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(DetectionParams(), DetectionParams, id="exact"),
        pytest.param(SegmentationParams(), DetectionParams, id="subclass"),
    ],
)
def test_require_params_passes_its_type(params: object, expected: type[Any]) -> None:
    assert require_params(params, expected, "Model") is params


@pytest.mark.parametrize(
    ("params", "expected", "message"),
    [
        pytest.param(
            DetectionParams(),
            SegmentationParams,
            "Model.infer takes SegmentationParams, got DetectionParams",
            id="detection-for-segmentation",
        ),
        pytest.param(
            ClassificationParams(),
            SemanticParams,
            "takes SemanticParams, got ClassificationParams",
            id="another-task",
        ),
        pytest.param(None, ClassificationParams, "got NoneType", id="none"),
    ],
)
def test_require_params_refuses_another_type(
    params: object, expected: type[Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        require_params(params, expected, "Model")
