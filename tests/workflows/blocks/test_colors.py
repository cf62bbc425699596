"""Colours and palettes as visualization blocks spell them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import supervision as sv

from visionflow.workflows.blocks.colors import parse_color, parse_palette


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        pytest.param("#FF8000", (255, 128, 0), id="hex"),
        pytest.param("rgb(1, 2, 3)", (1, 2, 3), id="rgb"),
        pytest.param("bgr(1, 2, 3)", (3, 2, 1), id="bgr"),
        pytest.param("WHITE", (255, 255, 255), id="name"),
        pytest.param("black", (0, 0, 0), id="name-any-case"),
        pytest.param((10, 20, 30), (10, 20, 30), id="triple"),
    ],
)
def test_parse_color(text: str | Sequence[int], rgb: tuple[int, int, int]) -> None:
    assert parse_color(text).as_rgb() == rgb


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "unknown colour ''", id="empty"),
        pytest.param("#12", "Invalid length", id="short-hex"),
        pytest.param("rgb(1, 2)", "expected three components", id="two-components"),
        pytest.param("chartreuse-ish", "unknown colour", id="unknown-name"),
    ],
)
def test_parse_color_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_color(text)


def test_palettes() -> None:
    assert parse_palette("DEFAULT", 10, []).colors == sv.ColorPalette.DEFAULT.colors
    custom = parse_palette("CUSTOM", 10, ["#000000", "WHITE"])
    assert [c.as_rgb() for c in custom.colors] == [(0, 0, 0), (255, 255, 255)]
    assert len(parse_palette("Matplotlib Viridis", 4, []).colors) == 4
    with pytest.raises(ValueError, match="needs custom_colors"):
        parse_palette("CUSTOM", 10, [])
    with pytest.raises(ValueError, match="unknown color_palette"):
        parse_palette("NEON", 10, [])


@pytest.mark.parametrize("name", ["DEFAULT", "ROBOFLOW", "Matplotlib Viridis", "CUSTOM"])
def test_negative_ids_are_grey_in_every_palette(name: str) -> None:
    palette = parse_palette(name, 5, ["#ff0000", "#00ff00"])
    assert palette.by_idx(-1) == sv.Color.GREY
    assert palette.by_idx(0) != sv.Color.GREY
    assert palette.by_idx(len(palette.colors)) == palette.by_idx(0)  # wraps as before


def test_an_unmatched_vlm_label_is_boxed_in_grey() -> None:
    detections = sv.Detections(
        xyxy=np.array([[10, 10, 50, 50]], dtype=np.float32), class_id=np.array([-1])
    )
    canvas = np.zeros((60, 60, 3), np.uint8)
    annotator = sv.BoxAnnotator(color=parse_palette("DEFAULT", 5, []), thickness=2)
    drawn = annotator.annotate(canvas.copy(), detections)
    assert tuple(int(v) for v in drawn[10, 30]) == sv.Color.GREY.as_bgr()
