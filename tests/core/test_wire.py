from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pytest
import supervision as sv

from visionflow.core.detections import PARENT_ID, empty_detections, make_detections
from visionflow.core.wire import detection_predictions, object_detection_response

NAMES = ("circle", "square", "triangle")
PREDICTION_KEYS = {"x", "y", "width", "height", "confidence", "class", "class_id", "detection_id"}


def _nones(value: Any) -> list[str]:
    """Paths of every ``None`` inside a JSON-like value."""
    if value is None:
        return ["$"]
    if isinstance(value, dict):
        return [f"{k}.{p}" for k, v in value.items() for p in _nones(v)]
    if isinstance(value, list):
        return [f"[{i}].{p}" for i, v in enumerate(value) for p in _nones(v)]
    return []


@pytest.mark.parametrize(
    ("xyxy", "class_id", "confidence", "expected"),
    [
        pytest.param(np.zeros((0, 4)), [], [], [], id="empty"),
        pytest.param(
            [[10, 20, 30, 60]],
            [1],
            [0.75],
            [{"x": 20.0, "y": 40.0, "width": 20.0, "height": 40.0, "class": "square"}],
            id="centre-and-size",
        ),
        pytest.param(
            [[256, 176, 384, 304], [0, 0, 3, 1]],
            [0, 2],
            [0.5, 0.25],
            [
                {"x": 320.0, "y": 240.0, "width": 128.0, "height": 128.0, "class": "circle"},
                {"x": 1.5, "y": 0.5, "width": 3.0, "height": 1.0, "class": "triangle"},
            ],
            id="two-half-pixel-centre",
        ),
    ],
)
def test_detection_predictions(
    xyxy: object, class_id: list[int], confidence: list[float], expected: list[dict[str, Any]]
) -> None:
    detections = make_detections(
        np.asarray(xyxy, dtype=np.float32), np.asarray(confidence), np.asarray(class_id), NAMES
    )

    predictions = detection_predictions(detections)

    assert len(predictions) == len(expected)
    for prediction, want, cid, conf in zip(
        predictions, expected, class_id, confidence, strict=True
    ):
        assert set(prediction) == PREDICTION_KEYS
        assert "class_name" not in prediction
        assert {k: prediction[k] for k in want} == want
        assert prediction["class_id"] == cid
        assert isinstance(prediction["class_id"], int)
        assert prediction["confidence"] == pytest.approx(conf)
        assert isinstance(prediction["confidence"], float)
        assert uuid.UUID(prediction["detection_id"]).version == 4
    assert _nones(predictions) == []
    json.dumps(predictions)  # plain Python types only


def test_predictions_carry_tracker_and_parent_when_set() -> None:
    detections = make_detections(
        np.array([[0, 0, 2, 2], [0, 0, 4, 4]]), np.array([0.9, 0.8]), np.array([0, 1]), NAMES
    )
    detections.tracker_id = np.array([7, 8])
    detections.data[PARENT_ID] = np.array(["parent-a", None], dtype=object)

    predictions = detection_predictions(detections)

    assert [p["tracker_id"] for p in predictions] == [7, 8]
    assert predictions[0]["parent_id"] == "parent-a"
    assert "parent_id" not in predictions[1]
    assert _nones(predictions) == []


def test_predictions_without_names_or_confidence() -> None:
    detections = sv.Detections(xyxy=np.array([[0.0, 0.0, 2.0, 2.0]]), class_id=np.array([2]))

    (prediction,) = detection_predictions(detections)

    assert prediction["class"] == "2"
    assert prediction["confidence"] == 1.0
    assert "detection_id" not in prediction
    assert _nones(prediction) == []


@pytest.mark.parametrize(
    ("inference_id", "time_s", "visualization", "expected_keys"),
    [
        pytest.param(None, None, None, {"image", "predictions"}, id="all-optional-omitted"),
        pytest.param(
            "req-1", 0.25, None, {"inference_id", "time", "image", "predictions"}, id="with-ids"
        ),
        pytest.param(
            "req-1",
            0.0,
            "aGVsbG8=",
            {"inference_id", "time", "image", "predictions", "visualization"},
            id="with-visualization",
        ),
    ],
)
def test_object_detection_response(
    inference_id: str | None,
    time_s: float | None,
    visualization: str | None,
    expected_keys: set[str],
) -> None:
    body = object_detection_response(
        empty_detections(),
        image_wh=(np.int64(640), np.int64(480)),  # type: ignore[arg-type]
        inference_id=inference_id,
        time_s=time_s,
        visualization=visualization,
    )

    assert set(body) == expected_keys
    assert body["image"] == {"width": 640, "height": 480}
    assert type(body["image"]["width"]) is int
    assert body["predictions"] == []
    assert body.get("inference_id") == inference_id
    assert body.get("time") == time_s
    assert body.get("visualization") == visualization
    assert _nones(body) == []
    json.dumps(body)
