"""``text_display`` (a templated text box placed on the image) and ``rich_label_visualization``
(detection labels in a TrueType font) through the executor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.fonts import font_path
from visionflow.workflows.blocks.captions import format_text
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.limits import RunBudget

DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "n"},
]


def _display(
    text: str, image: np.ndarray | None = None, n: Any = 3, answer: Any = None, **fields: Any
) -> np.ndarray:
    steps = [
        *([model_step("det", "m/1")] if answer is not None else []),
        step("text_display@v1", "viz", image="$inputs.image", text=text, **fields),
    ]
    [result] = run(
        steps,
        {"image": "$steps.viz.image"},
        {"image": canvas(200, 100, 255) if image is None else image},
        {"image": "image", "n": n},
        declared=DECLARED,
        models=ScriptedModels({"m/1": answer}) if answer is not None else None,
    )
    return np.asarray(result["image"].pixels_bgr)


def _box_of(pixels: np.ndarray, value: int = 255) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` (inclusive) of the pixels that are not ``value``."""
    ys, xs = np.nonzero((pixels != value).any(axis=2))
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def test_text_box_at_the_top_left_offset() -> None:
    pixels = _display("Hi")
    x1, y1, x2, y2 = _box_of(pixels)
    assert (x1, y1) == (10, 10)
    assert (pixels[y1, x1] == 0).all()  # the black background
    assert (pixels[y1 : y2 + 1, x1 : x2 + 1] == 255).any()  # the white text on it
    assert x2 - x1 > 20  # the padding on both sides and the text


def test_parameters_fill_their_placeholders() -> None:
    templated = _display("Count: {{ $parameters.n }}", text_parameters={"n": "$inputs.n"})
    assert (templated == _display("Count: 3")).all()


def test_parameter_operations_apply_before_formatting() -> None:
    templated = _display(
        "{{ $parameters.found }} found",
        answer=lambda image: boxes([[1, 1, 5, 5], [10, 10, 20, 20]]),
        text_parameters={"found": "$steps.det.predictions"},
        text_parameters_operations={"found": [{"type": "SequenceLength"}]},
    )
    assert (templated == _display("2 found")).all()


@pytest.mark.parametrize(
    ("text", "parameters", "expected"),
    [
        pytest.param("a {{ $parameters.x }}b", {"x": 1}, "a 1b", id="filled"),
        pytest.param("{{$parameters.x}}{{$parameters.x}}", {"x": 1.5}, "1.51.5", id="twice"),
        pytest.param("{{ $parameters.y }}", {"x": 1}, "{{ $parameters.y }}", id="unknown-kept"),
        pytest.param("", {}, "", id="empty"),
    ],
)
def test_format_text(text: str, parameters: dict[str, Any], expected: str) -> None:
    assert format_text(text, parameters, {}, RunBudget()) == expected


def test_failing_operations_are_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="text_parameters_operations"):
        _display(
            "{{ $parameters.n }}",
            n="abc",
            text_parameters={"n": "$inputs.n"},
            text_parameters_operations={
                "n": [{"type": "SequenceLength"}, {"type": "SequenceLength"}]
            },
        )


def test_transparent_background_draws_only_the_text() -> None:
    pixels = _display("Hi", image=canvas(200, 100, 100), background_color="transparent")
    changed = (pixels != 100).any(axis=2)
    assert changed.any()
    assert (pixels[changed] > 100).all()  # white text only, no black box


def test_background_opacity_blends_the_box() -> None:
    pixels = _display("Hi", image=canvas(200, 100, 200), background_opacity=0.5)
    assert pixels[11, 11].tolist() == [100, 100, 100]


def test_anchor_bottom_right_and_clamping() -> None:
    pixels = _display("Hi", anchor="bottom_right", offset_x=50, offset_y=50)
    # Pushed past the corner, the box is moved back inside the image.
    assert _box_of(pixels)[2:] == (199, 99)
    absolute = _display("Hi", position_mode="absolute", position_x=-40, position_y=5)
    assert _box_of(absolute)[:2] == (0, 5)


def test_alignment_shifts_shorter_lines() -> None:
    def first_line_x(align: str) -> int:
        pixels = _display(
            "a\nlong line", image=canvas(), background_color="transparent", text_align=align
        )
        return _box_of(pixels[15:50], 0)[0]  # the rows of the first line only

    assert 20 <= first_line_x("left") <= 22  # the box at 10, its padding 10 (and the bearing)
    assert first_line_x("center") > 30
    assert first_line_x("right") > first_line_x("center")


def test_rounded_corners_leave_the_corner_pixel() -> None:
    square = _display("Hi", border_radius=0)
    rounded = _display("Hi", border_radius=8)
    assert square[10, 10].tolist() == [0, 0, 0]
    assert rounded[10, 10].tolist() == [255, 255, 255]


def test_too_many_lines_are_a_400() -> None:
    assert _display("a\n" * 9_999 + "b").shape == (100, 200, 3)  # 10 000 lines
    with pytest.raises(InvalidInputTypeError, match="10001 lines"):
        _display("{{ $parameters.n }}", n="\n" * 10_000, text_parameters={"n": "$inputs.n"})


def test_unpaired_surrogates_are_a_400_not_a_crash() -> None:
    # (The HTTP layer refuses them in request bodies; a workflow file read by the CLI may not.)
    assert _display("héllo ✓").shape == (100, 200, 3)
    with pytest.raises(InvalidInputTypeError, match="surrogate"):
        _display("a\ud800b")


def test_empty_text_draws_an_empty_box() -> None:
    pixels = _display("")
    x1, y1, x2, y2 = _box_of(pixels)
    assert (x1, y1, x2) == (10, 10, 29)  # padding only: 2 x 10 px wide
    assert (pixels[y1 : y2 + 1, x1 : x2 + 1] == 0).all()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"font_scale": 20.0}, "font_scale", id="scale"),
        pytest.param({"font_thickness": 0}, "font_thickness", id="thickness"),
        pytest.param({"text_color": "nope"}, "text_color", id="colour"),
        pytest.param({"anchor": "$inputs.n"}, "anchor", id="anchor"),
    ],
)
def test_bad_settings_are_400s(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=field):
        _display("Hi", n="middle", **fields)


# The DEFAULT palette's first colour (class 0), in BGR.
PURPLE = list(sv.ColorPalette.DEFAULT.colors[0].as_bgr())


def _label(
    answer: Any = None, image: np.ndarray | None = None, text: str = "Class", **fields: Any
) -> np.ndarray:
    """The labels drawn; ``text`` comes through an input (any data key may be named)."""
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "rich_label_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.det.predictions",
                text="$inputs.text",
                **fields,
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas(300, 200) if image is None else image},
        {"image": "image", "text": text},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "text"},
        ],
        models=ScriptedModels({"m/1": answer or (lambda image: boxes([[100, 80, 200, 160]]))}),
    )
    return np.asarray(result["image"].pixels_bgr)


def test_rich_label_sits_above_the_box_in_the_palette_colour() -> None:
    pixels = _label()
    x1, y1, x2, y2 = _box_of(pixels, 0)
    assert x1 == 100
    assert y1 < 70
    assert y2 <= 80  # TOP_LEFT: the label ends where the box starts
    assert pixels[y1 + 1, x1 + 1].tolist() == PURPLE
    assert (pixels[y1:y2, x1:x2] == 255).all(axis=2).any()  # white text


def test_rich_label_font_identifiers_are_accepted() -> None:
    assert (_label(font_family="geist_mono") == _label(font_family="Geist Mono")).all()


@pytest.mark.skipif(font_path("Inter") is None, reason="needs fonts-dejavu-core")
def test_rich_label_monospaced_and_proportional_families_differ() -> None:
    assert (_label(font_family="Inter") != _label(font_family="Geist Mono")).any()
    assert (_label(font_family="Inter") == _label(font_family="Roboto")).all()


def test_rich_label_font_size_and_wrapping_grow_the_label() -> None:
    small = _box_of(_label(font_size=10), 0)
    large = _box_of(_label(font_size=28), 0)
    assert large[3] - large[1] > small[3] - small[1]
    one_line = _box_of(_label(text="Dimensions"), 0)  # "150, 120 100x80"
    wrapped = _box_of(_label(text="Dimensions", max_line_length=4), 0)
    assert wrapped[3] - wrapped[1] > one_line[3] - one_line[1]
    assert wrapped[2] - wrapped[0] < one_line[2] - one_line[0]


def test_rich_label_automatic_size_follows_the_image() -> None:
    # 14 pt at a 1080 px short side: a 200 px short side draws at the 8 pt floor, like 8 pt.
    automatic = _label(text_size_mode="Automatic", font_size=14)
    assert (automatic == _label(font_size=8)).all()


def test_rich_label_without_detections_leaves_the_image() -> None:
    pixels = _label(answer=lambda image: boxes([]), image=canvas(300, 200, 5))
    assert (pixels == 5).all()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"text_position": "CENTER_OF_MASS"}, "masks", id="centre-of-mass"),
        pytest.param({"text": "no_such_key"}, "per-detection value", id="text"),
        pytest.param({"font_size": 5000}, "font_size", id="size"),
    ],
)
def test_rich_label_bad_inputs_are_400s(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _label(**fields)
