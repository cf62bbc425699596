"""Instance masks: prototype decoding, mapping to the image, polygons and COCO RLE.

Worked example used throughout: a 640x480 image letterboxed into 320x320 (scale 0.5, padding
(0, 40)) with an 80x80 prototype grid (0.25 cells per input pixel). The unpadded region is grid
rows 10..69 (60 rows) and every column (80); ``accurate`` scales it by 8 to 640x480.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pycocotools import mask as coco_mask

from visionflow.core.letterbox import ResizeMeta
from visionflow.core.masks import (
    MaskDecodeMode,
    cut_padding,
    decode_prototype_masks,
    mask_resolution_factor,
    mask_to_polygon,
    mask_to_rle,
    masks_to_image,
    rle_to_mask,
)

LETTERBOX_640X480 = ResizeMeta((640, 480), (320, 320), (0.5, 0.5), (0, 40))
STRETCH_640X480 = ResizeMeta((640, 480), (320, 320), (0.5, 2 / 3), (0, 0))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _filled(shape: tuple[int, int], region: tuple[int, int, int, int], value: float) -> np.ndarray:
    """``shape`` zeros with ``value`` in ``[y1:y2, x1:x2]`` for ``region`` = (x1, y1, x2, y2)."""
    out = np.zeros(shape, dtype=np.float32)
    x1, y1, x2, y2 = region
    out[y1:y2, x1:x2] = value
    return out


@pytest.mark.parametrize(
    ("coefficients", "protos", "boxes", "input_wh", "expected"),
    [
        pytest.param(
            np.zeros((0, 2)),
            np.ones((2, 8, 8)),
            np.zeros((0, 4)),
            (32, 32),
            np.zeros((0, 8, 8)),
            id="empty",
        ),
        pytest.param(
            [[1.0]],
            np.full((1, 8, 8), 10.0),
            [[0, 0, 32, 32]],
            (32, 32),
            np.full((1, 8, 8), _sigmoid(10.0)),
            id="box-covers-everything",
        ),
        pytest.param(
            [[1.0]],
            np.full((1, 8, 8), 10.0),
            # Input pixels x 8..24, y 4..16 → grid cells x 2..5, y 1..3 (4 input px per cell).
            [[8, 4, 24, 16]],
            (32, 32),
            _filled((8, 8), (2, 1, 6, 4), _sigmoid(10.0))[None],
            id="zero-outside-the-box",
        ),
        pytest.param(
            [[1.0]],
            np.full((1, 8, 8), 10.0),
            # A 64x32 input on an 8x8 grid: 8 px per cell across, 4 down.
            [[16, 8, 40, 20]],
            (64, 32),
            _filled((8, 8), (2, 2, 5, 5), _sigmoid(10.0))[None],
            id="non-square-input",
        ),
        pytest.param(
            # logit = 0.5 * 2 - 0.25 * 4 = 0 → 0.5 inside the box.
            [[0.5, -0.25]],
            np.stack([np.full((4, 4), 2.0), np.full((4, 4), 4.0)]),
            [[0, 0, 8, 8]],
            (16, 16),
            _filled((4, 4), (0, 0, 2, 2), 0.5)[None],
            id="linear-combination-then-sigmoid",
        ),
        pytest.param(
            [[1.0], [-1.0]],
            np.full((1, 4, 4), 10.0),
            [[0, 0, 8, 8], [8, 8, 16, 16]],
            (16, 16),
            np.stack(
                [
                    _filled((4, 4), (0, 0, 2, 2), _sigmoid(10.0)),
                    _filled((4, 4), (2, 2, 4, 4), _sigmoid(-10.0)),
                ]
            ),
            id="two-boxes-each-its-own-region",
        ),
    ],
)
def test_decode_prototype_masks(
    coefficients: object,
    protos: np.ndarray,
    boxes: object,
    input_wh: tuple[int, int],
    expected: np.ndarray,
) -> None:
    masks = decode_prototype_masks(
        np.asarray(coefficients, dtype=np.float32),
        np.asarray(protos, dtype=np.float32),
        np.asarray(boxes, dtype=np.float32),
        input_wh,
    )

    assert masks.dtype == np.float32
    assert masks.shape == expected.shape
    np.testing.assert_allclose(masks, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("meta", "mode", "factor", "expected_hw", "expected_scale"),
    [
        pytest.param(LETTERBOX_640X480, "accurate", 0.0, (480, 640), (1.0, 1.0), id="accurate"),
        pytest.param(LETTERBOX_640X480, "fast", 0.0, (60, 80), (8.0, 8.0), id="fast-region"),
        pytest.param(LETTERBOX_640X480, "tradeoff", 0.0, (60, 80), (8.0, 8.0), id="tradeoff-0"),
        pytest.param(LETTERBOX_640X480, "tradeoff", 1.0, (480, 640), (1.0, 1.0), id="tradeoff-1"),
        pytest.param(
            # 80 + 0.5 * (640 - 80) = 360 wide, 60 + 0.5 * (480 - 60) = 270 high.
            LETTERBOX_640X480,
            "tradeoff",
            0.5,
            (270, 360),
            (16 / 9, 16 / 9),
            id="tradeoff-half",
        ),
        pytest.param(
            LETTERBOX_640X480, "tradeoff", 3.0, (480, 640), (1.0, 1.0), id="tradeoff-clipped"
        ),
        pytest.param(STRETCH_640X480, "fast", 0.0, (80, 80), (8.0, 6.0), id="stretch-fast"),
        pytest.param(
            ResizeMeta((100, 50), (320, 320), (3.2, 3.2), (0, 80)),
            "fast",
            0.0,
            # Content rows 80..240 of the input → grid rows 20..60.
            (40, 80),
            (1.25, 1.25),
            id="wide-image-fast",
        ),
    ],
)
def test_masks_to_image_sizes(
    meta: ResizeMeta,
    mode: MaskDecodeMode,
    factor: float,
    expected_hw: tuple[int, int],
    expected_scale: tuple[float, float],
) -> None:
    proto = np.ones((2, 80, 80), dtype=np.float32)

    masks, scale = masks_to_image(proto, meta, mask_resolution_factor(mode, factor))

    assert masks.dtype == np.bool_
    assert masks.shape == (2, *expected_hw)
    assert scale == pytest.approx(expected_scale)
    assert masks.all()


@pytest.mark.parametrize("mode", ["accurate", "fast", "tradeoff"])
def test_masks_to_image_empty(mode: MaskDecodeMode) -> None:
    masks, _scale = masks_to_image(
        np.zeros((0, 80, 80), dtype=np.float32),
        LETTERBOX_640X480,
        mask_resolution_factor(mode, 0.5),
    )

    assert masks.shape[0] == 0


@pytest.mark.parametrize("mode", ["accurate", "fast", "tradeoff"])
@pytest.mark.parametrize(
    ("region", "expected_any"),
    [
        pytest.param((0, 0, 80, 10), False, id="top-padding"),
        pytest.param((0, 70, 80, 80), False, id="bottom-padding"),
        pytest.param((0, 10, 80, 70), True, id="content"),
    ],
)
def test_masks_to_image_cuts_off_letterbox_padding(
    mode: MaskDecodeMode, region: tuple[int, int, int, int], expected_any: bool
) -> None:
    proto = _filled((80, 80), region, 1.0)[None]

    masks, _scale = masks_to_image(proto, LETTERBOX_640X480, mask_resolution_factor(mode, 0.5))

    assert masks.any() == expected_any
    if expected_any:
        assert masks.all()  # the content region fills the whole image


def _bilinear_profile(inside: tuple[int, int], src_len: int, dst_len: int) -> np.ndarray:
    """OpenCV's bilinear resize of a 1-D 0/1 indicator (half-pixel centres, edge replicate)."""
    indicator = np.zeros(src_len)
    indicator[inside[0] : inside[1]] = 1.0
    src = (np.arange(dst_len) + 0.5) * (src_len / dst_len) - 0.5
    return np.interp(src, np.arange(src_len), indicator)


def test_accurate_mask_is_the_bilinear_upsample_thresholded() -> None:
    # Network box (128, 128, 192, 192) → grid cells 32..47 both ways → cut rows 22..37.
    proto = _filled((80, 80), (32, 32, 48, 48), 1.0)[None]

    masks, _scale = masks_to_image(proto, LETTERBOX_640X480)

    columns = _bilinear_profile((32, 48), 80, 640)
    rows = _bilinear_profile((22, 38), 60, 480)
    expected = np.outer(rows, columns) > 0.5
    np.testing.assert_array_equal(masks[0], expected)
    ys, xs = np.nonzero(masks[0])
    # The box in the original image is x 256..384, y 176..304 (end-exclusive).
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (256, 383, 176, 303)


def test_masks_smaller_than_the_grid_are_antialiased() -> None:
    # A 40x30 image: scale 8, content 320x240 at padding (0, 40) → grid region 80x60 → 40x30, so
    # every image pixel weighs 4 cells per axis (1/8, 3/8, 3/8, 1/8) and the box's cells 32..47 x
    # cut rows 22..37 become pixels 16..23 x 11..18 exactly (edge pixels 7/8 in, 1/8 out).
    meta = ResizeMeta((40, 30), (320, 320), (8.0, 8.0), (0, 40))
    proto = _filled((80, 80), (32, 32, 48, 48), 1.0)[None]

    masks, scale = masks_to_image(proto, meta)

    assert scale == (1.0, 1.0)
    np.testing.assert_array_equal(masks[0], _filled((30, 40), (16, 11, 24, 19), 1).astype(bool))


def test_a_thin_mask_downscaled_is_filtered_not_sampled() -> None:
    # A 2-cell-wide stripe downscaled 4x: plain bilinear samples between cells and may miss or
    # keep it whole; the antialiased filter spreads it to 0.5 at most, which is not > 0.5.
    meta = ResizeMeta((20, 20), (320, 320), (16.0, 16.0), (0, 0), (320, 320))
    proto = _filled((80, 80), (40, 0, 42, 80), 1.0)[None]

    masks, _scale = masks_to_image(proto, meta)

    assert masks.shape == (1, 20, 20)
    assert not masks.any()


@pytest.mark.parametrize(
    ("meta", "expected_hw", "first_row"),
    [
        pytest.param(LETTERBOX_640X480, (60, 80), 10, id="letterbox-rows-cut"),
        pytest.param(STRETCH_640X480, (80, 80), 0, id="stretch-nothing-cut"),
        pytest.param(
            # Content 100x33 of a 100x100 input at top 33, bottom 34: on a 25-cell grid
            # round(8.25) = 8 cells off the top and round(8.5) = 8 (half to even) off the bottom.
            ResizeMeta((300, 100), (100, 100), (1 / 3, 1 / 3), (0, 33), (100, 33)),
            (9, 25),
            8,
            id="half-to-even",
        ),
        pytest.param(
            # A centre crop's negative padding is filled (zeros) back onto the grid.
            ResizeMeta((80, 40), (40, 40), (1.0, 1.0), (-20, 0), (80, 40)),
            (40, 80),
            0,
            id="centre-crop-padded",
        ),
    ],
)
def test_cut_padding(meta: ResizeMeta, expected_hw: tuple[int, int], first_row: int) -> None:
    grid_h = 80 if meta.input_wh[0] == 320 else (25 if meta.input_wh[0] == 100 else 40)
    rows = np.arange(grid_h, dtype=np.float32)[None, :, None] * np.ones((1, 1, grid_h), np.float32)

    cut = cut_padding(rows, meta)

    assert cut.shape == (1, *expected_hw)
    if meta.pad_xy[0] >= 0:
        assert cut[0, 0, 0] == first_row
    else:
        assert cut[0, 0, 0] == 0
        assert cut[0, 0, 20] == 0
        assert cut[0, 1, 20] == 1


def _disk(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.circle(mask, centre, radius, 1, thickness=-1)
    return mask.astype(bool)


def _two_blobs() -> np.ndarray:
    mask = _disk((100, 100), (80, 80), 6)
    mask[5:65, 5:65] = True  # a big square: 4 points with CHAIN_APPROX_SIMPLE
    return mask


@pytest.mark.parametrize(
    ("mask", "expected_bbox", "expected_points"),
    [
        pytest.param(np.zeros((10, 10), dtype=bool), None, 0, id="empty"),
        pytest.param(
            _filled((10, 10), (2, 3, 3, 4), 1).astype(bool), (2, 3, 2, 3), 1, id="one-pixel"
        ),
        pytest.param(
            _filled((20, 30), (4, 2, 24, 8), 1).astype(bool), (4, 2, 23, 7), 4, id="wide-rect"
        ),
        pytest.param(
            _filled((30, 20), (2, 4, 8, 24), 1).astype(bool), (2, 4, 7, 23), 4, id="tall-rect"
        ),
        pytest.param(
            # Holes are not part of an external contour.
            _filled((20, 20), (2, 2, 18, 18), 1).astype(bool)
            & ~_filled((20, 20), (6, 6, 14, 14), 1).astype(bool),
            (2, 2, 17, 17),
            4,
            id="hole-ignored",
        ),
    ],
)
def test_mask_to_polygon(
    mask: npt.NDArray[np.bool_],
    expected_bbox: tuple[int, int, int, int] | None,
    expected_points: int,
) -> None:
    polygon = mask_to_polygon(mask)

    assert polygon.dtype == np.float32
    assert polygon.shape == (expected_points, 2)
    if expected_bbox is not None:
        x1, y1 = polygon.min(axis=0)
        x2, y2 = polygon.max(axis=0)
        assert (x1, y1, x2, y2) == expected_bbox


def test_mask_to_polygon_picks_the_contour_with_most_points_not_the_largest() -> None:
    polygon = mask_to_polygon(_two_blobs())

    # The disk (centre (80, 80), radius 6) has more contour points than the 60x60 square.
    assert len(polygon) > 4
    assert polygon.min(axis=0).tolist() == [74.0, 74.0]
    assert polygon.max(axis=0).tolist() == [86.0, 86.0]


def _decode_rle(rle: dict[str, Any]) -> np.ndarray:
    with warnings.catch_warnings():
        # pycocotools' Cython decode trips NumPy 2's ``__array__(copy=...)`` deprecation.
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        encoded = {"size": rle["size"], "counts": rle["counts"].encode()}
        return np.asarray(coco_mask.decode(encoded), dtype=bool)


def _random_mask() -> np.ndarray:
    return np.random.default_rng(7).random((37, 53)) > 0.6


@pytest.mark.parametrize(
    "mask",
    [
        pytest.param(np.zeros((4, 6), dtype=bool), id="empty"),
        pytest.param(np.ones((4, 6), dtype=bool), id="full"),
        pytest.param(_filled((48, 64), (10, 5, 30, 40), 1).astype(bool), id="rectangle"),
        pytest.param(_filled((3, 5), (1, 0, 2, 3), 1).astype(bool), id="non-square-column"),
        pytest.param(_random_mask(), id="random"),
        pytest.param(_two_blobs(), id="two-blobs"),
    ],
)
def test_mask_to_rle_round_trips_through_pycocotools(mask: npt.NDArray[np.bool_]) -> None:
    rle = mask_to_rle(mask)

    assert set(rle) == {"size", "counts"}
    assert rle["size"] == [mask.shape[0], mask.shape[1]]
    assert all(type(v) is int for v in rle["size"])
    assert isinstance(rle["counts"], str)
    np.testing.assert_array_equal(_decode_rle(rle), mask)


@pytest.mark.parametrize(
    ("mask", "counts"),
    [
        # Column-major runs alternate background/foreground starting with background.
        pytest.param([[0, 1], [0, 1]], "22", id="right-column"),
        pytest.param([[1, 1], [1, 1]], "04", id="full-starts-with-empty-run"),
        pytest.param([[0, 0], [0, 0]], "4", id="empty"),
    ],
)
def test_mask_to_rle_known_counts(mask: list[list[int]], counts: str) -> None:
    assert mask_to_rle(np.asarray(mask, dtype=bool)) == {"size": [2, 2], "counts": counts}


@pytest.mark.parametrize("seed", range(5))
def test_rle_to_mask_inverts_mask_to_rle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((37, 53)) > 0.6
    mask[:5] = True  # long runs too
    rle = mask_to_rle(mask)

    np.testing.assert_array_equal(rle_to_mask(rle), mask)
    # Uncompressed counts (a list) as well.
    runs = [len(list(group)) for _, group in itertools.groupby(mask.T.ravel())]
    counts = runs if not mask.T.ravel()[0] else [0, *runs]
    np.testing.assert_array_equal(rle_to_mask({"size": [37, 53], "counts": counts}), mask)


def test_rle_to_mask_refuses_runs_that_do_not_cover_the_size() -> None:
    with pytest.raises(ValueError, match="do not cover 2 x 2"):
        rle_to_mask({"size": [2, 2], "counts": [1, 2]})
