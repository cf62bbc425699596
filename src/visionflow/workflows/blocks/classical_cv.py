"""Classical computer vision with OpenCV: ``convert_grayscale``, ``image_blur``, ``threshold``,
``contours_detection``, ``dominant_color``, ``pixel_color_count``, ``template_matching`` and
``image_preprocessing``.

Images stay ``(H, W, 3)`` BGR between blocks (a grayscale result is its gray channel repeated),
so every other block can take them; blocks that work on one channel convert first."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.core.visualization import MAX_DRAWING_PX
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    RgbColorSelector,
    StepManifest,
    StringSelector,
)

__all__ = [
    "CLASSICAL_CV_BLOCKS",
    "MAX_BILATERAL_PX",
    "MAX_KERNEL_PX",
    "ImageManifest",
    "replace_pixels",
    "to_gray",
]

# Filter sizes: a kernel's cost grows with its size on every pixel (a 100001 px Gaussian ran for
# minutes, a bilateral filter grows with its square: 31 px took 4.7 s on 12 MP), and OpenCV's
# median filter asserts past 255.
MAX_KERNEL_PX = 255
MAX_BILATERAL_PX = 15

Pixels = npt.NDArray[np.uint8]
PositiveInt = Annotated[int, Field(gt=0)]


def to_gray(pixels: Pixels) -> Pixels:
    if pixels.ndim == 2:
        return pixels
    return np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def replace_pixels(image: WorkflowImage, pixels: npt.NDArray[Any]) -> WorkflowImage:
    """``image`` with new pixels (a single channel is repeated into BGR). A result of another
    size starts a new coordinate system (same id), so results on it are not mapped back."""
    bgr = np.asarray(pixels, dtype=np.uint8)
    if bgr.ndim == 2:
        bgr = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if bgr.shape[:2] == image.pixels_bgr.shape[:2]:
        return image.with_pixels(bgr)
    return WorkflowImage.from_input(
        np.ascontiguousarray(bgr), image.lineage.image_id, image.video_metadata
    )


class ImageManifest(StepManifest):
    image: ImageSelector


class ConvertGrayscaleV1(Block):
    type = "roboflow_core/convert_grayscale@v1"
    manifest = ImageManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        return {"image": replace_pixels(image, to_gray(image.pixels_bgr))}


class ImageBlurManifest(ImageManifest):
    blur_type: StringSelector | Literal["average", "gaussian", "median", "bilateral"] = "gaussian"
    kernel_size: IntegerSelector | int = 5


class ImageBlurV1(Block):
    """``average``, ``gaussian`` (odd ``kernel_size``), ``median`` (odd) or ``bilateral`` blur."""

    type = "roboflow_core/image_blur@v1"
    manifest = ImageBlurManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        kind = inputs.as_str("blur_type")
        largest = MAX_BILATERAL_PX if kind == "bilateral" else MAX_KERNEL_PX
        size = inputs.as_int("kernel_size", low=1, high=largest)
        pixels = image.pixels_bgr
        if kind in ("gaussian", "median") and size % 2 == 0:
            raise inputs.fail("kernel_size", f"{kind} blur needs an odd kernel size, got {size}")
        if kind == "average":
            result = cv2.blur(pixels, (size, size))
        elif kind == "gaussian":
            result = cv2.GaussianBlur(pixels, (size, size), 0)
        elif kind == "median":
            result = cv2.medianBlur(pixels, size)
        elif kind == "bilateral":
            result = cv2.bilateralFilter(pixels, size, 75, 75)
        else:
            raise inputs.fail(
                "blur_type", f"expected average, gaussian, median or bilateral: {kind!r}"
            )
        return {"image": replace_pixels(image, result)}


ThresholdType = Literal[
    "binary",
    "binary_inv",
    "trunc",
    "tozero",
    "tozero_inv",
    "adaptive_mean",
    "adaptive_gaussian",
    "otsu",
]
_THRESHOLDS = {
    "binary": cv2.THRESH_BINARY,
    "binary_inv": cv2.THRESH_BINARY_INV,
    "trunc": cv2.THRESH_TRUNC,
    "tozero": cv2.THRESH_TOZERO,
    "tozero_inv": cv2.THRESH_TOZERO_INV,
}


class ThresholdManifest(ImageManifest):
    threshold_type: StringSelector | ThresholdType = "binary"
    thresh_value: IntegerSelector | int
    max_value: IntegerSelector | int = 255


class ThresholdV1(Block):
    """Thresholds the image's gray levels: fixed (``thresh_value``), adaptive (11 px blocks,
    constant 2) or Otsu's."""

    type = "roboflow_core/threshold@v1"
    manifest = ThresholdManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        gray = to_gray(image.pixels_bgr)
        kind = inputs.as_str("threshold_type")
        value = inputs.as_int("thresh_value")
        top = inputs.as_int("max_value")
        if kind in _THRESHOLDS:
            _used, result = cv2.threshold(gray, value, top, _THRESHOLDS[kind])
        elif kind == "otsu":
            _used, result = cv2.threshold(gray, 0, top, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        elif kind in ("adaptive_mean", "adaptive_gaussian"):
            method = (
                cv2.ADAPTIVE_THRESH_MEAN_C
                if kind == "adaptive_mean"
                else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
            )
            result = cv2.adaptiveThreshold(gray, top, method, cv2.THRESH_BINARY, 11, 2)
        else:
            raise inputs.fail("threshold_type", f"unknown threshold type {kind!r}")
        return {"image": replace_pixels(image, result)}


class ContoursManifest(ImageManifest):
    line_thickness: IntegerSelector | int = 3


class ContoursDetectionV1(Block):
    """External contours of the non-zero regions of a (thresholded) image: ``contours`` (one
    ``(K, 1, 2)`` point array each), ``hierarchy``, ``number_contours``, and ``image`` with them
    drawn in purple."""

    type = "roboflow_core/contours_detection@v1"
    manifest = ContoursManifest
    outputs = (
        OutputDefinition("image", (k.IMAGE,)),
        OutputDefinition("contours", (k.CONTOURS,)),
        OutputDefinition("hierarchy", (k.NUMPY_ARRAY,)),
        OutputDefinition("number_contours", (k.INTEGER,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        contours, hierarchy = cv2.findContours(
            to_gray(image.pixels_bgr), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        canvas = image.pixels_bgr.copy()
        # -1 (cv2.FILLED) fills the contours.
        thickness = inputs.as_int("line_thickness", low=-1, high=MAX_DRAWING_PX)
        cv2.drawContours(canvas, contours, -1, (255, 0, 255), thickness)
        return {
            "image": replace_pixels(image, canvas),
            "contours": list(contours),
            "hierarchy": hierarchy if hierarchy is not None else np.zeros((1, 0, 4), np.int32),
            "number_contours": len(contours),
        }


class DominantColorManifest(ImageManifest):
    color_clusters: Annotated[int, Field(gt=0, le=10)] | IntegerSelector = 4
    max_iterations: Annotated[int, Field(gt=0, le=500)] | IntegerSelector = 100
    target_size: Annotated[int, Field(gt=0, le=250)] | IntegerSelector = 100


def dominant_color(pixels: Pixels, clusters: int, iterations: int, target: int) -> tuple[int, ...]:
    """The centre of the largest of ``clusters`` k-means colour clusters, as ``(R, G, B)``; the
    image is subsampled so its smaller side is about ``target`` pixels. Seeded: deterministic."""
    height, width = pixels.shape[:2]
    step = max(1, min(width, height) // target)
    points = pixels[::step, ::step].reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(0)
    count = min(clusters, len(points))
    centres = points[rng.choice(len(points), count, replace=False)]
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(iterations):
        labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        updated = np.array(
            [
                points[labels == i].mean(axis=0) if np.any(labels == i) else centres[i]
                for i in range(count)
            ],
            dtype=np.float32,
        )
        if np.allclose(updated, centres):
            break
        centres = updated
    largest = int(np.argmax(np.bincount(labels, minlength=count)))
    blue, green, red = (int(np.clip(round(float(v)), 0, 255)) for v in centres[largest])
    return red, green, blue


class DominantColorV1(Block):
    """``rgb_color``: the image's dominant colour as ``(R, G, B)`` (k-means over its pixels)."""

    type = "roboflow_core/dominant_color@v1"
    manifest = DominantColorManifest
    outputs = (OutputDefinition("rgb_color", (k.RGB_COLOR,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        color = dominant_color(
            image.pixels_bgr,
            inputs.as_int("color_clusters", low=1),
            inputs.as_int("max_iterations", low=1),
            inputs.as_int("target_size", low=1),
        )
        return {"rgb_color": color}


class PixelColorCountManifest(ImageManifest):
    target_color: StringSelector | RgbColorSelector | str | tuple[int, int, int]
    tolerance: IntegerSelector | int = 10


def target_bgr(color: Any) -> tuple[int, int, int]:
    """``#RRGGBB``, ``#RGB``, ``(R, G, B)`` text or an ``(R, G, B)`` sequence, as BGR."""
    if isinstance(color, list | tuple) and len(color) == 3:
        red, green, blue = (int(v) for v in color)
        return blue, green, red
    if isinstance(color, str):
        text = color.strip()
        if text.startswith("#") and len(text) in (4, 7):
            digits = text[1:] if len(text) == 7 else "".join(c * 2 for c in text[1:])
            red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
            return blue, green, red
        if text.startswith("(") and text.endswith(")"):
            parts = [int(part) for part in text[1:-1].split(",")]
            if len(parts) == 3:
                return parts[2], parts[1], parts[0]
    raise ValueError(f"invalid colour {color!r}: use #RRGGBB, #RGB or (R, G, B)")


class PixelColorCountV1(Block):
    """``matching_pixels_count``: pixels whose every channel is within ``tolerance`` of
    ``target_color``."""

    type = "roboflow_core/pixel_color_count@v1"
    manifest = PixelColorCountManifest
    outputs = (OutputDefinition("matching_pixels_count", (k.INTEGER,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        try:
            bgr = np.array(target_bgr(inputs["target_color"]), dtype=np.int64)
        except ValueError as exc:
            raise inputs.fail("target_color", str(exc)) from None
        tolerance = inputs.as_int("tolerance", low=0)
        pixels = image.pixels_bgr.astype(np.int64)
        matches = np.all(np.abs(pixels - bgr) <= tolerance, axis=2)
        return {"matching_pixels_count": int(matches.sum())}


class TemplateMatchingManifest(ImageManifest):
    template: ImageSelector
    matching_threshold: FloatSelector | float = 0.8
    apply_nms: BooleanSelector | bool = True
    nms_threshold: FloatZeroToOneSelector | Annotated[float, Field(ge=0.0, le=1.0)] = 0.5


class TemplateMatchingV1(Block):
    """``predictions``: every place where ``template`` matches the image with a normalized
    correlation of at least ``matching_threshold`` (class ``template_match``, confidence 1.0),
    overlapping matches suppressed when ``apply_nms``; ``number_of_matches``."""

    type = "roboflow_core/template_matching@v1"
    manifest = TemplateMatchingManifest
    outputs = (
        OutputDefinition("predictions", (k.OBJECT_DETECTION_PREDICTION,)),
        OutputDefinition("number_of_matches", (k.INTEGER,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        template = to_gray(inputs.image("template").pixels_bgr)
        gray = to_gray(image.pixels_bgr)
        if template.shape[0] > gray.shape[0] or template.shape[1] > gray.shape[1]:
            raise inputs.fail("template", "the template is larger than the image")
        scores = cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED)
        ys, xs = np.nonzero(scores >= inputs.as_float("matching_threshold"))
        height, width = template.shape[:2]
        count = len(xs)
        detections = sv.Detections(
            xyxy=np.stack([xs, ys, xs + width, ys + height], axis=1).astype(np.float32),
            confidence=np.ones(count, dtype=np.float32),
            class_id=np.zeros(count, dtype=np.int64),
            data={CLASS_NAME: np.array(["template_match"] * count, dtype=object).reshape(count)},
        )
        if count and inputs.as_bool("apply_nms"):
            detections = detections.with_nms(
                threshold=inputs.as_float("nms_threshold", low=0.0, high=1.0)
            )
        detections.data[DETECTION_ID] = np.array(
            [str(uuid.uuid4()) for _ in range(len(detections))], dtype=object
        )
        attach_lineage(detections, image.lineage)
        return {"predictions": detections, "number_of_matches": len(detections)}


class ImagePreprocessingManifest(ImageManifest):
    task_type: Literal["resize", "rotate", "flip"]
    width: PositiveInt | IntegerSelector = 640
    height: PositiveInt | IntegerSelector = 640
    rotation_degrees: int | IntegerSelector = 90
    flip_type: StringSelector | Literal["vertical", "horizontal", "both"] = "vertical"


def rotate_bound(pixels: Pixels, degrees: int) -> npt.NDArray[Any]:
    """``pixels`` rotated counter-clockwise by ``degrees``, on a canvas holding all of it."""
    if degrees % 360 == 0:
        return pixels.copy()
    height, width = pixels.shape[:2]
    center = (width // 2, height // 2)
    matrix = cv2.getRotationMatrix2D(center, degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - center[0]
    matrix[1, 2] += new_h / 2 - center[1]
    return np.asarray(cv2.warpAffine(pixels, matrix, (new_w, new_h)))


class ImagePreprocessingV1(Block):
    """``resize`` to ``width`` x ``height``, ``rotate`` by ``rotation_degrees``
    (counter-clockwise, canvas grown to fit) or ``flip`` (``vertical``, ``horizontal``,
    ``both``)."""

    type = "roboflow_core/image_preprocessing@v1"
    manifest = ImagePreprocessingManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        pixels = image.pixels_bgr
        task = inputs["task_type"]
        result: npt.NDArray[Any]
        if task == "resize":
            size = inputs.as_size_wh(
                "width",
                "height",
                max_pixels=context.budget.limits.max_image_pixels,
                setting=MAX_IMAGE_PIXELS_SETTING,
            )
            result = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        elif task == "rotate":
            result = rotate_bound(pixels, inputs.as_int("rotation_degrees"))
        else:
            codes = {"vertical": 0, "horizontal": 1, "both": -1}
            flip = inputs.as_str("flip_type")
            if flip not in codes:
                raise inputs.fail("flip_type", f"expected vertical, horizontal or both: {flip!r}")
            result = cv2.flip(pixels, codes[flip])
        return {"image": replace_pixels(image, result)}


CLASSICAL_CV_BLOCKS: tuple[type[Block], ...] = (
    ConvertGrayscaleV1,
    ImageBlurV1,
    ThresholdV1,
    ContoursDetectionV1,
    DominantColorV1,
    PixelColorCountV1,
    TemplateMatchingV1,
    ImagePreprocessingV1,
)
