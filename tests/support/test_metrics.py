"""The AP helper must itself be right, or the accuracy test proves nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.metrics import ImageResult, mean_ap

GT = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
GT_CLASS = np.array([0, 1])


def result(pred: list[list[float]], classes: list[int], scores: list[float]) -> ImageResult:
    return ImageResult(
        GT,
        GT_CLASS,
        np.array(pred, dtype=np.float32).reshape(-1, 4),
        np.array(classes, dtype=np.int64),
        np.array(scores, dtype=np.float32),
    )


@pytest.mark.parametrize(
    ("pred", "classes", "scores", "expected"),
    [
        pytest.param([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1], [0.9, 0.8], 1.0, id="perfect"),
        pytest.param([], [], [], 0.0, id="empty-predictions"),
        pytest.param([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 0], [0.9, 0.8], 0.0, id="wrong-class"),
        pytest.param([[0, 0, 10, 10]], [0], [0.9], 0.5, id="one-of-two-classes"),
        pytest.param(
            [[0, 0, 10, 20], [20, 20, 30, 30]], [0, 1], [0.9, 0.8], 1.0, id="iou-exactly-half-hits"
        ),
        pytest.param(
            [[50, 50, 60, 60], [0, 0, 10, 10], [20, 20, 30, 30]],
            [0, 0, 1],
            [0.95, 0.9, 0.8],
            0.75,
            id="false-positive-ranked-first",
        ),
        pytest.param(
            [[0, 0, 10, 21], [20, 20, 30, 30]], [0, 1], [0.9, 0.8], 0.5, id="iou-below-half"
        ),
    ],
)
def test_mean_ap(
    pred: list[list[float]], classes: list[int], scores: list[float], expected: float
) -> None:
    assert mean_ap([result(pred, classes, scores)], 2) == pytest.approx(expected)
