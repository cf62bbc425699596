"""``grid_visualization``: images (and lists of images, e.g. a buffer's) tiled in a square grid,
each fitted into its cell keeping its aspect ratio; black where there is no image."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import canvas, run, step
from visionflow.workflows import WorkflowImage
from visionflow.workflows.blocks.grid import tile_grid
from visionflow.workflows.errors import InvalidInputTypeError

INPUTS = [{"type": "WorkflowImage", "name": n} for n in ("a", "b", "c")]
COLOURS = {"a": 50, "b": 100, "c": 150}


def _grid(images: Any, parameter: Any = None, **fields: Any) -> Any:
    """The grid of ``images`` (selectors of ``a``, ``b``, ``c`` or ``param``: ``parameter``)."""
    [result] = run(
        [step("grid_visualization@v1", "grid", images=images, **fields)],
        {"image": "$steps.grid.image"},
        {name: canvas(100, 100, value) for name, value in COLOURS.items()},
        {**{name: name for name in COLOURS}, "param": parameter},
        declared=[*INPUTS, {"type": "WorkflowParameter", "name": "param"}],
    )
    image = result["image"]
    assert isinstance(image, WorkflowImage)
    return image


def test_images_are_tiled_row_by_row() -> None:
    image = _grid(["$inputs.a", "$inputs.b", "$inputs.c"], width=200, height=200)
    pixels = image.pixels_bgr
    assert pixels.shape == (200, 200, 3)
    assert pixels[50, 50, 0] == 50
    assert pixels[50, 150, 0] == 100
    assert pixels[150, 50, 0] == 150
    assert not pixels[100:, 100:].any()  # no fourth image
    # The grid is the first image with new pixels.
    assert image.lineage.image_id == "a"


def test_one_image_fills_the_grid_keeping_its_aspect() -> None:
    pixels = _grid("$inputs.a", width=200, height=100).pixels_bgr
    # 100 x 100 into 200 x 100: 100 x 100 centred, black bands left and right.
    assert (pixels[:, 50:150] == 50).all()
    assert not pixels[:, :50].any()
    assert not pixels[:, 150:].any()


def test_a_buffer_of_images_is_flattened_into_the_grid() -> None:
    results = run(
        [
            step("buffer@v1", "buffer", data="$inputs.image", length=4, pad=True),
            step(
                "grid_visualization@v1",
                "grid",
                images=["$steps.buffer.output"],
                width=200,
                height=200,
            ),
        ],
        {"image": "$steps.grid.image"},
        {name: canvas(100, 100, value) for name, value in COLOURS.items()},
        {"image": ["a", "b", "c"]},
    )
    pixels = results[-1]["image"].pixels_bgr
    # Newest first: c, b, a, then a padding null (a black cell).
    assert [pixels[50, 50, 0], pixels[50, 150, 0], pixels[150, 50, 0]] == [150, 100, 50]
    assert not pixels[100:, 100:].any()


def test_no_images_give_a_black_image_of_the_size() -> None:
    image = _grid(["$inputs.param"], [], width=64, height=32)
    assert image.pixels_bgr.shape == (32, 64, 3)
    assert not image.pixels_bgr.any()


def test_tile_grid_with_no_room_for_a_cell_is_black() -> None:
    tiles: list[np.ndarray | None] = [canvas(10, 10, 9)] * 9
    assert not tile_grid(tiles, (2, 2)).any()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"width": 0}, "width", id="zero-width"),
        pytest.param(
            {"width": 100_000, "height": 100_000}, "VISIONFLOW_MAX_IMAGE_PIXELS", id="huge"
        ),
    ],
)
def test_bad_sizes_are_400s(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _grid(["$inputs.a"], **fields)


def test_values_other_than_images_are_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="expected images"):
        _grid(["$inputs.param"], [1, 2])
