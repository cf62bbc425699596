"""A textured scene and two overlapping crops of it (``LEFT`` = columns 0..240, ``RIGHT`` =
160..400) that the reference's ``stitch_images`` puts back together.

Blurred noise with dots all over and many more near the far left and far right: the reference
warps the image whose keypoints lie further left *within their own image* (here the left crop),
which only gives the panorama when that image is the left one."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["LEFT", "RIGHT", "SCENE"]


def _scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (200, 400, 3)).astype(np.uint8)
    scene = np.asarray(cv2.GaussianBlur(noise, (7, 7), 0))
    for count, (low, high) in ((40, (0, 400)), (80, (0, 90)), (80, (310, 400))):
        for _ in range(count):
            centre = (int(rng.integers(low, high)), int(rng.integers(0, 200)))
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            cv2.circle(scene, centre, int(rng.integers(2, 10)), colour, -1)
    return scene


SCENE = _scene()
LEFT, RIGHT = SCENE[:, :240].copy(), SCENE[:, 160:].copy()
