"""SIFT keypoints (``sift``) and comparing two images or descriptor sets by their SIFT matches
(``sift_comparison`` v1 on descriptors, v2 on images or descriptors), with OpenCV's SIFT and
FLANN / brute-force matchers as the reference uses them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.classical_cv import replace_pixels, to_gray
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["FEATURE_BLOCKS", "SiftComparisonV1", "SiftComparisonV2", "SiftV1", "sift"]

IMAGE_KEYPOINTS = "image_keypoints"
_NumpySelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.NUMPY_ARRAY,))]
_ImageNumpySelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.IMAGE, k.NUMPY_ARRAY))
]
PositiveInt = Annotated[int, Field(gt=0)]


def sift(
    pixels: npt.NDArray[np.uint8],
) -> tuple[list[cv2.KeyPoint], npt.NDArray[np.float32] | None, list[dict[str, Any]]]:
    """SIFT keypoints of the gray image, their descriptors (``None`` when there are none) and
    the keypoints as the reference writes them."""
    keypoints, descriptors = cv2.SIFT.create().detectAndCompute(to_gray(pixels), None)
    described = [
        {
            "pt": (float(p.pt[0]), float(p.pt[1])),
            "size": float(p.size),
            "angle": float(p.angle),
            "response": float(p.response),
            "octave": int(p.octave),
            "class_id": int(p.class_id),
        }
        for p in keypoints
    ]
    found = None if descriptors is None else np.asarray(descriptors, dtype=np.float32)
    return list(keypoints), found, described


class SiftManifestV1(StepManifest):
    image: ImageSelector


class SiftV1(Block):
    """``keypoints`` and ``descriptors`` (N x 128) of the image's SIFT features; ``image`` is the
    gray image with the keypoints drawn."""

    type = "roboflow_core/sift@v1"
    manifest = SiftManifestV1
    outputs = (
        OutputDefinition("image", (k.IMAGE,)),
        OutputDefinition("keypoints", (IMAGE_KEYPOINTS,)),
        OutputDefinition("descriptors", (k.NUMPY_ARRAY,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        points, descriptors, described = sift(image.pixels_bgr)
        drawn = cv2.drawKeypoints(to_gray(image.pixels_bgr), points, _canvas())
        return {
            "image": replace_pixels(image, drawn),
            "keypoints": described,
            "descriptors": descriptors,
        }


def _canvas() -> Any:
    """No output image: OpenCV's drawing functions allocate it (its stubs want an array)."""
    return None


def _good_matches(
    first: npt.NDArray[Any], second: npt.NDArray[Any], ratio: float, matcher: str
) -> list[list[cv2.DMatch]]:
    """Lowe's ratio test over each descriptor's two nearest neighbours."""
    a, b = np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)
    if matcher == "BFMatcher":
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a, b, k=2)
    else:
        flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 5}, {"checks": 50})
        pairs = flann.knnMatch(a, b, k=2)
    return [
        [pair[0]]
        for pair in pairs
        if len(pair) == 2 and pair[0].distance < ratio * pair[1].distance
    ]


def _descriptors(inputs: StepInputs, field: str) -> npt.NDArray[Any] | None:
    value = inputs.get(field)
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if array.size == 0:
        return None
    if array.ndim != 2:
        raise inputs.fail(field, f"expected SIFT descriptors (N x 128), got shape {array.shape}")
    return array


class SiftComparisonManifestV1(StepManifest):
    descriptor_1: _NumpySelector
    descriptor_2: _NumpySelector
    good_matches_threshold: PositiveInt | IntegerSelector = 50
    ratio_threshold: float | IntegerSelector = 0.7


class SiftComparisonV1(Block):
    """``good_matches_count``: descriptors of the first set whose nearest neighbour in the
    second is closer than ``ratio_threshold`` times the second nearest (FLANN);
    ``images_match`` when at least ``good_matches_threshold``. Fewer than 2 descriptors on
    either side: 0 and no match."""

    type = "roboflow_core/sift_comparison@v1"
    manifest = SiftComparisonManifestV1
    outputs = (
        OutputDefinition("good_matches_count", (k.INTEGER,)),
        OutputDefinition("images_match", (k.BOOLEAN,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        first, second = _descriptors(inputs, "descriptor_1"), _descriptors(inputs, "descriptor_2")
        threshold = inputs.as_int("good_matches_threshold", low=1)
        if first is None or second is None or len(first) < 2 or len(second) < 2:
            return {"good_matches_count": 0, "images_match": False}
        ratio = inputs.as_float("ratio_threshold")
        count = len(_good_matches(first, second, ratio, "FlannBasedMatcher"))
        return {"good_matches_count": count, "images_match": count >= threshold}


class SiftComparisonManifestV2(StepManifest):
    input_1: _ImageNumpySelector
    input_2: _ImageNumpySelector
    good_matches_threshold: PositiveInt | IntegerSelector = 50
    ratio_threshold: float | FloatZeroToOneSelector = 0.7
    matcher: Literal["FlannBasedMatcher", "BFMatcher"] | StringSelector = "FlannBasedMatcher"
    visualize: bool | BooleanSelector = False


class _Side:
    def __init__(self, inputs: StepInputs, field: str, visualize: bool) -> None:
        value = inputs.get(field)
        self.image: WorkflowImage | None = value if isinstance(value, WorkflowImage) else None
        self.points: list[cv2.KeyPoint] | None = None
        self.keypoints: list[dict[str, Any]] | None = None
        self.visualization: WorkflowImage | None = None
        if self.image is None:
            self.descriptors = _descriptors(inputs, field)
            return
        self.points, self.descriptors, self.keypoints = sift(self.image.pixels_bgr)
        if visualize:
            drawn = cv2.drawKeypoints(to_gray(self.image.pixels_bgr), self.points, _canvas())
            self.visualization = replace_pixels(self.image, drawn)


class SiftComparisonV2(Block):
    """As v1 on images (SIFT first) or descriptors; ``matcher`` picks FLANN or brute force;
    ``visualize`` adds each image's keypoints and the good matches side by side."""

    type = "roboflow_core/sift_comparison@v2"
    manifest = SiftComparisonManifestV2
    outputs = (
        OutputDefinition("images_match", (k.BOOLEAN,)),
        OutputDefinition("good_matches_count", (k.INTEGER,)),
        OutputDefinition("keypoints_1", (IMAGE_KEYPOINTS,)),
        OutputDefinition("descriptors_1", (k.NUMPY_ARRAY,)),
        OutputDefinition("keypoints_2", (IMAGE_KEYPOINTS,)),
        OutputDefinition("descriptors_2", (k.NUMPY_ARRAY,)),
        OutputDefinition("visualization_1", (k.IMAGE,)),
        OutputDefinition("visualization_2", (k.IMAGE,)),
        OutputDefinition("visualization_matches", (k.IMAGE,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        visualize = inputs.as_bool("visualize")
        threshold = inputs.as_int("good_matches_threshold", low=1)
        matcher = inputs.as_str("matcher")
        one, two = _Side(inputs, "input_1", visualize), _Side(inputs, "input_2", visualize)
        outputs: dict[str, Any] = {
            "good_matches_count": 0,
            "images_match": False,
            "keypoints_1": one.keypoints,
            "descriptors_1": one.descriptors,
            "keypoints_2": two.keypoints,
            "descriptors_2": two.descriptors,
            "visualization_1": one.visualization,
            "visualization_2": two.visualization,
            "visualization_matches": None,
        }
        a, b = one.descriptors, two.descriptors
        if a is None or b is None or len(a) < 2 or len(b) < 2:
            return outputs
        good = _good_matches(a, b, inputs.as_float("ratio_threshold"), matcher)
        outputs["good_matches_count"] = len(good)
        outputs["images_match"] = len(good) >= threshold
        if visualize and one.image is not None and two.image is not None:
            assert one.points is not None
            assert two.points is not None
            drawing: dict[str, Any] = (
                {"flags": cv2.DrawMatchesFlags_NOT_DRAW_SINGLE_POINTS}
                if matcher == "BFMatcher"
                else {
                    "matchColor": (0, 255, 0),
                    "singlePointColor": (0, 0, 255),
                    "flags": cv2.DrawMatchesFlags_DEFAULT,
                }
            )
            pixels = cv2.drawMatchesKnn(
                one.image.pixels_bgr,
                one.points,
                two.image.pixels_bgr,
                two.points,
                good,
                _canvas(),
                **drawing,
            )
            outputs["visualization_matches"] = replace_pixels(one.image, pixels)
        return outputs


FEATURE_BLOCKS: tuple[type[Block], ...] = (SiftV1, SiftComparisonV1, SiftComparisonV2)
