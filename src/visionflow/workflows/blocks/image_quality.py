"""Image quality and correction: ``camera_focus`` (v1: Brenner, v2: Tenengrad with exposure
zebras, focus peaking, grid, centre mark and a HUD), ``contrast_enhancement`` (percentile
stretch per channel) and ``auto_rotate_on_edges`` (deskew by the dominant edge direction), the
reference's computations with OpenCV and numpy."""

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
    FloatSelector,
    ImageSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = [
    "IMAGE_QUALITY_BLOCKS",
    "AutoRotateOnEdgesV1",
    "CameraFocusV1",
    "CameraFocusV2",
    "ContrastEnhancementV1",
]

Pixels = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.floating[Any]]
_BoxesSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]
Percent = Annotated[float, Field(ge=0.0, le=100.0)]


class CameraFocusManifestV1(StepManifest):
    image: ImageSelector


def brenner(pixels: Pixels) -> tuple[Pixels, float]:
    """Brenner's focus measure (mean of the squared larger of the 2-pixel horizontal and
    vertical rises) and its map scaled to 0..255 with the value written on it."""
    gray = to_gray(pixels).astype(np.int16)
    height, width = gray.shape
    horizontal = np.zeros((height, width))
    vertical = np.zeros((height, width))
    horizontal[:, : width - 2] = np.clip(gray[:, 2:] - gray[:, :-2], 0, None)
    vertical[: height - 2, :] = np.clip(gray[2:, :] - gray[:-2, :], 0, None)
    measure = np.max((horizontal, vertical), axis=0) ** 2
    top = float(measure.max())
    shown = (
        ((measure / top) * 255).astype(np.uint8) if top > 0 else np.zeros(measure.shape, np.uint8)
    )
    value = float(measure.mean())
    cv2.putText(shown, f"Focus value: {value:.2f}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, 255, 2)
    return shown, value


class CameraFocusV1(Block):
    """``focus_measure``: Brenner's measure (higher is sharper); ``image``: its map."""

    type = "roboflow_core/camera_focus@v1"
    manifest = CameraFocusManifestV1
    outputs = (
        OutputDefinition("image", (k.IMAGE,)),
        OutputDefinition("focus_measure", (k.FLOAT,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        shown, value = brenner(image.pixels_bgr)
        return {"image": replace_pixels(image, shown), "focus_measure": value}


class CameraFocusManifestV2(StepManifest):
    image: ImageSelector
    underexposed_threshold_percent: Percent = 3.0
    overexposed_threshold_percent: Percent = 97.0
    show_zebra_warnings: bool = True
    grid_overlay: Literal["None", "2x2", "3x3", "4x4", "5x5"] = "3x3"
    show_hud: bool = True
    show_focus_peaking: bool = True
    show_center_marker: bool = True
    detections: _BoxesSelector | None = None


def tenengrad(gray: Pixels) -> npt.NDArray[np.float32]:
    """Squared Sobel gradient magnitude (3 x 3) per pixel."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(gx * gx + gy * gy, dtype=np.float32)


def _blend(output: Pixels, mask: npt.NDArray[np.bool_], color: Any, opacity: float) -> None:
    output[mask] = (output[mask] * (1 - opacity) + np.array(color) * opacity).astype(np.uint8)


def _scale(height: int, width: int) -> float:
    return max(0.4, min(min(height, width) / 720, 2.5))


def _outlined(
    image: Pixels, text: str, xy: tuple[int, int], size: float, color: Any, t: int
) -> None:
    cv2.putText(image, text, xy, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), t + 2)
    cv2.putText(image, text, xy, cv2.FONT_HERSHEY_SIMPLEX, size, color, t)


def _hud(output: Pixels, focus: float, gray: Pixels, original: Pixels) -> Pixels:
    """The reference's panel: focus value, exposure histograms (B, G, R, gray)."""
    height, width = output.shape[:2]
    scale = _scale(height, width)
    padding, hist_w, hist_h = int(14 * scale), int(180 * scale), int(50 * scale)
    font, big, small = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, 0.4 * scale
    thick, spacing, margin, section = (
        max(1, int(1.6 * scale)),
        int(6 * scale),
        int(12 * scale),
        int(12 * scale),
    )
    text = f"{focus:.1f}"
    label = cv2.getTextSize("TFM Focus", font, big, thick)[0]
    value = cv2.getTextSize(text, font, big, thick)[0]
    exposure = cv2.getTextSize("Exposure", font, small, thick)[0]
    content_w = max(label[0] + value[0] + int(20 * scale), exposure[0], hist_w)
    content_h = label[1] + section + exposure[1] + spacing + hist_h
    x, y, w, h = margin, margin, content_w + 2 * padding, content_h + 2 * padding
    result = output.copy()
    overlay = result.copy()
    cv2.rectangle(overlay, (x, y), (x + w, y + h), (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.7, result, 0.3, 0, result)
    cv2.rectangle(result, (x, y), (x + w, y + h), (80, 80, 80), 1)
    text_x, cursor = x + padding, y + padding + label[1]
    _outlined(result, "TFM Focus", (text_x, cursor), big, (255, 255, 255), thick)
    _outlined(result, text, (x + w - padding - value[0], cursor), big, (255, 255, 255), thick)
    divider = cursor + int(section * 0.5)
    cv2.line(result, (x + padding, divider), (x + w - padding, divider), (60, 60, 60), 1)
    cursor += section + exposure[1]
    _outlined(result, "Exposure", (text_x, cursor), small, (180, 180, 180), thick)
    hist_y = cursor + spacing
    bottom = hist_y + hist_h - 1
    cv2.rectangle(result, (text_x, hist_y), (text_x + hist_w, bottom), (0, 0, 0), -1)
    xs = np.linspace(text_x, text_x + hist_w - 1, 256).astype(np.int32)
    curves = [
        (cv2.calcHist([original], [c], None, [256], [0, 256]), color)
        for c, color in enumerate(((255, 0, 0), (0, 255, 0), (0, 0, 255)))
    ]
    curves.append((cv2.calcHist([gray], [0], None, [256], [0, 256]), (255, 255, 255)))
    for hist, color in curves:
        top = hist.max()
        if top > 0:
            heights = (hist / top * hist_h).astype(np.int32).flatten()
            points = np.column_stack([xs, bottom - heights]).astype(np.int32)
            cv2.polylines(result, [points], False, color, max(1, thick))
    return result


def focus_overlay(
    inputs: StepInputs, pixels: Pixels, gray: Pixels, measure: Floats, focus: float
) -> Pixels | None:
    """The v2 visualization, ``None`` when every part of it is off."""
    grid = {"None": 0, "2x2": 2, "3x3": 3, "4x4": 4, "5x5": 5}[inputs["grid_overlay"]]
    zebra, hud = inputs.as_bool("show_zebra_warnings"), inputs.as_bool("show_hud")
    peaking, marker = inputs.as_bool("show_focus_peaking"), inputs.as_bool("show_center_marker")
    if not (zebra or hud or peaking or marker or grid > 0):
        return None
    output = pixels.copy()
    height, width = gray.shape
    if zebra:
        under = int(inputs.as_float("underexposed_threshold_percent") * 255 / 100)
        over = int(inputs.as_float("overexposed_threshold_percent") * 255 / 100)
        yy, xx = np.ogrid[:height, :width]
        stripes = ((xx + yy) // 8) % 2 == 0
        _blend(output, (gray < under) & stripes, (255, 0, 0), 0.5)
        _blend(output, (gray > over) & stripes, (0, 0, 255), 0.5)
    if peaking and measure.max() != 0:
        normalized = (measure / measure.max() * 255).astype(np.uint8)
        _blend(output, normalized > int(30.0 * 255 / 100), (0, 255, 0), 0.6)
    if marker:
        scale = _scale(height, width)
        cx, cy, size, thick = width // 2, height // 2, int(20 * scale), max(1, int(1.6 * scale))
        cv2.line(output, (cx - size, cy), (cx + size, cy), (255, 255, 255), thick)
        cv2.line(output, (cx, cy - size), (cx, cy + size), (255, 255, 255), thick)
    for i in range(1, grid):
        x, y = width * i // grid, height * i // grid
        cv2.line(output, (x, 0), (x, height), (128, 128, 128), 1)
        cv2.line(output, (0, y), (width, y), (128, 128, 128), 1)
    if hud:
        output = _hud(output, focus, gray, pixels)
    return output


class CameraFocusV2(Block):
    """``focus_measure``: the Tenengrad measure (mean squared Sobel gradient; higher is
    sharper), ``bbox_focus_measures``: the same inside each box of ``detections`` (``null``
    for a box outside the image); ``image``: the overlays that are switched on (the input
    image when none is)."""

    type = "roboflow_core/camera_focus@v2"
    manifest = CameraFocusManifestV2
    outputs = (
        OutputDefinition("image", (k.IMAGE,)),
        OutputDefinition("focus_measure", (k.FLOAT,)),
        OutputDefinition("bbox_focus_measures", (k.LIST_OF_VALUES,)),
    )
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        pixels = image.pixels_bgr
        gray = to_gray(pixels)
        measure = tenengrad(gray)
        focus = float(measure.mean())
        per_box: list[float | None] = []
        detections = inputs.get("detections")
        height, width = gray.shape
        if detections is not None:
            for x1, y1, x2, y2 in inputs.detections("detections").xyxy.astype(int).tolist():
                x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
                inside = x2 > x1 and y2 > y1
                per_box.append(float(measure[y1:y2, x1:x2].mean()) if inside else None)
        shown = focus_overlay(inputs, pixels, gray, measure, focus)
        output: WorkflowImage = image if shown is None else replace_pixels(image, shown)
        return {"image": output, "focus_measure": focus, "bbox_focus_measures": per_box}


class ContrastEnhancementManifestV1(StepManifest):
    image: ImageSelector
    clip_limit: Annotated[int, Field(ge=0, le=50)] = 0
    contrast_multiplier: Annotated[float, Field(ge=0.1, le=5.0)] = 1.0
    normalize_brightness: bool = False


def stretch(channel: Floats, clip: float, multiplier: float, gamma: float) -> Floats | None:
    """One channel stretched from its ``clip``% .. (100 - ``clip``)% percentiles to 0..255,
    contrast scaled about 128, gamma applied; ``None`` for a flat channel."""
    if clip > 0:
        low, high = np.quantile(channel, [clip / 100, 1 - clip / 100])
    else:
        low, high = channel.min(), channel.max()
    if high <= low:
        return None
    out = (channel - low) / (high - low) * 255.0
    if multiplier != 1.0:
        out = 128.0 + (out - 128.0) * multiplier
    if gamma != 1.0:
        out = np.power(np.clip(out, 0, 255) / 255.0, gamma) * 255.0
    return np.asarray(np.clip(out, 0, 255))


class ContrastEnhancementV1(Block):
    """Each channel stretched between its ``clip_limit``-th and (100 - ``clip_limit``)-th
    percentiles, ``contrast_multiplier`` about mid-gray, midtones brightened (gamma 1/1.3) with
    ``normalize_brightness``."""

    type = "roboflow_core/contrast_enhancement@v1"
    manifest = ContrastEnhancementManifestV1
    outputs = (OutputDefinition("image", (k.IMAGE,)),)
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        clip = float(inputs.as_int("clip_limit", low=0, high=50))
        multiplier = inputs.as_float("contrast_multiplier", low=0.1, high=5.0)
        gamma = 1.0 / 1.3 if inputs.as_bool("normalize_brightness") else 1.0
        pixels = image.pixels_bgr.astype(np.float32)
        enhanced = np.zeros_like(pixels)
        for c in range(pixels.shape[2]):
            done = stretch(pixels[:, :, c], clip, multiplier, gamma)
            enhanced[:, :, c] = pixels[:, :, c] if done is None else done
        return {"image": image.with_pixels(enhanced.astype(np.uint8))}


class AutoRotateOnEdgesManifestV1(StepManifest):
    image: ImageSelector
    target_orientation: Literal["vertical", "horizontal", "either"] | StringSelector = "vertical"
    skip_below_degrees: float | FloatSelector = 0.4
    max_correction_degrees: float | FloatSelector = 90.0
    internal_resolution: Annotated[int, Field(gt=0)] | IntegerSelector = 1000


def dominant_edge_angle(gray: Pixels, orientation: str) -> float | None:
    """The skew of the image's dominant edges (degrees, OpenCV's counter-clockwise sign), from
    the magnitude-weighted histogram of the strongest 20% of gradients, refined by a circular
    mean around its peak; ``None`` when the histogram has no distinct peak."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    prepped = cv2.GaussianBlur(clahe.apply(gray), (5, 5), 0).astype(np.float32)
    gx = cv2.Sobel(prepped, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(prepped, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    keep = magnitude >= max(float(np.percentile(magnitude, 80.0)), 1e-6)
    if not np.any(keep):
        return None
    theta = np.mod(np.degrees(np.arctan2(gy[keep], gx[keep])), 180.0)
    weights = magnitude[keep].astype(np.float64)
    histogram, _ = np.histogram(theta, bins=180, range=(0.0, 180.0), weights=weights)
    extended = np.concatenate([histogram[-2:], histogram, histogram[:2]])
    smoothed = np.convolve(extended, np.ones(5) / 5.0, mode="same")[2:-2]
    ratio = (float(smoothed.max()) - float(np.median(smoothed))) / (float(smoothed.std()) + 1e-9)
    if ratio < 1.5:
        return None
    peak = float(np.argmax(smoothed)) + 0.5
    distance = np.abs(theta - peak)
    near = np.minimum(distance, 180.0 - distance) <= 3.0
    angle = peak
    if np.any(near):
        doubled = np.radians(2.0 * theta[near])
        w = weights[near]
        angle = 0.5 * float(
            np.degrees(
                np.arctan2(float((w * np.sin(doubled)).sum()), float((w * np.cos(doubled)).sum()))
            )
        )
    return angle - 90.0 if orientation == "horizontal" else angle


def rotate_expanded(pixels: Pixels, angle: float) -> Pixels:
    """``pixels`` rotated by ``angle`` about the centre onto a canvas that holds all of it."""
    height, width = pixels.shape[:2]
    center = (width // 2, height // 2)
    matrix = cv2.getRotationMatrix2D(center, angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - center[0]
    matrix[1, 2] += new_h / 2 - center[1]
    return np.asarray(
        cv2.warpAffine(
            pixels,
            matrix,
            (new_w, new_h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        ),
        dtype=np.uint8,
    )


class AutoRotateOnEdgesV1(Block):
    """Rotates the image so its dominant edges are vertical (``target_orientation``: or
    horizontal, or whichever is nearer); ``angle`` is the rotation made (0 when the image is
    flat, has no distinct edge direction, or the skew is under ``skip_below_degrees`` or over
    ``max_correction_degrees``). Analysis runs on a copy at most ``internal_resolution`` px."""

    type = "roboflow_core/auto_rotate_on_edges@v1"
    manifest = AutoRotateOnEdgesManifestV1
    outputs = (OutputDefinition("image", (k.IMAGE,)), OutputDefinition("angle", (k.FLOAT,)))
    block_type = "classical_computer_vision"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        orientation = inputs.as_str("target_orientation")
        if orientation not in ("vertical", "horizontal", "either"):
            raise inputs.fail("target_orientation", "expected vertical, horizontal or either")
        unchanged = {"image": image, "angle": 0.0}
        gray = to_gray(image.pixels_bgr)
        largest = max(gray.shape)
        limit = inputs.as_int("internal_resolution", low=1)
        if largest > limit:
            scale = limit / float(largest)
            size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
            gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), np.uint8)
        if float(gray.std()) < 3.0:
            return unchanged
        angle = dominant_edge_angle(gray, orientation)
        if angle is None:
            return unchanged
        period = 90.0 if orientation == "either" else 180.0
        angle %= period
        if angle > period / 2:
            angle -= period
        if abs(angle) < inputs.as_float("skip_below_degrees"):
            return unchanged
        if abs(angle) > inputs.as_float("max_correction_degrees"):
            return unchanged
        return {
            "image": replace_pixels(image, rotate_expanded(image.pixels_bgr, angle)),
            "angle": float(angle),
        }


IMAGE_QUALITY_BLOCKS: tuple[type[Block], ...] = (
    CameraFocusV1,
    CameraFocusV2,
    ContrastEnhancementV1,
    AutoRotateOnEdgesV1,
)
