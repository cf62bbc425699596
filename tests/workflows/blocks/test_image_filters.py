"""``morphological_transformation@v1..v2`` and ``contrast_equalization`` on hand-made images: what
each operation does to a white square with a notch and a speck, and how each equalization
spreads a narrow range of levels."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import canvas, run, step
from visionflow.workflows import WorkflowImage
from visionflow.workflows.blocks.classical_cv import MAX_KERNEL_PX
from visionflow.workflows.blocks.image_filters import equalize_contrast, morphology
from visionflow.workflows.errors import InvalidInputTypeError


def _shapes() -> np.ndarray:
    """Black 100 x 100: a white 40 x 40 square (20..59) with a 2 px notch cut into its middle,
    and a 1 px white speck at (85, 85)."""
    gray = np.zeros((100, 100), np.uint8)
    gray[20:60, 20:60] = 255
    gray[39:41, 30:50] = 0
    gray[85, 85] = 255
    return gray


@pytest.mark.parametrize(
    ("operation", "notch", "speck", "square_edge", "outside_edge"),
    [
        pytest.param("Erosion", 0, 0, 0, 0, id="erosion"),
        pytest.param("Dilation", 255, 255, 255, 255, id="dilation"),
        pytest.param("Opening", 0, 0, 255, 0, id="opening"),
        pytest.param("Closing", 255, 255, 255, 0, id="closing"),
        pytest.param("Opening then Closing", 255, 0, 255, 0, id="open-close"),
        pytest.param("Gradient", 255, 255, 255, 255, id="gradient"),
        pytest.param("Top Hat", 0, 255, 0, 0, id="top-hat"),
        pytest.param("Black Hat", 255, 0, 0, 0, id="black-hat"),
    ],
)
def test_morphology_operations(
    operation: str, notch: int, speck: int, square_edge: int, outside_edge: int
) -> None:
    result = morphology(_shapes(), operation, 5)
    assert result[40, 40] == notch
    assert result[85, 85] == speck
    assert result[20, 40] == square_edge  # the square's top edge
    assert result[18, 40] == outside_edge  # two pixels above it


def _filtered(
    block: str, image: np.ndarray, parameters: dict[str, Any] | None = None, **fields: Any
) -> np.ndarray:
    parameters = parameters or {}
    [result] = run(
        [step(block, "f", image="$inputs.image", **fields)],
        {"image": "$steps.f.image"},
        {"image": image},
        {"image": "image", **parameters},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            *({"type": "WorkflowParameter", "name": name} for name in parameters),
        ],
    )
    filtered = result["image"]
    assert isinstance(filtered, WorkflowImage)
    assert filtered.lineage.image_id == "image"
    assert filtered.pixels_bgr.shape == image.shape
    return filtered.pixels_bgr


def test_morphology_v1_is_gray_and_closes_by_default() -> None:
    image = cv2.cvtColor(_shapes(), cv2.COLOR_GRAY2BGR)
    image[20:60, 20:60] = (255, 0, 0)  # a blue square: gray level 29
    image[39:41, 30:50] = 0
    pixels = _filtered("morphological_transformation@v1", image)
    assert pixels[40, 40].tolist() == [29, 29, 29]  # notch closed, in gray


def test_morphology_v2_keeps_colours_and_opens_then_closes_by_default() -> None:
    image = cv2.cvtColor(_shapes(), cv2.COLOR_GRAY2BGR)
    image[20:60, 20:60] = (255, 0, 0)
    image[39:41, 30:50] = 0
    pixels = _filtered("morphological_transformation@v2", image)
    assert pixels[40, 40].tolist() == [255, 0, 0]  # notch closed, still blue
    assert pixels[85, 85].tolist() == [0, 0, 0]  # speck opened away


def test_morphology_bad_fields_are_400s() -> None:
    with pytest.raises(InvalidInputTypeError, match="field 'operation'"):
        _filtered(
            "morphological_transformation@v1",
            canvas(),
            {"op": "Opening then Closing"},  # a v2 operation
            operation="$inputs.op",
        )
    with pytest.raises(InvalidInputTypeError, match="field 'kernel_size'"):
        _filtered("morphological_transformation@v2", canvas(), kernel_size=0)


def _ramp() -> np.ndarray:
    """A horizontal ramp of levels 100..139 (3 equal channels), 40 x 40."""
    levels = np.repeat(np.arange(100, 140, dtype=np.uint8)[None, :], 40, axis=0)
    return np.repeat(levels[..., None], 3, axis=2)


def test_contrast_stretching_spreads_the_2nd_to_98th_percentile() -> None:
    stretched = equalize_contrast(_ramp(), "Contrast Stretching")
    assert (stretched.min(), stretched.max()) == (0, 255)
    assert stretched[0, 0, 0] == 0  # level 100 is under the 2nd percentile (100.78)
    # Level 120: (120 - 100.78) / (138.22 - 100.78) of 255.
    assert stretched[0, 20, 0] == 130


def test_histogram_equalization_maps_levels_to_their_cumulative_share() -> None:
    equalized = equalize_contrast(_ramp(), "Histogram Equalization")
    row = equalized[0, :, 0].astype(int)
    # 40 equally frequent levels: level i becomes about (i + 1) / 40 of the range.
    assert row.tolist() == pytest.approx([(i + 1) * 255 / 40 for i in range(40)], abs=4)


def test_adaptive_equalization_raises_local_contrast_and_keeps_hue() -> None:
    rng = np.random.default_rng(0)
    value = rng.integers(100, 120, size=(64, 64)).astype(np.uint8)
    image = np.stack([value // 2, value // 2, value], axis=2)  # reddish, low contrast
    result = equalize_contrast(image, "Adaptive Equalization")
    assert result[..., 2].std() > value.std() * 1.5
    # Hue and saturation stay: blue and green stay half of red (up to rounding; the darkest
    # pixels become black, as the value is spread over the full range).
    lit = result[..., 2] >= 20
    assert lit.mean() > 0.8
    ratio = result[..., 0][lit].astype(float) / result[..., 2][lit]
    assert np.abs(ratio - 0.5).max() < 0.05


@pytest.mark.parametrize(
    "how", ["Contrast Stretching", "Histogram Equalization", "Adaptive Equalization"]
)
def test_equalizations_of_a_flat_image(how: str) -> None:
    flat = np.full((16, 16, 3), 77, np.uint8)
    result = equalize_contrast(flat, how)
    assert result.shape == flat.shape
    assert len(np.unique(result)) == 1


def test_contrast_equalization_block_defaults_to_histogram_equalization() -> None:
    pixels = _filtered("contrast_equalization@v1", _ramp())
    assert pixels.tolist() == equalize_contrast(_ramp(), "Histogram Equalization").tolist()


def test_unknown_equalization_is_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="field 'equalization_type'"):
        _filtered(
            "contrast_equalization@v1", canvas(), {"how": "Gamma"}, equalization_type="$inputs.how"
        )


def test_a_morphology_kernel_past_the_range_is_a_400() -> None:
    expected = rf"'kernel_size': .*within \[1, {MAX_KERNEL_PX}\]"
    with pytest.raises(InvalidInputTypeError, match=expected):
        run(
            [
                step(
                    "morphological_transformation@v2", "m", image="$inputs.image", kernel_size=10**4
                )
            ],
            {"image": "$steps.m.image"},
            {"image": canvas(value=90)},
        )
