"""Whole-image filters with OpenCV: ``morphological_transformation@v1..v2`` (erosion, dilation and
their combinations with a square kernel) and ``contrast_equalization`` (stretching, histogram
equalization, CLAHE). Images stay ``(H, W, 3)`` BGR, as in ``blocks.classical_cv``."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.classical_cv import (
    MAX_KERNEL_PX,
    ImageManifest,
    replace_pixels,
    to_gray,
)
from visionflow.workflows.manifest import IntegerSelector, StringSelector

__all__ = [
    "IMAGE_FILTER_BLOCKS",
    "ContrastEqualizationV1",
    "MorphologicalTransformationV1",
    "MorphologicalTransformationV2",
    "equalize_contrast",
    "morphology",
]

Pixels = npt.NDArray[np.uint8]
MorphologyV1 = Literal[
    "Erosion", "Dilation", "Opening", "Closing", "Gradient", "Top Hat", "Black Hat"
]
MorphologyV2 = Literal[
    "Erosion",
    "Dilation",
    "Opening",
    "Closing",
    "Opening then Closing",
    "Gradient",
    "Top Hat",
    "Black Hat",
]
_MORPHOLOGY = {
    "Erosion": (cv2.MORPH_ERODE,),
    "Dilation": (cv2.MORPH_DILATE,),
    "Opening": (cv2.MORPH_OPEN,),
    "Closing": (cv2.MORPH_CLOSE,),
    "Opening then Closing": (cv2.MORPH_OPEN, cv2.MORPH_CLOSE),
    "Gradient": (cv2.MORPH_GRADIENT,),
    "Top Hat": (cv2.MORPH_TOPHAT,),
    "Black Hat": (cv2.MORPH_BLACKHAT,),
}


def morphology(pixels: Pixels, operation: str, kernel_size: int) -> Pixels:
    """``pixels`` (any channels, each filtered alike) after ``operation`` with a square
    ``kernel_size`` kernel; ``KeyError`` for an unknown operation."""
    kernel = np.ones((kernel_size, kernel_size), np.uint8)
    result = pixels
    for op in _MORPHOLOGY[operation]:
        result = np.asarray(cv2.morphologyEx(result, op, kernel), dtype=np.uint8)
    return result


class _KernelManifest(ImageManifest):
    kernel_size: int | IntegerSelector = 5


class MorphologyManifestV1(_KernelManifest):
    operation: StringSelector | MorphologyV1 = "Closing"


class MorphologyManifestV2(_KernelManifest):
    operation: StringSelector | MorphologyV2 = "Opening then Closing"


class _Morphology(Block):
    outputs = (OutputDefinition("image", (k.IMAGE,)),)
    operations: ClassVar[tuple[str, ...]]

    def source(self, pixels_bgr: Pixels) -> Pixels:
        """What is filtered: the gray levels or the colour channels."""
        raise NotImplementedError

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        size = inputs.as_int("kernel_size", low=1, high=MAX_KERNEL_PX)
        operation = inputs.as_str("operation")
        if operation not in self.operations:
            raise inputs.fail("operation", f"expected one of {', '.join(self.operations)}")
        filtered = morphology(self.source(image.pixels_bgr), operation, size)
        return {"image": replace_pixels(image, filtered)}


class MorphologicalTransformationV1(_Morphology):
    """v1: the image's gray levels after ``operation`` (the result is gray)."""

    type = "roboflow_core/morphological_transformation@v1"
    manifest = MorphologyManifestV1
    operations = get_args(MorphologyV1)

    def source(self, pixels_bgr: Pixels) -> Pixels:
        return to_gray(pixels_bgr)


class MorphologicalTransformationV2(_Morphology):
    """v2: filters the colour channels (the result keeps its colours) and adds ``Opening then
    Closing``, the default."""

    type = "roboflow_core/morphological_transformation@v2"
    manifest = MorphologyManifestV2
    operations = get_args(MorphologyV2)

    def source(self, pixels_bgr: Pixels) -> Pixels:
        return pixels_bgr


# -- contrast -------------------------------------------------------------------------------------

Equalization = Literal["Contrast Stretching", "Histogram Equalization", "Adaptive Equalization"]
EQUALIZATIONS: tuple[str, ...] = get_args(Equalization)
# The reference's scikit-image CLAHE clips histogram bins at 0.03 of a tile's pixels; OpenCV's
# limit is relative to a bin's mean count (pixels / 256), hence the factor.
_CLAHE_CLIP = 0.03 * 256
_CLAHE_TILES = (8, 8)


def _stretch(pixels: Pixels) -> Pixels:
    """Levels from the 2nd to the 98th percentile (of every channel together) spread over
    0..255."""
    low, high = (float(p) for p in np.percentile(pixels, (2, 98)))
    if high <= low:
        return pixels.copy()
    scaled = (np.clip(pixels.astype(np.float64), low, high) - low) / (high - low)
    return np.asarray(scaled * 255, dtype=np.uint8)


def _equalize(pixels: Pixels) -> Pixels:
    """Histogram equalization of every channel together: each level becomes its cumulative
    share of the pixels (256 bins between the darkest and the brightest level)."""
    low, high = int(pixels.min()), int(pixels.max())
    if high == low:
        return pixels.copy()
    values = pixels.astype(np.float64)
    counts, edges = np.histogram(values, bins=256, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    cdf = np.cumsum(counts) / values.size
    return np.asarray(np.interp(values, centres, cdf) * 255, dtype=np.uint8)


def _full_range(levels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    low, high = float(levels.min()), float(levels.max())
    return (levels - low) * (255 / (high - low)) if high > low else levels


def _adaptive(pixels: Pixels) -> Pixels:
    """CLAHE on the HSV value (the brightest channel) of each pixel, keeping hue and saturation:
    the value is spread over 0..255, equalized in 8 x 8 tiles, spread again, and every channel
    scaled by the new value over the old (a black pixel becomes gray), as scikit-image does."""
    value = pixels.max(axis=2).astype(np.float64)
    clahe = cv2.createCLAHE(clipLimit=_CLAHE_CLIP, tileGridSize=_CLAHE_TILES)
    spread = np.round(_full_range(value)).astype(np.uint8)
    new_value = _full_range(np.asarray(clahe.apply(spread), dtype=np.float64))
    ratio = np.divide(new_value, value, out=np.zeros_like(new_value), where=value > 0)
    result = pixels.astype(np.float64) * ratio[..., None]
    black = value == 0
    result[black] = new_value[black][:, None]
    return np.asarray(np.clip(result, 0, 255), dtype=np.uint8)


def equalize_contrast(pixels_bgr: Pixels, how: str) -> Pixels:
    """``pixels_bgr`` with its contrast equalized as ``how`` (one of ``EQUALIZATIONS``) says."""
    if how == "Contrast Stretching":
        return _stretch(pixels_bgr)
    if how == "Histogram Equalization":
        return _equalize(pixels_bgr)
    if how == "Adaptive Equalization":
        return _adaptive(pixels_bgr)
    raise ValueError(f"unknown equalization {how!r}: expected one of {', '.join(EQUALIZATIONS)}")


class ContrastEqualizationManifest(ImageManifest):
    equalization_type: StringSelector | Equalization = "Histogram Equalization"


class ContrastEqualizationV1(Block):
    """``Contrast Stretching`` (2nd-98th percentile to full range), ``Histogram Equalization``
    or ``Adaptive Equalization`` (CLAHE on brightness), as the reference's scikit-image calls."""

    type = "roboflow_core/contrast_equalization@v1"
    manifest = ContrastEqualizationManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        try:
            equalized = equalize_contrast(image.pixels_bgr, inputs.as_str("equalization_type"))
        except ValueError as exc:
            raise inputs.fail("equalization_type", str(exc)) from None
        return {"image": replace_pixels(image, equalized)}


IMAGE_FILTER_BLOCKS: tuple[type[Block], ...] = (
    MorphologicalTransformationV1,
    MorphologicalTransformationV2,
    ContrastEqualizationV1,
)
