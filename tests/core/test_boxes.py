from __future__ import annotations

import numpy as np
import pytest

from visionflow.core.boxes import box_iou_xyxy, clip_xyxy, cxcywh_to_xyxy, xyxy_to_cxcywh


@pytest.mark.parametrize(
    ("cxcywh", "expected_xyxy"),
    [
        pytest.param(np.zeros((0, 4)), np.zeros((0, 4)), id="empty"),
        pytest.param([[160, 160, 64, 64]], [[128, 128, 192, 192]], id="square"),
        pytest.param([[10, 20, 4, 8]], [[8, 16, 12, 24]], id="rectangle"),
        pytest.param([[5, 5, 0, 0]], [[5, 5, 5, 5]], id="zero-size"),
        pytest.param([[0.5, 1.5, 3, 1]], [[-1, 1, 2, 2]], id="fractional-negative"),
        pytest.param(
            [[1, 1, 2, 2], [10, 10, 4, 2]], [[0, 0, 2, 2], [8, 9, 12, 11]], id="two-boxes"
        ),
    ],
)
def test_cxcywh_to_xyxy(cxcywh: object, expected_xyxy: object) -> None:
    result = cxcywh_to_xyxy(np.asarray(cxcywh, dtype=np.float64))

    assert result.dtype == np.float32
    assert result.shape == np.asarray(expected_xyxy).reshape(-1, 4).shape
    np.testing.assert_allclose(result, np.asarray(expected_xyxy).reshape(-1, 4))


@pytest.mark.parametrize(
    ("xyxy", "expected_cxcywh"),
    [
        pytest.param(np.zeros((0, 4)), np.zeros((0, 4)), id="empty"),
        pytest.param([[128, 128, 192, 192]], [[160, 160, 64, 64]], id="square"),
        pytest.param([[8, 16, 12, 24]], [[10, 20, 4, 8]], id="rectangle"),
        pytest.param([[-1, 1, 2, 2]], [[0.5, 1.5, 3, 1]], id="negative"),
    ],
)
def test_xyxy_to_cxcywh(xyxy: object, expected_cxcywh: object) -> None:
    result = xyxy_to_cxcywh(np.asarray(xyxy, dtype=np.float32))

    assert result.dtype == np.float64
    np.testing.assert_allclose(result, np.asarray(expected_cxcywh).reshape(-1, 4))


def test_conversions_round_trip() -> None:
    rng = np.random.default_rng(7)
    cxcywh = np.concatenate([rng.uniform(0, 640, (50, 2)), rng.uniform(1, 100, (50, 2))], axis=1)

    np.testing.assert_allclose(xyxy_to_cxcywh(cxcywh_to_xyxy(cxcywh)), cxcywh, rtol=1e-5)


@pytest.mark.parametrize(
    ("xyxy", "resolution_wh", "expected"),
    [
        pytest.param(np.zeros((0, 4)), (10, 10), np.zeros((0, 4)), id="empty"),
        pytest.param([[1, 2, 3, 4]], (10, 10), [[1, 2, 3, 4]], id="inside-unchanged"),
        pytest.param([[-5, -1, 15, 30]], (10, 20), [[0, 0, 10, 20]], id="outside-clipped"),
        pytest.param([[12, 25, 14, 26]], (10, 20), [[10, 20, 10, 20]], id="fully-outside"),
    ],
)
def test_clip_xyxy(xyxy: object, resolution_wh: tuple[int, int], expected: object) -> None:
    original = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    before = original.copy()

    result = clip_xyxy(original, resolution_wh)

    np.testing.assert_array_equal(result, np.asarray(expected, dtype=np.float32).reshape(-1, 4))
    np.testing.assert_array_equal(original, before)  # the input is not modified in place


@pytest.mark.parametrize(
    ("boxes_a", "boxes_b", "expected"),
    [
        pytest.param(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 0)), id="empty"),
        pytest.param(np.zeros((0, 4)), [[0, 0, 1, 1]], np.zeros((0, 1)), id="empty-a"),
        pytest.param([[0, 0, 1, 1]], np.zeros((0, 4)), np.zeros((1, 0)), id="empty-b"),
        pytest.param([[0, 0, 10, 10]], [[0, 0, 10, 10]], [[1.0]], id="identical"),
        pytest.param([[0, 0, 10, 10]], [[20, 20, 30, 30]], [[0.0]], id="disjoint"),
        pytest.param([[0, 0, 10, 10]], [[10, 0, 20, 10]], [[0.0]], id="touching-edge"),
        pytest.param([[0, 0, 4, 1]], [[1, 0, 5, 1]], [[0.6]], id="three-fifths"),
        pytest.param([[0, 0, 2, 2]], [[1, 1, 3, 3]], [[1 / 7]], id="corner-overlap"),
        pytest.param([[0, 0, 10, 10]], [[2, 2, 4, 4]], [[0.04]], id="contained"),
        pytest.param([[5, 5, 5, 5]], [[5, 5, 5, 5]], [[0.0]], id="zero-area-is-zero"),
        pytest.param(
            [[0, 0, 2, 2], [0, 0, 4, 1]],
            [[0, 0, 2, 2], [1, 0, 5, 1], [9, 9, 10, 10]],
            [[1.0, 1 / 7, 0.0], [2 / 6, 0.6, 0.0]],
            id="pairwise-shape",
        ),
    ],
)
def test_box_iou_xyxy(boxes_a: object, boxes_b: object, expected: object) -> None:
    result = box_iou_xyxy(np.asarray(boxes_a), np.asarray(boxes_b))

    assert result.dtype == np.float64
    assert result.shape == np.asarray(expected).shape
    np.testing.assert_allclose(result, np.asarray(expected))
