"""``camera-calibration``: where an output pixel samples the distorted input, from the lens
models' formulas (Brown-Conrady with OpenCV's alpha=1 camera matrix; the division model of the
fisheye option), on a horizontal ramp whose value is 2 x; no distortion changes nothing; the
image keeps its identity; zero focal lengths and missing coefficients are 400s."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.calibration import CameraCalibrationV1
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.lineage import WorkflowImage

CONTEXT = RunContext(models=ScriptedModels())
WIDTH, HEIGHT = 120, 90
RAMP = np.dstack([np.tile((np.arange(WIDTH) * 2).astype(np.uint8), (HEIGHT, 1))] * 3)
LENS = {"fx": 100.0, "fy": 110.0, "cx": 60.0, "cy": 45.0}
NO_DISTORTION = {"k1": 0.0, "k2": 0.0, "k3": 0.0, "p1": 0.0, "p2": 0.0}


def _calibrate(pixels: np.ndarray = RAMP, **values: Any) -> WorkflowImage:
    image = WorkflowImage.from_input(pixels, "image")
    fields = {"image": image, **LENS, **NO_DISTORTION, "use_fisheye_model": False, **values}
    result = CameraCalibrationV1().run(StepInputs("calib", "t", fields), CONTEXT)
    assert isinstance(result, dict)
    calibrated = result["calibrated_image"]
    assert isinstance(calibrated, WorkflowImage)
    return calibrated


def _brown_source_x(u: float, v: float, k1: float, k2: float, p1: float, p2: float) -> float:
    """The input column output pixel (u, v) samples: back through the alpha=1 camera matrix,
    distorted by the Brown-Conrady model, forward through the lens's camera matrix."""
    camera = np.array([[100, 0, 60], [0, 110, 45], [0, 0, 1]], dtype=np.float32)
    coefficients = np.array([k1, k2, p1, p2, 0], dtype=np.float32)
    new, _ = cv2.getOptimalNewCameraMatrix(camera, coefficients, (WIDTH, HEIGHT), 1)
    x, y = (u - new[0, 2]) / new[0, 0], (v - new[1, 2]) / new[1, 1]
    r2 = x * x + y * y
    x_distorted = x * (1 + k1 * r2 + k2 * r2 * r2) + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    return float(100 * x_distorted + 60)


def test_no_distortion_changes_nothing() -> None:
    calibrated = _calibrate()
    assert np.array_equal(calibrated.pixels_bgr, RAMP)
    assert calibrated.lineage.image_id == "image"


@pytest.mark.parametrize(
    "coefficients",
    [
        pytest.param({"k1": -0.3, "k2": 0.05}, id="barrel"),
        pytest.param({"k1": 0.2, "p1": 0.001, "p2": -0.002}, id="pincushion-tangential"),
    ],
)
def test_brown_conrady_pixels_come_from_the_distorted_position(
    coefficients: dict[str, float],
) -> None:
    pixels = _calibrate(**coefficients).pixels_bgr
    settings = {**NO_DISTORTION, **coefficients}
    for u in (30, 60, 100):
        source_x = _brown_source_x(
            u, 45, settings["k1"], settings["k2"], settings["p1"], settings["p2"]
        )
        assert 0 < source_x < WIDTH - 1
        assert abs(int(pixels[45, u, 0]) - 2 * source_x) <= 1.5


def test_fisheye_uses_the_division_model() -> None:
    pixels = _calibrate(k1=0.1, use_fisheye_model=True).pixels_bgr
    # Column 90 (x = 0.3 in focal units): scale (1 - sqrt(1 - 0.4 r2)) / (0.2 r2), r2 = 0.09.
    r2 = 0.09
    source_x = 0.3 * (1 - np.sqrt(1 - 4 * 0.1 * r2)) / (2 * 0.1 * r2) * 100 + 60
    assert source_x == pytest.approx(90.274, abs=1e-3)
    assert abs(int(pixels[45, 90, 0]) - 2 * source_x) <= 1
    assert pixels[45, 60, 0] == 120  # the principal point stays
    # A k1 of (almost) 0 is no distortion in this model.
    assert np.array_equal(_calibrate(use_fisheye_model=True).pixels_bgr, RAMP)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        pytest.param({"fx": 0.0}, "fx", id="zero-focal-length"),
        pytest.param({"k3": None}, "k3", id="missing-coefficient"),
    ],
)
def test_bad_coefficients_are_400s(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=field):
        _calibrate(**values)


def test_calibration_in_a_workflow_takes_images_too() -> None:
    [result] = run(
        [
            step(
                "camera-calibration@v1",
                "calib",
                images="$inputs.image",  # the reference also accepts "images"
                **LENS,
                **{**NO_DISTORTION, "k1": -0.3},
            )
        ],
        {"calibrated": "$steps.calib.calibrated_image"},
        {"image": canvas(WIDTH, HEIGHT, 200)},
    )
    calibrated = result["calibrated"]
    assert calibrated.pixels_bgr.shape == (HEIGHT, WIDTH, 3)
    assert calibrated.pixels_bgr[45, 60].tolist() == [200, 200, 200]
    # Undistorted, the frame's edges bow inwards: alpha=1 keeps every input pixel, so the
    # middles of the output's sides are outside it (black) while its corners are not.
    assert calibrated.pixels_bgr[45, 0].tolist() == [0, 0, 0]
    assert calibrated.pixels_bgr[0, 60].tolist() == [0, 0, 0]
    assert calibrated.pixels_bgr[0, 0].tolist() == [200, 200, 200]
