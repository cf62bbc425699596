"""``stitch_images``: two overlapping images joined into one panorama, as the reference does:
SIFT keypoints of both, brute-force k-nearest matches kept by Lowe's ratio test (0.75), a
RANSAC homography, and the image whose keypoints lie further left on average warped onto a
canvas where the other is pasted unchanged. Where that fails (too few matches, no homography,
an empty canvas) the output is ``None``, as in the reference."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    StepManifest,
)

__all__ = ["STITCHING_BLOCKS", "StitchFailedError", "StitchImagesV1", "stitch_images"]

Pixels = npt.NDArray[np.uint8]


class StitchFailedError(ValueError):
    """The two images could not be stitched (no usable matches or homography)."""


class StitchImagesManifest(StepManifest):
    image1: ImageSelector
    image2: ImageSelector
    max_allowed_reprojection_error: float | FloatZeroToOneSelector | None = 3
    count_of_best_matches_per_query_descriptor: int | IntegerSelector | None = 2


def _points(keypoints: Any, matches: list[Any], attribute: str) -> npt.NDArray[np.float32]:
    points = [keypoints[getattr(m, attribute)].pt for m in matches]
    return np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)


def stitch_images(
    image1: Pixels, image2: Pixels, neighbours: int, reprojection_error: float, max_pixels: int
) -> Pixels:
    """The panorama of ``image1`` and ``image2`` (``(H, W, 3) uint8``); ``StitchFailedError``
    when they cannot be stitched, ``OverflowError`` when it would exceed ``max_pixels``."""
    sift = cv2.SIFT.create()
    keypoints_1, descriptors_1 = sift.detectAndCompute(image1, None)
    keypoints_2, descriptors_2 = sift.detectAndCompute(image2, None)
    if descriptors_1 is None or descriptors_2 is None or not keypoints_1 or not keypoints_2:
        raise StitchFailedError("an image has no SIFT keypoints")
    matches = cv2.BFMatcher.create().knnMatch(descriptors_1, descriptors_2, k=neighbours)
    if any(len(m) < 2 for m in matches):
        raise StitchFailedError("the ratio test needs 2 neighbours per keypoint")
    good = [m[0] for m in matches if m[0].distance < 0.75 * m[1].distance]
    points_1 = _points(keypoints_1, good, "queryIdx")
    points_2 = _points(keypoints_2, good, "trainIdx")
    # The names follow the reference: "second" is warped, "first" pasted over it.
    left_1 = np.mean([p.pt[0] for p in keypoints_1]) < np.mean([p.pt[0] for p in keypoints_2])
    if left_1:
        source, target, first, second = points_1, points_2, image2, image1
    else:
        source, target, first, second = points_2, points_1, image1, image2
    if len(source) < 4:
        raise StitchFailedError(f"{len(source)} good matches, a homography needs 4")
    matrix, _inliers = cv2.findHomography(source, target, cv2.RANSAC, reprojection_error)
    if matrix is None:
        raise StitchFailedError("no homography fits the matches")
    h1, w1 = first.shape[:2]
    h2, w2 = second.shape[:2]
    corners = np.asarray([[0, 0], [0, h2], [w2, h2], [w2, 0]], np.float32).reshape(-1, 1, 2)
    warped = np.asarray(cv2.perspectiveTransform(corners, matrix))
    # Truncated towards 0, as the reference's ``np.int32``.
    xmin, ymin = warped.min(axis=0).ravel().astype(np.int32).tolist()
    xmax, ymax = warped.max(axis=0).ravel().astype(np.int32).tolist()
    xmax, ymax = max(xmax, w1), max(ymax, h1)
    shift_x, shift_y = max(0, -xmin), max(0, -ymin)
    width, height = xmax - xmin, ymax - ymin
    if width <= 0 or height <= 0:
        raise StitchFailedError("the warped image is empty")
    if width * height > max_pixels:
        raise OverflowError(f"the panorama would be {width} x {height} px")
    translation = np.array([[1, 0, shift_x], [0, 1, shift_y], [0, 0, 1]], dtype=np.float64)
    canvas = np.asarray(cv2.warpPerspective(second, translation @ matrix, (width, height)))
    if shift_x + w1 <= canvas.shape[1] and shift_y + h1 <= canvas.shape[0]:
        canvas[shift_y : shift_y + h1, shift_x : shift_x + w1] = first
    return np.ascontiguousarray(canvas, dtype=np.uint8)


class StitchImagesV1(Block):
    """``stitched_image``: ``image1`` and ``image2`` stitched (see the module docstring), a new
    image whose id names both; ``None`` when they cannot be stitched."""

    type = "roboflow_core/stitch_images@v1"
    manifest = StitchImagesManifest
    outputs = (OutputDefinition("stitched_image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        first, second = inputs.image("image1"), inputs.image("image2")
        neighbours = inputs.get("count_of_best_matches_per_query_descriptor")
        neighbours = (
            2 if neighbours is None else inputs.as_int("count_of_best_matches_per_query_descriptor")
        )
        if neighbours == 0:
            raise inputs.fail(
                "count_of_best_matches_per_query_descriptor", "must be greater than 0"
            )
        error = inputs.get("max_allowed_reprojection_error")
        error = 3.0 if error is None else inputs.as_float("max_allowed_reprojection_error")
        max_pixels = context.budget.limits.max_image_pixels
        try:
            pixels = stitch_images(
                first.pixels_bgr, second.pixels_bgr, abs(neighbours), abs(error), max_pixels
            )
        except StitchFailedError:
            return {"stitched_image": None}
        except OverflowError as exc:
            raise inputs.fail(
                "image2",
                f"{exc}, more than the {max_pixels} pixels an image may have "
                f"({MAX_IMAGE_PIXELS_SETTING})",
            ) from None
        except cv2.error:
            return {"stitched_image": None}
        image_id = f"{first.lineage.image_id} + {second.lineage.image_id}"
        return {"stitched_image": WorkflowImage.from_input(pixels, image_id)}


STITCHING_BLOCKS: tuple[type[Block], ...] = (StitchImagesV1,)
