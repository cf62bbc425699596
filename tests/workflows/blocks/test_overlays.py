"""``icon_visualization``, ``reference_path_visualization`` and
``model_comparison_visualization`` through the executor: where each draws and where it must
not, on hand-made images."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.errors import InvalidInputTypeError, WorkflowSyntaxError

RED_BGR = [0, 0, 255]
IMAGE_AND_ICON = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowImage", "name": "icon"},
]


def _icon(width: int = 10, height: int = 10) -> np.ndarray:
    icon = np.zeros((height, width, 3), dtype=np.uint8)
    icon[:, :] = RED_BGR
    return icon


def _stamp(
    answer: Any = None,
    icon: np.ndarray | None = None,
    image: np.ndarray | None = None,
    **fields: Any,
) -> np.ndarray:
    settings = {
        "icon_width": 10,
        "icon_height": 10,
        **({"predictions": "$steps.det.predictions"} if answer is not None else {}),
        **fields,
    }
    icon_step = step(
        "icon_visualization@v1", "viz", image="$inputs.image", icon="$inputs.icon", **settings
    )
    [result] = run(
        [*([model_step("det", "m/1")] if answer is not None else []), icon_step],
        {"image": "$steps.viz.image"},
        {"scene": canvas() if image is None else image, "icon": _icon() if icon is None else icon},
        {"image": "scene", "icon": "icon"},
        declared=IMAGE_AND_ICON,
        models=ScriptedModels({"m/1": answer}) if answer is not None else None,
    )
    return np.asarray(result["image"].pixels_bgr)


def _red(pixels: np.ndarray) -> np.ndarray:
    return np.all(pixels == RED_BGR, axis=2)


@pytest.mark.parametrize(
    ("x", "y", "rows", "cols"),
    [
        pytest.param(5, 5, (5, 15), (5, 15), id="from-top-left"),
        pytest.param(-5, -5, (85, 95), (185, 195), id="from-bottom-right"),
    ],
)
def test_static_icon_sits_at_its_position(
    x: int, y: int, rows: tuple[int, int], cols: tuple[int, int]
) -> None:
    pixels = _stamp(mode="static", x_position=x, y_position=y)
    expected = np.zeros(pixels.shape[:2], dtype=bool)
    expected[rows[0] : rows[1], cols[0] : cols[1]] = True
    assert (_red(pixels) == expected).all()


def test_static_icon_is_clipped_at_the_edge() -> None:
    pixels = _stamp(mode="static", x_position=195, y_position=0)
    assert _red(pixels).sum() == 5 * 10


def test_dynamic_icon_sits_at_each_detection() -> None:
    answer = lambda image: boxes([[60, 20, 140, 80], [0, 50, 20, 90]])  # noqa: E731
    pixels = _stamp(answer, mode="dynamic", position="TOP_CENTER")
    # Centred on (100, 20) and (10, 50).
    assert _red(pixels)[15:25, 95:105].all()
    assert _red(pixels)[45:55, 5:15].all()
    assert _red(pixels).sum() == 2 * 100


def test_dynamic_icon_anchors_are_whole_pixels() -> None:
    # Anchor (100.6, 20) is taken as (100, 20), as supervision does: an 11 px wide icon starts
    # at int(100 - 5.5) = 94 (not at int(100.6 - 5.5) = 95); the 10 x 10 icon letterboxed into
    # 11 x 10 leaves its last column see-through.
    answer = lambda image: boxes([[60, 20, 141.2, 80]])  # noqa: E731
    pixels = _stamp(answer, mode="dynamic", position="TOP_CENTER", icon_width=11)
    columns = np.nonzero(_red(pixels).any(axis=0))[0]
    assert (columns.min(), columns.max()) == (94, 103)


def test_the_icon_keeps_its_aspect_with_transparent_bands() -> None:
    pixels = _stamp(icon=_icon(20, 10), mode="static", x_position=0, y_position=0)
    # 20 x 10 into 10 x 10: 10 x 5 in rows 2-6; the bands above and below are see-through.
    assert _red(pixels)[2:7, 0:10].all()
    assert _red(pixels).sum() == 50


def test_no_detections_leave_the_image_as_it_is() -> None:
    pixels = _stamp(lambda image: boxes([]), image=canvas(value=9))
    assert (pixels == 9).all()


def test_dynamic_mode_needs_predictions() -> None:
    with pytest.raises(WorkflowSyntaxError, match="needs predictions"):
        _stamp()


def test_centre_of_mass_without_masks_is_a_400() -> None:
    answer = lambda image: boxes([[60, 20, 140, 80]])  # noqa: E731
    with pytest.raises(InvalidInputTypeError, match="masks"):
        _stamp(answer, position="CENTER_OF_MASS")


def _path(reference_path: Any, image: np.ndarray | None = None, **fields: Any) -> np.ndarray:
    [result] = run(
        [
            step(
                "reference_path_visualization@v1",
                "viz",
                image="$inputs.image",
                reference_path="$inputs.path",
                thickness=1,
                **fields,
            )
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas() if image is None else image},
        {"image": "image", "path": reference_path},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "path"},
        ],
    )
    return np.asarray(result["image"].pixels_bgr)


GREEN_5BB573_BGR = [0x73, 0xB5, 0x5B]


def test_reference_path_is_an_open_polyline() -> None:
    pixels = _path([[10, 10], [100, 90], [190, 10]])
    assert pixels[50, 55].tolist() == GREEN_5BB573_BGR  # on the first segment
    assert pixels[90, 100].tolist() == GREEN_5BB573_BGR
    assert not pixels[10, 100].any()  # no segment back from the last point to the first


def test_reference_path_ignores_values_past_x_and_y() -> None:
    pixels = _path([[10, 50, 7], [190, 50, 8]], color="#FF0000")
    assert pixels[50, 100].tolist() == RED_BGR


def test_empty_reference_path_draws_nothing() -> None:
    assert (_path([], image=canvas(value=3)) == 3).all()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param([1, 2, 3], "list of points", id="flat"),
        pytest.param([[1], [2]], "list of points", id="one-coordinate"),
        pytest.param([["a", "b"]], "list of points", id="text"),
        pytest.param([[0, 0], [10**9, 0]], "within", id="far"),
    ],
)
def test_bad_reference_paths_are_400s(value: Any, message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=f"reference_path.*{message}"):
        _path(value)


def _compare(a: Any, b: Any, image: np.ndarray | None = None, **fields: Any) -> np.ndarray:
    [result] = run(
        [
            model_step("a", "m/a"),
            model_step("b", "m/b"),
            step(
                "model_comparison_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions_a="$steps.a.predictions",
                predictions_b="$steps.b.predictions",
                **fields,
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas(value=100) if image is None else image},
        models=ScriptedModels({"m/a": lambda image: a, "m/b": lambda image: b}),
    )
    return np.asarray(result["image"].pixels_bgr)


def test_model_comparison_tints_what_one_model_alone_found() -> None:
    pixels = _compare(boxes([[0, 0, 100, 100]]), boxes([[50, 0, 150, 100]]), opacity=1.0)
    assert pixels[50, 25].tolist() == [0, 255, 0]  # A only: green
    assert pixels[50, 75].tolist() == [100, 100, 100]  # both: as it was
    assert pixels[50, 125].tolist() == [0, 0, 255]  # B only: red
    assert pixels[50, 175].tolist() == [0, 0, 0]  # neither: black


def test_model_comparison_blends_at_opacity() -> None:
    pixels = _compare(boxes([[0, 0, 100, 100]]), boxes([]), opacity=0.5, background_color="#FFFFFF")
    assert pixels[50, 25].tolist() == [50, 178, 50]
    assert pixels[50, 150].tolist() == [178, 178, 178]


def test_model_comparison_uses_masks_where_there_are_any() -> None:
    a = boxes([[0, 0, 100, 100]])
    mask = np.zeros((100, 200), dtype=bool)
    mask[:, :10] = True
    a.mask = mask[None]
    pixels = _compare(a, boxes([]), opacity=1.0)
    assert pixels[50, 5].tolist() == [0, 255, 0]
    assert pixels[50, 50].tolist() == [0, 0, 0]  # in A's box but outside its mask


def test_model_comparison_without_detections_tints_everything_as_background() -> None:
    pixels = _compare(boxes([]), boxes([]))
    assert (pixels == 30).all()  # 100 * (1 - 0.7) toward black


def test_model_comparison_masks_of_another_image_are_a_400() -> None:
    a = boxes([[0, 0, 10, 10]])
    a.mask = np.ones((1, 50, 50), dtype=bool)
    with pytest.raises(InvalidInputTypeError, match=r"predictions_a.*50 x 50 px on an image"):
        _compare(a, boxes([]))


def test_model_comparison_bad_colour_is_a_400() -> None:
    with pytest.raises(InvalidInputTypeError, match="color_a"):
        _compare(boxes([]), boxes([]), color_a="not-a-colour")
