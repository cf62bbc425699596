"""Result types validate their shapes at construction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from visionflow.core.results import ClassificationResult, SemanticSegmentationResult


@pytest.mark.parametrize(
    ("names", "scores", "multilabel"),
    [
        pytest.param((), [], False, id="empty"),
        pytest.param(("cat",), [0.9], False, id="one-class"),
        pytest.param(("cat", "dog", "bird"), [0.1, 0.7, 0.2], False, id="single-label"),
        pytest.param(("cat", "dog"), [0.9, 0.8], True, id="multi-label"),
    ],
)
def test_classification_result_accepts_aligned_scores(
    names: tuple[str, ...], scores: list[float], multilabel: bool
) -> None:
    result = ClassificationResult(names, np.asarray(scores, dtype=np.float32), multilabel)

    assert result.scores.shape == (len(names),)
    assert result.multilabel is multilabel


@pytest.mark.parametrize(
    ("names", "scores", "message"),
    [
        pytest.param((), [0.5], r"scores must be \(0,\), got \(1,\)", id="empty-names-one-score"),
        pytest.param(("a", "b"), [0.5], r"scores must be \(2,\), got \(1,\)", id="too-few"),
        pytest.param(("a",), [0.5, 0.5], r"scores must be \(1,\), got \(2,\)", id="too-many"),
        pytest.param(("a", "b"), [[0.5, 0.5]], r"got \(1, 2\)", id="batched-2d"),
    ],
)
def test_classification_result_rejects_misaligned_scores(
    names: tuple[str, ...], scores: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ClassificationResult(names, np.asarray(scores, dtype=np.float32))


def test_classification_result_is_frozen() -> None:
    result = ClassificationResult(("a",), np.array([1.0], dtype=np.float32))

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.multilabel = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param((0, 0), id="empty"),
        pytest.param((1, 1), id="one-pixel"),
        pytest.param((480, 640), id="image"),
    ],
)
def test_semantic_result_accepts_matching_planes(shape: tuple[int, int]) -> None:
    result = SemanticSegmentationResult(
        ("background", "road"),
        np.zeros(shape, dtype=np.int32),
        np.ones(shape, dtype=np.float32),
    )

    assert result.class_ids.shape == result.confidence.shape == shape


@pytest.mark.parametrize(
    ("ids_shape", "confidence_shape"),
    [
        pytest.param((4, 6), (6, 4), id="transposed"),
        pytest.param((4, 6), (4, 5), id="different-width"),
        pytest.param((1, 4, 6), (1, 4, 6), id="batched-3d"),
        pytest.param((6,), (6,), id="flat-1d"),
    ],
)
def test_semantic_result_rejects_mismatched_planes(
    ids_shape: tuple[int, ...], confidence_shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match=r"must both be \(H, W\)"):
        SemanticSegmentationResult(
            ("background",),
            np.zeros(ids_shape, dtype=np.int32),
            np.zeros(confidence_shape, dtype=np.float32),
        )
