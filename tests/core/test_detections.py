from __future__ import annotations

import uuid

import numpy as np
import pytest

from visionflow.core.detections import (
    CLASS_NAME,
    DETECTION_ID,
    empty_detections,
    make_detections,
    random_uuid4s,
)

NAMES = ("circle", "square", "triangle")


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "expected_names"),
    [
        pytest.param(np.zeros((0, 4)), [], [], [], id="empty"),
        pytest.param([[0, 0, 1, 1]], [0.5], [1], ["square"], id="one"),
        pytest.param(
            [[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]],
            [0.9, 0.8, 0.7],
            [2, 0, 2],
            ["triangle", "circle", "triangle"],
            id="several",
        ),
        pytest.param([[0, 0, 1, 1], [0, 0, 2, 2]], [0.5, 0.4], [3, -1], ["3", "-1"], id="unknown"),
    ],
)
def test_make_detections(
    xyxy: object, confidence: list[float], class_id: list[int], expected_names: list[str]
) -> None:
    detections = make_detections(
        np.asarray(xyxy, dtype=np.float64), np.asarray(confidence), np.asarray(class_id), NAMES
    )

    count = len(expected_names)
    assert len(detections) == count
    assert detections.xyxy.dtype == np.float32
    assert detections.xyxy.shape == (count, 4)
    assert detections.confidence is not None
    assert detections.confidence.dtype == np.float32
    np.testing.assert_allclose(detections.confidence, confidence)
    assert detections.class_id is not None
    assert detections.class_id.dtype == np.int64
    assert detections.class_id.tolist() == class_id
    assert detections.data[CLASS_NAME].tolist() == expected_names
    ids = detections.data[DETECTION_ID].tolist()
    assert len(ids) == count
    assert len(set(ids)) == count
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_detection_ids_are_fresh_per_call() -> None:
    args = (np.zeros((2, 4)), np.ones(2), np.zeros(2, dtype=np.int64), NAMES)

    first = make_detections(*args).data[DETECTION_ID].tolist()
    second = make_detections(*args).data[DETECTION_ID].tolist()

    assert not set(first) & set(second)


def test_empty_detections() -> None:
    detections = empty_detections()

    assert len(detections) == 0
    assert detections.xyxy.shape == (0, 4)
    assert detections.data[CLASS_NAME].shape == (0,)
    assert detections.data[DETECTION_ID].shape == (0,)


def test_indexing_keeps_data_aligned() -> None:
    detections = make_detections(
        np.array([[0, 0, 1, 1], [2, 2, 3, 3]]), np.array([0.9, 0.8]), np.array([0, 1]), NAMES
    )

    second = detections[np.array([False, True])]

    assert second.data[CLASS_NAME].tolist() == ["square"]
    assert second.data[DETECTION_ID].tolist() == [detections.data[DETECTION_ID][1]]


@pytest.mark.parametrize("count", [pytest.param(0, id="empty"), 1, 300])
def test_random_uuid4s_are_canonical_distinct_version_4(count: int) -> None:
    ids = random_uuid4s(count)

    parsed = [uuid.UUID(text) for text in ids]
    assert len(ids) == count
    assert [str(value) for value in parsed] == ids  # canonical lower-case 8-4-4-4-12
    assert all(value.version == 4 and value.variant == uuid.RFC_4122 for value in parsed)
    assert len(set(ids)) == count
