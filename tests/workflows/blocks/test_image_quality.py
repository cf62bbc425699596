"""``camera_focus`` v1 / v2, ``contrast_enhancement`` and ``auto_rotate_on_edges``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step


def _stripes() -> np.ndarray:
    image = canvas(200, 200, 0)
    for x in range(0, 200, 20):
        image[:, x : x + 10] = 255
    return image


SHARP = _stripes()
IMAGES = {
    "sharp": SHARP,
    "blurred": cv2.GaussianBlur(SHARP, (15, 15), 5),
    "flat": canvas(200, 200, 100),
    "dull": (np.full((50, 60, 3), 100) + np.arange(60)[None, :, None]).astype(np.uint8),
}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_focus_is_higher_for_the_sharp_image(version: str) -> None:
    steps = [step(f"camera_focus@{version}", "focus", image="$inputs.image")]
    values = [
        run(steps, {"f": "$steps.focus.focus_measure"}, IMAGES, {"image": name})[0]["f"]
        for name in ("sharp", "blurred", "flat")
    ]
    assert values[0] > values[1] > 0
    assert values[2] == 0


def test_focus_v2_per_box_and_without_overlays() -> None:
    models = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 50, 50], [300, 300, 400, 400]])})
    steps = [
        model_step("det", "m/1"),
        step(
            "camera_focus@v2",
            "focus",
            image="$inputs.image",
            detections="$steps.det.predictions",
            show_zebra_warnings=False,
            show_hud=False,
            show_focus_peaking=False,
            show_center_marker=False,
            grid_overlay="None",
        ),
    ]
    [result] = run(
        steps,
        {"boxes": "$steps.focus.bbox_focus_measures", "img": "$steps.focus.image"},
        IMAGES,
        {"image": "sharp"},
        models=models,
        serialize=False,
    )
    assert result["boxes"][0] > 0
    assert result["boxes"][1] is None  # outside the image
    assert np.array_equal(result["img"].pixels_bgr, SHARP)
    [drawn] = run(
        [step("camera_focus@v2", "focus", image="$inputs.image")],
        {"img": "$steps.focus.image"},
        IMAGES,
        {"image": "sharp"},
        serialize=False,
    )
    assert not np.array_equal(drawn["img"].pixels_bgr, SHARP)


def test_contrast_enhancement_stretches_each_channel() -> None:
    steps = [step("contrast_enhancement@v1", "c", image="$inputs.image")]
    [out] = run(steps, {"img": "$steps.c.image"}, IMAGES, {"image": "dull"}, serialize=False)
    pixels = out["img"].pixels_bgr
    assert (int(pixels.min()), int(pixels.max())) == (0, 255)
    [flat] = run(steps, {"img": "$steps.c.image"}, IMAGES, {"image": "flat"}, serialize=False)
    assert np.array_equal(flat["img"].pixels_bgr, IMAGES["flat"])  # a flat channel is kept


def test_auto_rotate_straightens_tilted_lines_and_leaves_flat_images() -> None:
    tilted = cv2.warpAffine(SHARP, cv2.getRotationMatrix2D((100, 100), 8, 1.0), (200, 200))
    images = {**IMAGES, "tilted": tilted}
    steps = [step("auto_rotate_on_edges@v1", "rot", image="$inputs.image")]
    outputs = {"angle": "$steps.rot.angle", "img": "$steps.rot.image"}
    [result] = run(steps, outputs, images, {"image": "tilted"}, serialize=False)
    assert result["angle"] == pytest.approx(-8, abs=1.0)
    assert result["img"].pixels_bgr.shape[0] > 200  # expanded canvas
    [flat] = run(steps, outputs, images, {"image": "flat"}, serialize=False)
    assert flat["angle"] == 0.0
