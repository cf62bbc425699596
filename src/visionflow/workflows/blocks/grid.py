"""``grid_visualization``: images tiled into one ``width`` x ``height`` image, in a square grid
of ``ceil(sqrt(n))`` columns and rows, each resized to fit its cell (keeping its aspect ratio)
and centred in it on black."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import IntegerSelector, Reference, StepManifest
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["GRID_BLOCKS", "GridVisualizationV1", "tile_grid"]

Pixels = npt.NDArray[np.uint8]
TileSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.IMAGE, k.LIST_OF_VALUES))
]


class GridVisualizationManifest(StepManifest):
    images: list[TileSelector] = Field(min_length=1)
    width: int | IntegerSelector = 2560
    height: int | IntegerSelector = 1440

    @field_validator("images", mode="before")
    @classmethod
    def _one_selector_is_a_list(cls, value: Any) -> Any:
        # Older definitions give one selector of a list of images (e.g. a buffer's output).
        return [value] if isinstance(value, str) else value


def _fit(pixels: Pixels, cell_wh: tuple[int, int]) -> Pixels:
    """``pixels`` resized (area interpolation) to the largest size within ``cell_wh`` of the
    same aspect ratio."""
    height, width = pixels.shape[:2]
    scale = min(cell_wh[0] / width, cell_wh[1] / height)
    size = (int(width * scale), int(height * scale))
    if size[0] < 1 or size[1] < 1:
        return np.zeros((0, 0, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def tile_grid(tiles: list[Pixels | None], size_wh: tuple[int, int]) -> Pixels:
    """``(H, W, 3) uint8``: ``tiles`` row by row in a square grid over ``size_wh`` (a ``None``
    tile leaves its cell black)."""
    width, height = size_wh
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    side = math.ceil(math.sqrt(len(tiles)))
    cell_w, cell_h = width // side, height // side
    for index, tile in enumerate(tiles):
        if tile is None or cell_w == 0 or cell_h == 0:
            continue
        fitted = _fit(tile, (cell_w, cell_h))
        tile_h, tile_w = fitted.shape[:2]
        row, col = divmod(index, side)
        x = max(col * cell_w + (cell_w - tile_w) // 2, 0)
        y = max(row * cell_h + (cell_h - tile_h) // 2, 0)
        x_end, y_end = min(x + tile_w, width), min(y + tile_h, height)
        canvas[y:y_end, x:x_end] = fitted[: y_end - y, : x_end - x]
    return canvas


class GridVisualizationV1(Block):
    """Tiles ``images`` (each an image, or a list of images such as a buffer's output, which is
    flattened) into one image; the output is the first image with the grid's pixels (a new
    black image when there are none)."""

    type = "roboflow_core/grid_visualization@v1"
    manifest = GridVisualizationManifest
    outputs = (OutputDefinition("image", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        size_wh = inputs.as_size_wh(
            "width",
            "height",
            max_pixels=context.budget.limits.max_image_pixels,
            setting=MAX_IMAGE_PIXELS_SETTING,
        )
        images: list[WorkflowImage | None] = []
        for item in inputs["images"] or []:
            for value in item if isinstance(item, list | tuple) else [item]:
                if value is not None and not isinstance(value, WorkflowImage):
                    raise inputs.fail("images", f"expected images, got {type(value).__name__}")
                images.append(value)
        if not images:
            blank = np.zeros((size_wh[1], size_wh[0], 3), dtype=np.uint8)
            return {"image": WorkflowImage.from_input(blank, f"grid.{uuid.uuid4()}")}
        grid = tile_grid([None if i is None else i.pixels_bgr for i in images], size_wh)
        first = next((i for i in images if i is not None), None)
        if first is None:
            return {"image": WorkflowImage.from_input(grid, f"grid.{uuid.uuid4()}")}
        return {"image": first.with_pixels(grid)}


GRID_BLOCKS: tuple[type[Block], ...] = (GridVisualizationV1,)
