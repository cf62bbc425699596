"""Crops at fixed places: ``absolute_static_crop`` (pixels), ``relative_statoic_crop`` (fractions
of the image; the reference's misspelt id) and ``image_slicer`` (SAHI-style overlapping tiles, a
dimensionality increase). Every crop keeps its lineage, so results on it map back to the input."""

from __future__ import annotations

import uuid
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    ImageSelector,
    IntegerSelector,
    StepManifest,
)

__all__ = [
    "STATIC_CROP_BLOCKS",
    "AbsoluteStaticCropV1",
    "ImageSlicerV1",
    "ImageSlicerV2",
    "RelativeStaticCropV1",
    "slice_offsets",
]

PositiveInt = Annotated[int, Field(gt=0)]
ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
Overlap = Annotated[float, Field(ge=0.0, lt=1.0)]


def static_crop(
    image: WorkflowImage, prefix: str, center_xy: tuple[float, float], size_wh: tuple[float, float]
) -> WorkflowImage | None:
    """The ``size_wh`` region centred at ``center_xy``, clipped to the image; ``None`` if empty."""
    width, height = image.lineage.size_wh
    x_min = round(center_xy[0] - size_wh[0] / 2)
    y_min = round(center_xy[1] - size_wh[1] / 2)
    x_max, y_max = round(x_min + size_wh[0]), round(y_min + size_wh[1])
    x1, y1 = max(0, x_min), max(0, y_min)
    x2, y2 = min(width, x_max), min(height, y_max)
    if x2 <= x1 or y2 <= y1:
        return None
    return image.crop(f"{prefix}.{uuid.uuid4()}", (x1, y1, x2, y2))


class AbsoluteStaticCropManifest(StepManifest):
    images: ImageSelector
    x_center: PositiveInt | IntegerSelector
    y_center: PositiveInt | IntegerSelector
    width: PositiveInt | IntegerSelector
    height: PositiveInt | IntegerSelector


class AbsoluteStaticCropV1(Block):
    """``crops``: the ``width`` x ``height`` pixel region centred at (``x_center``, ``y_center``),
    clipped to the image (``null`` where nothing of it lies inside)."""

    type = "roboflow_core/absolute_static_crop@v1"
    aliases = ("AbsoluteStaticCrop",)
    manifest = AbsoluteStaticCropManifest
    outputs = (OutputDefinition("crops", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        center = (inputs.as_int("x_center", low=1), inputs.as_int("y_center", low=1))
        size = (inputs.as_int("width", low=1), inputs.as_int("height", low=1))
        crop = static_crop(inputs.image("images"), "absolute_static_crop", center, size)
        return {"crops": crop}


class RelativeStaticCropManifest(StepManifest):
    images: ImageSelector
    x_center: ZeroToOne | FloatZeroToOneSelector
    y_center: ZeroToOne | FloatZeroToOneSelector
    width: ZeroToOne | FloatZeroToOneSelector
    height: ZeroToOne | FloatZeroToOneSelector


class RelativeStaticCropV1(Block):
    """Like ``absolute_static_crop`` with the centre and size given as fractions of the image's
    width and height."""

    type = "roboflow_core/relative_statoic_crop@v1"
    aliases = ("RelativeStaticCrop",)
    manifest = RelativeStaticCropManifest
    outputs = (OutputDefinition("crops", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        width, height = image.lineage.size_wh

        def fraction(field: str) -> float:
            return inputs.as_float(field, low=0.0, high=1.0)

        center = (width * fraction("x_center"), height * fraction("y_center"))
        size = (width * fraction("width"), height * fraction("height"))
        return {"crops": static_crop(image, "relative_static_crop", center, size)}


# -- image slicer ---------------------------------------------------------------------------------


class ImageSlicerManifest(StepManifest):
    image: ImageSelector
    slice_width: PositiveInt | IntegerSelector = 640
    slice_height: PositiveInt | IntegerSelector = 640
    overlap_ratio_width: Overlap | FloatZeroToOneSelector = 0.2
    overlap_ratio_height: Overlap | FloatZeroToOneSelector = 0.2


# Tiles of one image (each a crop that later steps run on: a model, a visualization).
MAX_SLICES = 2048


def _strides(slice_wh: tuple[int, int], overlap_wh: tuple[float, float]) -> tuple[int, int]:
    return (
        max(1, slice_wh[0] - int(overlap_wh[0] * slice_wh[0])),
        max(1, slice_wh[1] - int(overlap_wh[1] * slice_wh[1])),
    )


def slice_count(
    resolution_wh: tuple[int, int],
    slice_wh: tuple[int, int],
    overlap_wh: tuple[float, float],
    *,
    keep_inside: bool,
) -> int:
    """How many tiles ``slice_offsets`` lays out (before v2 drops duplicates), without laying
    them out."""
    image_w, image_h = resolution_wh
    if keep_inside:
        slice_wh = (min(slice_wh[0], image_w), min(slice_wh[1], image_h))
    stride_w, stride_h = _strides(slice_wh, overlap_wh)
    return -(-image_w // stride_w) * -(-image_h // stride_h)


def slice_offsets(
    resolution_wh: tuple[int, int],
    slice_wh: tuple[int, int],
    overlap_wh: tuple[float, float],
    *,
    keep_inside: bool,
) -> npt.NDArray[np.int64]:
    """``(N, 4)`` xyxy tiles covering the image row by row. Tiles step by the slice size less its
    overlap; with ``keep_inside`` (v2) border tiles are pushed back inside the image so every tile
    has the full slice size (at most the image's) and duplicates are dropped."""
    image_w, image_h = resolution_wh
    slice_w, slice_h = slice_wh
    if keep_inside:
        slice_w, slice_h = min(slice_w, image_w), min(slice_h, image_h)
    stride_w, stride_h = _strides((slice_w, slice_h), overlap_wh)
    xs = np.arange(0, image_w, stride_w)
    ys = np.arange(0, image_h, stride_h)
    if keep_inside:
        xs = xs - np.clip(xs + slice_w - image_w, 0, slice_w)
        ys = ys - np.clip(ys + slice_h - image_h, 0, slice_h)
    x_min, y_min = np.meshgrid(xs, ys)
    x_max = np.clip(x_min + slice_w, 0, image_w)
    y_max = np.clip(y_min + slice_h, 0, image_h)
    tiles = np.stack([x_min, y_min, x_max, y_max], axis=-1).reshape(-1, 4).astype(np.int64)
    if not keep_inside:
        return tiles
    _unique, first = np.unique(tiles, axis=0, return_index=True)
    return tiles[np.sort(first)]


class _ImageSlicer(Block):
    """``slices``: overlapping tiles of ``image`` (one nested element per tile), e.g. to run a
    detector on each and stitch the results back together (SAHI)."""

    manifest = ImageSlicerManifest
    outputs = (OutputDefinition("slices", (k.IMAGE,)),)
    output_dimensionality_offset = 1
    keep_inside = False

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        slice_wh = (inputs.as_int("slice_width", low=1), inputs.as_int("slice_height", low=1))
        overlap_wh = (
            inputs.as_float("overlap_ratio_width", low=0.0, high=1.0),
            inputs.as_float("overlap_ratio_height", low=0.0, high=1.0),
        )
        count = slice_count(
            image.lineage.size_wh, slice_wh, overlap_wh, keep_inside=self.keep_inside
        )
        if count > MAX_SLICES:
            raise inputs.fail(
                "slice_width",
                f"{count} slices of {slice_wh[0]} x {slice_wh[1]} px, more than the {MAX_SLICES} "
                "one image may be cut into",
            )
        tiles = slice_offsets(
            image.lineage.size_wh, slice_wh, overlap_wh, keep_inside=self.keep_inside
        )
        slices: list[dict[str, object]] = []
        for x1, y1, x2, y2 in tiles.tolist():
            if x2 <= x1 or y2 <= y1:
                slices.append({"slices": None})
                continue
            slices.append({"slices": image.crop(f"image_slicer.{uuid.uuid4()}", (x1, y1, x2, y2))})
        return slices


class ImageSlicerV1(_ImageSlicer):
    type = "roboflow_core/image_slicer@v1"


class ImageSlicerV2(_ImageSlicer):
    """v2: every tile has the full slice size (border tiles move inwards), no duplicates."""

    type = "roboflow_core/image_slicer@v2"
    keep_inside = True


STATIC_CROP_BLOCKS: tuple[type[Block], ...] = (
    AbsoluteStaticCropV1,
    RelativeStaticCropV1,
    ImageSlicerV1,
    ImageSlicerV2,
)
