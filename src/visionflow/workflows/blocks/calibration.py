"""``camera-calibration``: lens distortion removed with known intrinsics, as the reference does:
OpenCV's ``undistort`` with the Brown-Conrady coefficients (``k1, k2, p1, p2, k3``) and the
optimal new camera matrix at ``alpha=1`` (every source pixel kept), or with
``use_fisheye_model`` the one-parameter division model (``k1`` only) remapped bilinearly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    FIELD_ALIASES,
    BooleanSelector,
    FloatSelector,
    ImageSelector,
    StepManifest,
)

__all__ = ["CALIBRATION_BLOCKS", "CameraCalibrationV1", "undistort"]

Pixels = npt.NDArray[np.uint8]
_COEFFICIENTS = ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "p1", "p2")


class CameraCalibrationManifest(StepManifest):
    field_aliases: ClassVar[Mapping[str, tuple[str, ...]]] = {
        **FIELD_ALIASES,
        "image": ("images",),
    }

    image: ImageSelector
    fx: float | FloatSelector | None
    fy: float | FloatSelector | None
    cx: float | FloatSelector | None
    cy: float | FloatSelector | None
    k1: float | FloatSelector | None
    k2: float | FloatSelector | None
    k3: float | FloatSelector | None
    p1: float | FloatSelector | None
    p2: float | FloatSelector | None
    use_fisheye_model: bool | BooleanSelector | None = False


def undistort(
    pixels: Pixels,
    focal_xy: tuple[float, float],
    centre_xy: tuple[float, float],
    radial: tuple[float, float, float],
    tangential: tuple[float, float],
    fisheye: bool = False,
) -> Pixels:
    """``pixels`` ``(H, W, C) uint8`` without lens distortion, the same size."""
    height, width = pixels.shape[:2]
    (fx, fy), (cx, cy) = focal_xy, centre_xy
    k1, k2, k3 = radial
    if fisheye:
        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        x, y = (grid_x - cx) / fx, (grid_y - cy) / fy
        r2 = x**2 + y**2
        scale = np.ones_like(r2)
        if abs(k1) >= 1e-8:
            discriminant = np.maximum(1 - 4 * k1 * r2, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = (1 - np.sqrt(discriminant)) / (2 * k1 * r2)
            scale[np.abs(r2) < 1e-8] = 1.0
        map_x = (x * scale * fx + cx).astype(np.float32)
        map_y = (y * scale * fy + cy).astype(np.float32)
        return np.asarray(cv2.remap(pixels, map_x, map_y, cv2.INTER_LINEAR), dtype=np.uint8)
    camera = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float32)
    coefficients = np.array([k1, k2, *tangential, k3], dtype=np.float32)
    new_camera, _roi = cv2.getOptimalNewCameraMatrix(
        camera, coefficients, (width, height), 1, (width, height)
    )
    return np.asarray(cv2.undistort(pixels, camera, coefficients, None, new_camera), dtype=np.uint8)


class CameraCalibrationV1(Block):
    """``calibrated_image``: ``image`` undistorted with the focal lengths ``fx``/``fy`` and
    principal point ``cx``/``cy`` (pixels), radial ``k1..k3`` and tangential ``p1``/``p2``
    coefficients (the same image: identity, placement and video metadata)."""

    type = "roboflow_core/camera-calibration@v1"
    manifest = CameraCalibrationManifest
    outputs = (OutputDefinition("calibrated_image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        values = {name: inputs.as_float(name) for name in _COEFFICIENTS}
        for name in ("fx", "fy"):
            if values[name] == 0:
                raise inputs.fail(name, "a focal length cannot be 0")
        fisheye = inputs.get("use_fisheye_model")
        pixels = undistort(
            image.pixels_bgr,
            (values["fx"], values["fy"]),
            (values["cx"], values["cy"]),
            (values["k1"], values["k2"], values["k3"]),
            (values["p1"], values["p2"]),
            fisheye=bool(fisheye) if fisheye is None else inputs.as_bool("use_fisheye_model"),
        )
        return {"calibrated_image": image.with_pixels(np.ascontiguousarray(pixels))}


CALIBRATION_BLOCKS: tuple[type[Block], ...] = (CameraCalibrationV1,)
