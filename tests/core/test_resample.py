from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from visionflow.core.resample import antialias_weights, resize_antialiased

CASES = np.load(Path(__file__).parent / "data" / "antialias_resize_cases.npz")
CASE_COUNT = sum(1 for name in CASES.files if name.startswith("in_"))


@pytest.mark.parametrize("case", range(CASE_COUNT))
def test_resize_antialiased_equals_torchvision(case: int) -> None:
    # Recorded with torchvision's resize(BILINEAR, antialias=True) by
    # scripts/build_reference_cases.py: up, down and mixed ratios, 1-pixel edges.
    plane, expected = CASES[f"in_{case}"], CASES[f"out_{case}"]

    resized = resize_antialiased(plane, expected.shape)

    assert resized.shape == expected.shape
    assert resized.dtype == np.float32
    np.testing.assert_allclose(resized, expected, atol=2e-4, rtol=0)


def test_weights_of_a_downscale_average_every_source_pixel_under_the_output() -> None:
    weights = antialias_weights(4, 2)

    # Output pixel 0 is centred on source 1.0 and reaches 2 source pixels either way; the
    # triangle weights 0.75, 0.75, 0.25 are normalised to 3/7, 3/7, 1/7.
    np.testing.assert_allclose(
        weights, [[3 / 7, 3 / 7, 1 / 7, 0], [0, 1 / 7, 3 / 7, 3 / 7]], rtol=1e-6
    )
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


def test_downscale_is_not_plain_bilinear() -> None:
    # Plain bilinear samples two source pixels per output pixel; the filter sees all four.
    plane = np.array([[0, 0, 8, 0, 0, 0, 8, 0]], dtype=np.float32)

    resized = resize_antialiased(plane, (1, 2))
    plain = cv2.resize(plane, (2, 1), interpolation=cv2.INTER_LINEAR)

    np.testing.assert_allclose(resized, [[2.0, 16 / 7]], rtol=1e-6)
    assert not np.allclose(resized, plain)


def test_upscale_is_half_pixel_bilinear_with_clamped_edges() -> None:
    plane = np.array([[0.0, 4.0]], dtype=np.float32)

    resized = resize_antialiased(plane, (1, 4))

    np.testing.assert_allclose(resized, [[0.0, 1.0, 3.0, 4.0]])


def test_same_size_is_unchanged() -> None:
    plane = np.arange(12, dtype=np.float32).reshape(3, 4)

    np.testing.assert_array_equal(resize_antialiased(plane, (3, 4)), plane)


def test_empty_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot resize"):
        antialias_weights(0, 3)
