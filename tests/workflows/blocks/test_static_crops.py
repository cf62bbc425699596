"""Static crops and the image slicer through the executor: crop pixels, lineage and coordinates of
results on crops mapped back to the input."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import WorkflowImage
from visionflow.workflows.blocks.static_crops import MAX_SLICES, slice_count, slice_offsets
from visionflow.workflows.errors import InvalidInputTypeError


def _decode_size(value: str) -> tuple[int, int]:
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(value), np.uint8), 1)
    return int(decoded.shape[1]), int(decoded.shape[0])


def _gradient(width: int = 200, height: int = 100) -> np.ndarray:
    image = canvas(width, height)
    image[:, :, 0] = np.arange(width, dtype=np.uint8)[None, :]
    image[:, :, 1] = np.arange(height, dtype=np.uint8)[:, None]
    return image


def test_absolute_static_crop_cuts_the_region_and_maps_detections_back() -> None:
    models = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 10, 10]])})
    [result] = run(
        [
            step(
                "absolute_static_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=50,
                y_center=40,
                width=40,
                height=20,
            ),
            model_step("det", "m/1", images="$steps.crop.crops"),
        ],
        {"crop": "$steps.crop.crops", "det": "$steps.det.predictions"},
        {"image": _gradient()},
        models=models,
    )
    crop = result["crop"]
    assert isinstance(crop, WorkflowImage)
    assert crop.pixels_bgr.shape == (20, 40, 3)
    # Top-left pixel of the crop is pixel (30, 30) of the input.
    assert crop.pixels_bgr[0, 0, :2].tolist() == [30, 30]
    assert crop.lineage.root_offset_xy == (30, 30)
    assert result["det"].xyxy.tolist() == [[30, 30, 40, 40]]


def test_absolute_static_crop_outside_the_image_is_null() -> None:
    [result] = run(
        [
            step(
                "absolute_static_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=500,
                y_center=500,
                width=10,
                height=10,
            )
        ],
        {"crop": "$steps.crop.crops"},
        {"image": _gradient()},
    )
    assert result["crop"] is None


def test_relative_static_crop_uses_fractions_of_the_image() -> None:
    [result] = run(
        [
            step(
                "relative_statoic_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=0.5,
                y_center=0.5,
                width=0.5,
                height=0.2,
            )
        ],
        {"crop": "$steps.crop.crops"},
        {"image": _gradient()},
        serialize=True,
    )
    crop = result["crop"]
    assert crop["parent_origin"] == {"offset_x": 50, "offset_y": 40, "width": 200, "height": 100}
    assert crop["parent_id"].startswith("relative_static_crop.")
    assert _decode_size(crop["value"]) == (100, 20)


@pytest.mark.parametrize(
    ("keep_inside", "expected"),
    [
        (False, [[0, 0, 80, 60], [64, 0, 100, 60]]),
        (True, [[0, 0, 80, 60], [20, 0, 100, 60]]),
    ],
)
def test_slice_offsets(keep_inside: bool, expected: list[list[int]]) -> None:
    tiles = slice_offsets((100, 60), (80, 80), (0.2, 0.2), keep_inside=keep_inside)
    assert tiles.tolist() == expected


def test_image_slicer_nests_results_and_they_map_back_to_the_input() -> None:
    models = ScriptedModels({"m/1": lambda image: boxes([[1, 2, 11, 12]])})
    [result] = run(
        [
            step(
                "image_slicer@v2",
                "slicer",
                image="$inputs.image",
                slice_width=120,
                slice_height=100,
                overlap_ratio_width=0.0,
                overlap_ratio_height=0.0,
            ),
            model_step("det", "m/1", images="$steps.slicer.slices"),
        ],
        {"slices": "$steps.slicer.slices", "det": "$steps.det.predictions"},
        {"image": _gradient()},
        models=models,
    )
    assert [s.lineage.root_offset_xy for s in result["slices"]] == [(0, 0), (80, 0)]
    assert [s.pixels_bgr.shape for s in result["slices"]] == [(100, 120, 3)] * 2
    assert [d.xyxy.tolist() for d in result["det"]] == [[[1, 2, 11, 12]], [[81, 2, 91, 12]]]


@pytest.mark.parametrize(
    ("block", "fields", "count"),
    [
        pytest.param("image_slicer@v1", {"slice_width": 1, "slice_height": 1}, 80_000, id="1-px"),
        pytest.param(
            "image_slicer@v2",
            {"slice_width": 10, "slice_height": 10, "overlap_ratio_width": 0.9},
            400 * 25,  # strides of 1 x 8 px
            id="overlapping",
        ),
    ],
)
def test_too_many_slices_are_a_400(block: str, fields: dict[str, object], count: int) -> None:
    with pytest.raises(InvalidInputTypeError) as raised:
        run(
            [step(block, "s", image="$inputs.image", **fields)],
            {"slices": "$steps.s.slices"},
            {"image": canvas(400, 200)},
        )
    assert raised.value.message.endswith(
        f"field 'slice_width': {count} slices of {fields['slice_width']} x "
        f"{fields['slice_height']} px, more than the {MAX_SLICES} one image may be cut into"
    )


@pytest.mark.parametrize(
    ("size_wh", "slice_wh", "overlap_wh"),
    [
        pytest.param((200, 100), (64, 64), (0.2, 0.2), id="overlap"),
        pytest.param((200, 100), (640, 640), (0.2, 0.2), id="larger-than-the-image"),
        pytest.param((200, 100), (1, 1), (0.0, 0.0), id="1-px"),
        pytest.param((201, 99), (50, 33), (0.5, 0.0), id="uneven"),
    ],
)
def test_slice_count_bounds_the_tiles(
    size_wh: tuple[int, int], slice_wh: tuple[int, int], overlap_wh: tuple[float, float]
) -> None:
    for keep_inside in (False, True):
        tiles = slice_offsets(size_wh, slice_wh, overlap_wh, keep_inside=keep_inside)
        count = slice_count(size_wh, slice_wh, overlap_wh, keep_inside=keep_inside)
        # Exact without keep_inside; v2 drops the duplicates of tiles pushed back inside.
        assert len(tiles) == count if not keep_inside else len(tiles) <= count
