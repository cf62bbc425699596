"""``sift`` and ``sift_comparison`` v1 / v2 on a textured scene, the same scene rotated, and a
flat image (no keypoints: the empty case)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import canvas, run, step


def _scene() -> np.ndarray:
    rng = np.random.default_rng(3)
    image = canvas(320, 240, 30)
    for _ in range(40):
        x, y = (int(v) for v in rng.integers(0, 300, 2))
        color = tuple(int(c) for c in rng.integers(60, 255, 3))
        cv2.rectangle(image, (x, y % 220), (x + int(rng.integers(8, 40)), y % 220 + 15), color, -1)
        cv2.circle(image, (int(rng.integers(0, 320)), int(rng.integers(0, 240))), 6, color, 2)
    return image


SCENE = _scene()
ROTATED = cv2.warpAffine(SCENE, cv2.getRotationMatrix2D((160, 120), 12, 1.0), (320, 240))
IMAGES = {"scene": SCENE, "rotated": ROTATED, "flat": canvas(320, 240, 90)}
TWO = [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowImage", "name": "other"}]


def test_sift_finds_keypoints_and_descriptors() -> None:
    outputs = {"kp": "$steps.s.keypoints", "des": "$steps.s.descriptors", "img": "$steps.s.image"}
    [found] = run(
        [step("sift@v1", "s", image="$inputs.image")],
        outputs,
        IMAGES,
        {"image": "scene"},
        serialize=False,
    )
    assert len(found["kp"]) > 50
    assert found["des"].shape == (len(found["kp"]), 128)
    assert set(found["kp"][0]) == {"pt", "size", "angle", "response", "octave", "class_id"}
    assert found["img"].pixels_bgr.shape == SCENE.shape
    [flat] = run(
        [step("sift@v1", "s", image="$inputs.image")],
        outputs,
        IMAGES,
        {"image": "flat"},
        serialize=False,
    )
    assert flat["kp"] == []
    assert flat["des"] is None


def _compare_v1(first: str, second: str) -> dict[str, Any]:
    steps = [
        step("sift@v1", "a", image="$inputs.image"),
        step("sift@v1", "b", image="$inputs.other"),
        step(
            "sift_comparison@v1",
            "cmp",
            descriptor_1="$steps.a.descriptors",
            descriptor_2="$steps.b.descriptors",
            good_matches_threshold=20,
        ),
    ]
    outputs = {"count": "$steps.cmp.good_matches_count", "match": "$steps.cmp.images_match"}
    return run(steps, outputs, IMAGES, {"image": first, "other": second}, declared=TWO)[0]


def test_sift_comparison_v1_matches_the_rotated_scene_not_a_flat_image() -> None:
    same = _compare_v1("scene", "rotated")
    assert same["match"] is True
    assert same["count"] >= 20
    # A flat image has no descriptors (null): the comparison is skipped, as in the reference.
    assert _compare_v1("scene", "flat") == {"count": None, "match": None}


@pytest.mark.parametrize("matcher", ["FlannBasedMatcher", "BFMatcher"])
def test_sift_comparison_v2_on_images_with_visualizations(matcher: str) -> None:
    steps = [
        step(
            "sift_comparison@v2",
            "cmp",
            input_1="$inputs.image",
            input_2="$inputs.other",
            matcher=matcher,
            visualize=True,
            good_matches_threshold=20,
        )
    ]
    outputs = {"r": "$steps.cmp.*"}
    [result] = run(
        steps,
        outputs,
        IMAGES,
        {"image": "scene", "other": "rotated"},
        declared=TWO,
        serialize=False,
    )
    r = result["r"]
    assert r["images_match"] is True
    assert r["descriptors_1"].shape[1] == 128
    assert r["visualization_matches"].pixels_bgr.shape == (240, 640, 3)
    assert r["visualization_1"].pixels_bgr.shape == SCENE.shape
    [flat] = run(
        steps, outputs, IMAGES, {"image": "scene", "other": "flat"}, declared=TWO, serialize=False
    )
    assert flat["r"]["good_matches_count"] == 0
    assert flat["r"]["visualization_matches"] is None
