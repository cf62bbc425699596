"""Wire shapes of the tasks beyond object detection (reference §4.3–4.7): instance segmentation
points/RLE, keypoints, single- and multi-label classification, semantic segmentation."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv
from pycocotools import mask as coco_mask

from visionflow.core.detections import (
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    POLYGON,
    empty_detections,
    make_detections,
)
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult
from visionflow.core.wire import (
    classification_response,
    detection_predictions,
    object_detection_response,
    semantic_segmentation_response,
)

NAMES = ("cat", "dog", "bird")


def _nones(value: Any) -> list[str]:
    if value is None:
        return ["$"]
    if isinstance(value, dict):
        return [f"{k}.{p}" for k, v in value.items() for p in _nones(v)]
    if isinstance(value, list):
        return [f"[{i}].{p}" for i, v in enumerate(value) for p in _nones(v)]
    return []


def _classify(
    scores: list[float], confidence: float, *, names: tuple[str, ...] = NAMES, multilabel: bool
) -> dict[str, Any]:
    result = ClassificationResult(names, np.asarray(scores, dtype=np.float32), multilabel)
    return classification_response(
        result, image_wh=(224, 160), inference_id="id-1", time_s=0.5, confidence=confidence
    )


# ---------------------------------------------------------------- classification, single label


@pytest.mark.parametrize(
    ("names", "scores", "confidence", "expected", "top", "top_confidence"),
    [
        pytest.param((), [], 0.4, [], "", 0.0, id="empty-no-classes"),
        pytest.param(NAMES, [0.1, 0.2, 0.3], 0.4, [], "", 0.0, id="all-below-threshold"),
        pytest.param(
            NAMES,
            [0.25, 0.5, 0.125],
            0.25,
            [("dog", 1, 0.5), ("cat", 0, 0.25)],
            "dog",
            0.5,
            id="equal-to-threshold-is-kept",
        ),
        pytest.param(
            NAMES,
            [0.25, 0.5, 0.125],
            0.2500001,
            [("dog", 1, 0.5)],
            "dog",
            0.5,
            id="just-below-threshold-is-dropped",
        ),
        pytest.param(
            NAMES,
            [0.125, 0.25, 0.625],
            0.0,
            [("bird", 2, 0.625), ("dog", 1, 0.25), ("cat", 0, 0.125)],
            "bird",
            0.625,
            id="zero-threshold-keeps-all-sorted-desc",
        ),
        pytest.param(
            NAMES,
            [0.25, 0.5, 0.25],
            0.1,
            [("dog", 1, 0.5), ("cat", 0, 0.25), ("bird", 2, 0.25)],
            "dog",
            0.5,
            id="ties-keep-class-order",
        ),
        pytest.param(
            NAMES,
            [0.123456, 0.87654, 0.0],
            0.1,
            [("dog", 1, 0.8765), ("cat", 0, 0.1235)],
            "dog",
            0.8765,
            id="rounded-to-4-decimals",
        ),
    ],
)
def test_single_label_classification(
    names: tuple[str, ...],
    scores: list[float],
    confidence: float,
    expected: list[tuple[str, int, float]],
    top: str,
    top_confidence: float,
) -> None:
    body = _classify(scores, confidence, names=names, multilabel=False)

    assert body["image"] == {"width": 224, "height": 160}
    assert (body["inference_id"], body["time"]) == ("id-1", 0.5)
    assert [(p["class"], p["class_id"], p["confidence"]) for p in body["predictions"]] == expected
    assert all(set(p) == {"class", "class_id", "confidence"} for p in body["predictions"])
    assert body["top"] == top
    assert body["confidence"] == top_confidence
    assert isinstance(body["confidence"], float)
    assert "predicted_classes" not in body
    assert "visualization" not in body
    assert _nones(body) == []
    json.dumps(body)


# ---------------------------------------------------------------- classification, multi-label


@pytest.mark.parametrize(
    ("names", "scores", "confidence", "predicted"),
    [
        pytest.param((), [], 0.4, [], id="empty-no-classes"),
        pytest.param(NAMES, [0.1, 0.2, 0.3], 0.4, [], id="all-below"),
        pytest.param(NAMES, [0.25, 0.5, 0.125], 0.25, ["dog"], id="equal-to-threshold-excluded"),
        pytest.param(NAMES, [0.25, 0.5, 0.125], 0.0, ["cat", "dog", "bird"], id="zero-threshold"),
        pytest.param(NAMES, [0.9, 0.1, 0.8], 0.5, ["cat", "bird"], id="class-order-not-score"),
    ],
)
def test_multi_label_classification(
    names: tuple[str, ...], scores: list[float], confidence: float, predicted: list[str]
) -> None:
    body = _classify(scores, confidence, names=names, multilabel=True)

    # Every class is present, whatever its score, keyed by name.
    assert body["predictions"] == {
        name: {"confidence": pytest.approx(score), "class_id": i}
        for i, (name, score) in enumerate(zip(names, scores, strict=True))
    }
    assert body["predicted_classes"] == predicted
    assert "top" not in body
    assert "confidence" not in body
    assert _nones(body) == []
    json.dumps(body)


def test_classification_carries_visualization_when_given() -> None:
    result = ClassificationResult(NAMES, np.array([0.1, 0.8, 0.1], dtype=np.float32))

    body = classification_response(
        result, image_wh=(1, 1), inference_id=None, time_s=None, confidence=0.4, visualization="x"
    )

    assert body["visualization"] == "x"
    assert "inference_id" not in body
    assert "time" not in body


# ---------------------------------------------------------------- semantic segmentation


def _png(data: str) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return np.asarray(decoded)


@pytest.mark.parametrize(
    ("names", "class_ids", "png_dtype"),
    [
        pytest.param(("background", "road"), np.zeros((4, 6), np.int32), np.uint8, id="empty"),
        pytest.param(
            ("background", "road", "car"),
            np.array([[0, 1, 1, 2], [2, 2, 0, 1], [0, 0, 0, 0]], np.int32),
            np.uint8,
            id="three-classes",
        ),
        pytest.param(
            tuple(f"c{i}" for i in range(300)),
            np.array([[0, 299], [256, 7]], np.int32),
            np.uint16,
            id="more-than-256-classes",
        ),
    ],
)
def test_semantic_segmentation_mask_png_holds_class_ids(
    names: tuple[str, ...], class_ids: np.ndarray, png_dtype: type
) -> None:
    result = SemanticSegmentationResult(
        names, class_ids, np.ones(class_ids.shape, dtype=np.float32)
    )

    body = semantic_segmentation_response(
        result, image_wh=(class_ids.shape[1], class_ids.shape[0]), inference_id="i", time_s=0.1
    )

    predictions = body["predictions"]
    assert set(predictions) == {
        "segmentation_mask",
        "class_map",
        "confidence_mask",
        "present_class_ids",
    }
    mask = _png(predictions["segmentation_mask"])
    assert mask.dtype == png_dtype
    np.testing.assert_array_equal(mask, class_ids)
    assert predictions["class_map"] == {str(i): name for i, name in enumerate(names)}
    assert predictions["present_class_ids"] == sorted({int(v) for v in class_ids.ravel()})
    assert body["image"] == {"width": class_ids.shape[1], "height": class_ids.shape[0]}
    json.dumps(body)


def test_semantic_confidence_png_is_confidence_times_255() -> None:
    confidence = np.array([[0.0, 0.5, 1.0], [0.2, 0.999, 0.001]], dtype=np.float32)
    result = SemanticSegmentationResult(("a",), np.zeros((2, 3), np.int32), confidence)

    body = semantic_segmentation_response(result, image_wh=(3, 2), inference_id=None, time_s=None)

    plane = _png(body["predictions"]["confidence_mask"])
    assert plane.dtype == np.uint8
    # Truncated as the reference converts (conf * 255 in float32, then uint8): 127.5 → 127;
    # 0.2 * 255 = 51.0000008 → 51; 254.745 → 254; 0.255 → 0.
    np.testing.assert_array_equal(plane, [[0, 127, 255], [51, 254, 0]])


# ---------------------------------------------------------------- instance segmentation


def _decode_rle(rle: dict[str, Any]) -> np.ndarray:
    with warnings.catch_warnings():
        # pycocotools' Cython decode trips NumPy 2's ``__array__(copy=...)`` deprecation.
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        encoded = {"size": rle["size"], "counts": rle["counts"].encode()}
        return np.asarray(coco_mask.decode(encoded), dtype=bool)


def _segmented(boxes: list[list[int]], with_mask: bool = True) -> sv.Detections:
    """Detections on a 12x10 image whose masks fill their boxes; polygons are the box corners."""
    count = len(boxes)
    detections = make_detections(
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.linspace(0.9, 0.5, count),
        np.zeros(count, dtype=np.int64),
        NAMES,
    )
    masks = np.zeros((count, 10, 12), dtype=bool)
    polygons = np.empty(count, dtype=object)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        masks[i, y1:y2, x1:x2] = True
        polygons[i] = np.array(
            [[x1, y1], [x1, y2 - 1], [x2 - 1, y2 - 1], [x2 - 1, y1]], dtype=np.float32
        )
    if with_mask:
        detections.mask = masks
    detections.data[POLYGON] = polygons
    return detections


@pytest.mark.parametrize(
    "boxes",
    [
        pytest.param([], id="empty"),
        pytest.param([[2, 1, 6, 4]], id="one"),
        pytest.param([[2, 1, 6, 4], [0, 5, 12, 10]], id="two"),
    ],
)
def test_segmentation_polygon_points(boxes: list[list[int]]) -> None:
    predictions = detection_predictions(_segmented(boxes))

    assert len(predictions) == len(boxes)
    for prediction, (x1, y1, x2, y2) in zip(predictions, boxes, strict=True):
        assert prediction["mask_format"] == "polygon"
        assert "rle" not in prediction
        assert prediction["points"] == [
            {"x": float(x1), "y": float(y1)},
            {"x": float(x1), "y": float(y2 - 1)},
            {"x": float(x2 - 1), "y": float(y2 - 1)},
            {"x": float(x2 - 1), "y": float(y1)},
        ]
        assert all(type(p["x"]) is float for p in prediction["points"])
    json.dumps(predictions)


@pytest.mark.parametrize(
    "boxes",
    [
        pytest.param([], id="empty"),
        pytest.param([[2, 1, 6, 4]], id="one"),
        pytest.param([[2, 1, 6, 4], [0, 5, 12, 10]], id="two"),
    ],
)
def test_segmentation_rle(boxes: list[list[int]]) -> None:
    detections = _segmented(boxes)

    predictions = detection_predictions(detections, mask_format="rle")

    assert len(predictions) == len(boxes)
    for index, prediction in enumerate(predictions):
        assert prediction["mask_format"] == "rle"
        assert "points" not in prediction
        assert prediction["rle"]["size"] == [10, 12]
        assert isinstance(prediction["rle"]["counts"], str)
        np.testing.assert_array_equal(_decode_rle(prediction["rle"]), detections.mask[index])
    json.dumps(predictions)


def test_segmentation_rle_without_dense_masks_falls_back_to_points() -> None:
    predictions = detection_predictions(
        _segmented([[2, 1, 6, 4]], with_mask=False), mask_format="rle"
    )

    assert predictions[0]["mask_format"] == "polygon"
    assert "rle" not in predictions[0]
    assert len(predictions[0]["points"]) == 4


def test_segmentation_response_envelope() -> None:
    body = object_detection_response(
        _segmented([[2, 1, 6, 4]]),
        image_wh=(12, 10),
        inference_id="abc",
        time_s=0.25,
        mask_format="rle",
    )

    assert body["image"] == {"width": 12, "height": 10}
    assert body["predictions"][0]["rle"]["size"] == [10, 12]
    assert {k: body["predictions"][0][k] for k in ("x", "y", "width", "height")} == {
        "x": 4.0,
        "y": 2.5,
        "width": 4.0,
        "height": 3.0,
    }
    assert _nones(body) == []


# ---------------------------------------------------------------- keypoints


def _with_keypoints(confidences: list[list[float]]) -> sv.Detections:
    count = len(confidences)
    keypoints = len(confidences[0]) if confidences else 3
    detections = make_detections(
        np.tile(np.array([[0, 0, 10, 10]], dtype=np.float32), (count, 1)),
        np.full(count, 0.9),
        np.zeros(count, dtype=np.int64),
        ("person",),
    )
    xy = np.arange(count * keypoints * 2, dtype=np.float32).reshape(count, keypoints, 2) - 3
    names = np.empty(count, dtype=object)
    for i in range(count):
        names[i] = ["nose", "left_eye", "right_eye", "left_ear"][:keypoints]
    detections.data[KEYPOINTS_XY] = xy
    detections.data[KEYPOINTS_CONFIDENCE] = np.asarray(confidences, np.float32).reshape(
        count, keypoints
    )
    detections.data[KEYPOINTS_CLASS_NAME] = names
    return detections


@pytest.mark.parametrize(
    ("confidences", "threshold", "expected"),
    [
        pytest.param([], 0.0, [], id="empty"),
        pytest.param(
            [[0.9, 0.0, 0.5, 0.25]],
            0.0,
            [[(0, "nose", 0.9), (2, "right_eye", 0.5), (3, "left_ear", 0.25)]],
            id="default-drops-only-zero",
        ),
        pytest.param(
            [[0.9, 0.0, 0.5, 0.25]],
            0.5,
            [[(0, "nose", 0.9)]],
            id="equal-to-threshold-dropped",
        ),
        pytest.param(
            [[0.9, 0.0, 0.5, 0.25]],
            0.4999,
            [[(0, "nose", 0.9), (2, "right_eye", 0.5)]],
            id="just-above-threshold-kept",
        ),
        pytest.param([[0.9, 0.0, 0.5, 0.25]], 1.0, [[]], id="all-dropped"),
        pytest.param(
            [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]],
            0.0,
            [
                [],
                [
                    (0, "nose", 1.0),
                    (1, "left_eye", 1.0),
                    (2, "right_eye", 1.0),
                    (3, "left_ear", 1.0),
                ],
            ],
            id="per-detection",
        ),
    ],
)
def test_keypoints_filter(
    confidences: list[list[float]], threshold: float, expected: list[list[tuple[int, str, float]]]
) -> None:
    detections = _with_keypoints(confidences)

    predictions = detection_predictions(detections, keypoint_confidence=threshold)

    assert [
        [(k["class_id"], k["class"], pytest.approx(k["confidence"])) for k in p["keypoints"]]
        for p in predictions
    ] == expected
    for index, prediction in enumerate(predictions):
        for keypoint in prediction["keypoints"]:
            assert set(keypoint) == {"x", "y", "confidence", "class_id", "class"}
            # class_id is the keypoint's index in the skeleton, kept when others are dropped.
            x, y = detections.data[KEYPOINTS_XY][index, keypoint["class_id"]]
            assert (keypoint["x"], keypoint["y"]) == (float(x), float(y))
            assert type(keypoint["x"]) is float
    json.dumps(predictions)


def test_detections_without_keypoints_have_no_keypoints_key() -> None:
    assert detection_predictions(empty_detections()) == []
    detections = make_detections(np.array([[0, 0, 1, 1]]), np.array([0.5]), np.array([0]), NAMES)

    assert "keypoints" not in detection_predictions(detections)[0]
    assert "points" not in detection_predictions(detections)[0]
