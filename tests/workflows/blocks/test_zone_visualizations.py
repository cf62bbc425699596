"""``polygon_zone_visualization`` and ``line_counter_visualization`` on a 200 x 100 image: the zone
is added at ``opacity`` where it lies and nowhere else; bad zones are 400s naming the field."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import canvas, run, step
from visionflow.core.visualization import MAX_COORDINATE_PX, MAX_ZONES
from visionflow.workflows import WorkflowImage
from visionflow.workflows.errors import InvalidInputTypeError

GRAY = 100
LEFT_SQUARE = [[10, 10], [60, 10], [60, 60], [10, 60]]
RIGHT_TRIANGLE = [[120, 10], [190, 10], [190, 90]]


def _draw(block: str, **fields: Any) -> np.ndarray:
    [result] = run(
        [step(block, "viz", image="$inputs.image", **fields)],
        {"image": "$steps.viz.image"},
        {"image": canvas(value=GRAY)},
    )
    drawn = result["image"]
    assert isinstance(drawn, WorkflowImage)
    assert drawn.lineage.image_id == "image"
    return drawn.pixels_bgr


@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        pytest.param(LEFT_SQUARE, [(35, 35)], [(30, 150), (5, 5)], id="one-polygon"),
        pytest.param(
            [LEFT_SQUARE, RIGHT_TRIANGLE], [(35, 35), (30, 185)], [(80, 130), (5, 5)], id="two"
        ),
        pytest.param([], [], [(35, 35), (30, 185)], id="empty"),
    ],
)
def test_polygon_zone_adds_its_colour_inside_the_zones(
    zone: list[Any], inside: list[tuple[int, int]], outside: list[tuple[int, int]]
) -> None:
    pixels = _draw("polygon_zone_visualization@v1", zone=zone, color="#FF0000", opacity=0.5)
    for y, x in inside:
        # image + 0.5 * (B, G, R) = (0, 0, 255): red rises by 128, the rest is unchanged.
        assert pixels[y, x].tolist() == [GRAY, GRAY, GRAY + 128]
    for y, x in outside:
        assert pixels[y, x].tolist() == [GRAY, GRAY, GRAY]


def test_polygon_zone_default_colour_and_opacity() -> None:
    pixels = _draw("polygon_zone_visualization@v1", zone=LEFT_SQUARE)
    # #5bb573 at 0.3 on gray 100: B 100 + 0.3 * 0x73, G 100 + 0.3 * 0xb5, R 100 + 0.3 * 0x5b.
    assert pixels[35, 35].tolist() == pytest.approx([134.5, 154.3, 127.3], abs=0.6)


def test_line_counter_draws_the_line_and_the_counts() -> None:
    pixels = _draw(
        "line_counter_visualization@v1",
        zone=[[20, 80], [180, 80]],
        color="#0000FF",
        opacity=1.0,
        thickness=3,
        count_in=3,
        count_out=12,
    )
    assert pixels[80, 150].tolist() == [GRAY + 155, GRAY, GRAY]  # saturated at 255
    assert pixels[50, 150].tolist() == [GRAY, GRAY, GRAY]
    # The counts are written on white with black text, just above the line's first point.
    text = pixels[55:80, 20:100]
    assert (text == 255).all(axis=2).any()
    assert (text == 0).all(axis=2).any()


@pytest.mark.parametrize(
    ("block", "zone", "message"),
    [
        pytest.param("polygon_zone_visualization@v1", [[0, 0], [5, 5]], "at least 3", id="two"),
        pytest.param("polygon_zone_visualization@v1", [["a", 1]] * 3, "at least 3", id="text"),
        pytest.param("line_counter_visualization@v1", [[0, 0]], "exactly two", id="one-point"),
        pytest.param("line_counter_visualization@v1", [], "exactly two", id="line-empty"),
    ],
)
def test_bad_zones_are_400s(block: str, zone: list[Any], message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=f"field 'zone'.*{message}"):
        _draw(block, zone=zone)


FAR = [[0, 0], [-(2**31), 0], [0, -(2**31)]]


@pytest.mark.parametrize(
    ("block", "zone", "message"),
    [
        pytest.param(
            "polygon_zone_visualization@v1",
            FAR,
            f"points must lie within [-{MAX_COORDINATE_PX}, {MAX_COORDINATE_PX}] px",
            id="far-polygon",
        ),
        pytest.param(
            "polygon_zone_visualization@v1",
            [LEFT_SQUARE, [[0, 0], [1e12, 0], [0, 1e12]]],
            "points must lie within",
            id="one-far-polygon-of-two",
        ),
        pytest.param(
            "polygon_zone_visualization@v1",
            [LEFT_SQUARE] * (MAX_ZONES + 1),
            f"{MAX_ZONES + 1} polygons, more than the {MAX_ZONES} a step draws",
            id="too-many-polygons",
        ),
        pytest.param(
            "line_counter_visualization@v1",
            [[0, 0], [MAX_COORDINATE_PX + 1, 5]],
            "points must lie within",
            id="far-line",
        ),
    ],
)
def test_far_or_too_many_zones_are_a_400_at_once(block: str, zone: Any, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInputTypeError) as raised:
        _draw(block, zone=zone)
    assert time.monotonic() - started < 1.0
    assert "field 'zone'" in raised.value.message
    assert message in raised.value.message


def test_zones_at_the_bounds_are_drawn() -> None:
    edge = [[10, 10], [MAX_COORDINATE_PX, 10], [10, MAX_COORDINATE_PX]]
    pixels = _draw("polygon_zone_visualization@v1", zone=edge, color="#FF0000", opacity=0.5)
    assert pixels[50, 50].tolist() == [GRAY, GRAY, GRAY + 128]
