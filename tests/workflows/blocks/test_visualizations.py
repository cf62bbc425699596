"""Every visualization block through the executor with supervision's real annotators: where the
drawing lands (and where it must not), on a black 200 x 100 image with one detection at
(60, 20)-(140, 80) whose mask is the disc of radius 20 around its centre (100, 50)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from visionflow.core.detections import (
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    POLYGON,
)
from visionflow.core.masks import mask_to_polygon
from visionflow.core.visualization import (
    MAX_ANGLE_DEG,
    MAX_DRAWING_PX,
    MAX_PALETTE_COLORS,
    MAX_TEXT_SCALE,
    MAX_ZOOM,
)
from visionflow.workflows import WorkflowImage
from visionflow.workflows.errors import InvalidInputTypeError

# The DEFAULT palette's first colour (class 0), in BGR.
PURPLE = list(sv.ColorPalette.DEFAULT.colors[0].as_bgr())
BOX = (60, 20, 140, 80)


def _detection(image: np.ndarray) -> sv.Detections:
    detections = boxes([BOX])
    yy, xx = np.mgrid[:100, :200]
    mask = (xx - 100) ** 2 + (yy - 50) ** 2 <= 20**2
    detections.mask = mask[None]
    polygon = np.empty(1, dtype=object)
    polygon[0] = mask_to_polygon(mask)
    detections.data[POLYGON] = polygon
    detections.data[KEYPOINTS_XY] = np.array([[[70, 30], [130, 70], [0, 0]]], dtype=np.float32)
    detections.data[KEYPOINTS_CONFIDENCE] = np.array([[0.9, 0.8, 0.0]], dtype=np.float32)
    detections.data[KEYPOINTS_CLASS_NAME] = np.array([["a", "b", "c"]], dtype=object)
    return detections


def _draw(
    block: str, image: np.ndarray | None = None, model: str = "instance_segmentation", **fields: Any
) -> np.ndarray:
    [result] = run(
        [
            step(
                f"roboflow_{model}_model@v2",
                "seg",
                images="$inputs.image",
                model_id="m/1",
            ),
            step(
                block, "viz", image="$inputs.image", predictions="$steps.seg.predictions", **fields
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas() if image is None else image},
        models=ScriptedModels({"m/1": _detection}),
    )
    drawn = result["image"]
    assert isinstance(drawn, WorkflowImage)
    assert drawn.lineage.image_id == "image"
    return drawn.pixels_bgr


def _changed(pixels: np.ndarray) -> np.ndarray:
    return pixels.any(axis=2)


def test_mask_fills_the_mask_only() -> None:
    pixels = _draw("mask_visualization@v1", opacity=1.0)
    assert pixels[50, 100].tolist() == PURPLE
    assert not _changed(pixels)[25, 65]  # inside the box, outside the disc


def test_polygon_outlines_the_mask() -> None:
    pixels = _draw("polygon_visualization@v2", thickness=1)
    assert _changed(pixels)[50, 80] or _changed(pixels)[50, 81]
    assert not _changed(pixels)[50, 100]


def test_halo_glows_around_the_mask_not_inside() -> None:
    pixels = _draw("halo_visualization@v1", kernel_size=10)
    assert _changed(pixels)[50, 78]
    assert not _changed(pixels)[50, 100]


@pytest.mark.parametrize(
    ("block", "fields", "inside", "outside"),
    [
        ("dot_visualization@v1", {"radius": 3}, (50, 100), (50, 110)),
        ("dot_visualization@v1", {"position": "TOP_LEFT", "radius": 3}, (20, 60), (50, 100)),
        ("circle_visualization@v1", {}, (50, 50), (50, 100)),
        ("ellipse_visualization@v1", {}, (80, 20), (50, 100)),
        ("triangle_visualization@v1", {}, (17, 100), (50, 100)),
        ("corner_visualization@v1", {}, (21, 61), (20, 100)),
        ("color_visualization@v1", {"opacity": 1.0}, (25, 65), (10, 10)),
    ],
)
def test_shape_annotators_draw_where_the_detection_is(
    block: str, fields: dict[str, Any], inside: tuple[int, int], outside: tuple[int, int]
) -> None:
    pixels = _draw(block, **fields)
    assert pixels[inside].tolist() == PURPLE
    assert not _changed(pixels)[outside]


def test_custom_palette_colours_by_class() -> None:
    pixels = _draw(
        "dot_visualization@v1", color_palette="CUSTOM", custom_colors=["#00FF00"], radius=3
    )
    assert pixels[50, 100].tolist() == [0, 255, 0]


def test_crop_visualization_draws_a_zoomed_copy_above_the_box() -> None:
    image = canvas()
    image[45:55, 95:105] = 200
    pixels = _draw("crop_visualization@v1", image=image, scale_factor=0.5, border_thickness=0)
    # The 80 x 60 box shrunk to 40 x 30, its bottom centre at the box's top centre (100, 20).
    assert (pixels[0:20, 80:120] == 200).any()
    assert not _changed(pixels)[5, 10]


def test_blur_and_pixelate_change_only_the_box() -> None:
    image = canvas()
    image[::2, ::2] = 255  # a fine pattern that blurring averages out
    for block, fields in (
        ("blur_visualization@v1", {"kernel_size": 9}),
        ("pixelate_visualization@v1", {"pixel_size": 10}),
    ):
        pixels = _draw(block, image=image, **fields)
        assert not np.array_equal(pixels[30:70, 70:130], image[30:70, 70:130]), block
        assert np.array_equal(pixels[:, :50], image[:, :50]), block
    padded = _draw("blur_visualization@v1", image=image, kernel_size=9, padding=10)
    assert not np.array_equal(padded[:, 50:60], image[:, 50:60])


def test_background_color_dims_outside_the_detection() -> None:
    pixels = _draw("background_color_visualization@v1", image=canvas(value=200), color="WHITE")
    assert pixels[5, 5].tolist() == [228, 228, 228]  # (200 + 255) / 2, rounded
    assert pixels[50, 100].tolist() == [200, 200, 200]


def test_keypoints_as_vertices_edges_and_labels() -> None:
    def keypoints(**fields: Any) -> np.ndarray:
        return _draw("keypoint_visualization@v1", model="keypoint_detection", **fields)

    vertices = keypoints(annotator_type="vertex", radius=3, color="#FF0000")
    assert vertices[30, 70].tolist() == [0, 0, 255]
    assert not _changed(vertices)[0, 0]  # the score-0 keypoint is not drawn
    edges = keypoints(edges=[[1, 2]], thickness=1, color="#FF0000")  # 1-based, as supervision
    assert edges[50, 100].tolist() == [0, 0, 255]  # midway along the edge
    labels = keypoints(annotator_type="vertex_label")
    assert _changed(labels)[30, 70]


def test_classification_label_writes_the_top_class() -> None:
    [result] = run(
        [
            step(
                "roboflow_classification_model@v2",
                "cls",
                images="$inputs.image",
                model_id="c/1",
            ),
            step(
                "classification_label_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.cls.predictions",
                text="Class and Confidence",
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas()},
        models=_Classifier(),
    )
    pixels = result["image"].pixels_bgr
    rows, columns = np.nonzero(_changed(pixels))
    # One label at the top left, ending one line-height (20 + 2 * 10 + 2 + 5 px) down.
    assert columns.min() == 0
    assert rows.max() == pytest.approx(47, abs=2)


class _Classifier:
    def infer(self, model_id: str, task: str, images: Any, params: Any) -> list[Any]:
        from visionflow.core.results import ClassificationResult

        return [ClassificationResult(("cat", "dog"), np.array([0.2, 0.8])) for _ in images]


# -- drawing parameters out of range --------------------------------------------------------------

PX = f"within [1, {MAX_DRAWING_PX}]"
PX0 = f"within [0, {MAX_DRAWING_PX}]"


@pytest.mark.parametrize(
    ("block", "fields", "expected"),
    [
        pytest.param("bounding_box_visualization@v1", {"thickness": 100_000}, PX, id="box"),
        pytest.param("bounding_box_visualization@v1", {"thickness": 0}, PX, id="box-zero"),
        pytest.param("polygon_visualization@v1", {"thickness": 10**12}, PX, id="polygon"),
        pytest.param("halo_visualization@v1", {"kernel_size": 10**6}, PX, id="halo-kernel"),
        pytest.param("dot_visualization@v1", {"radius": -1}, PX, id="dot-negative"),
        pytest.param("dot_visualization@v1", {"outline_thickness": 40_000}, PX0, id="outline"),
        pytest.param("circle_visualization@v1", {"thickness": 32_768}, PX, id="circle"),
        pytest.param(
            "ellipse_visualization@v1",
            {"start_angle": 10**12},
            f"within [-{MAX_ANGLE_DEG}, {MAX_ANGLE_DEG}]",
            id="ellipse-angle",
        ),
        pytest.param("triangle_visualization@v1", {"base": 10**12}, PX, id="triangle"),
        pytest.param("corner_visualization@v1", {"corner_length": 10**12}, PX, id="corner"),
        pytest.param(
            "crop_visualization@v1",
            {"scale_factor": 100_000.0},
            f"within [0.0, {MAX_ZOOM}]",
            id="crop-zoom",
        ),
        pytest.param("crop_visualization@v1", {"scale_factor": 0.0}, "> 0", id="crop-zero"),
        pytest.param(
            "label_visualization@v1",
            {"text_scale": 1e9},
            f"within [0.0, {MAX_TEXT_SCALE}]",
            id="label-scale",
        ),
        pytest.param("label_visualization@v2", {"text_padding": 10**9}, PX0, id="label-padding"),
        pytest.param("label_visualization@v1", {"text_thickness": 10**12}, PX, id="label-text"),
        pytest.param("label_visualization@v1", {"border_radius": 5000}, PX0, id="label-radius"),
        pytest.param(
            "color_visualization@v1",
            {"palette_size": 10**12},
            f"within [1, {MAX_PALETTE_COLORS}]",
            id="palette",
        ),
        pytest.param("blur_visualization@v1", {"kernel_size": 10**12}, PX, id="blur"),
        pytest.param("pixelate_visualization@v1", {"pixel_size": 10**6}, PX, id="pixelate"),
    ],
)
def test_out_of_range_drawing_parameters_are_a_400(
    block: str, fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidInputTypeError) as raised:
        _draw(block, **fields)
    field = next(iter(fields))
    assert raised.value.status_code == 400
    assert f"field {field!r}" in raised.value.message
    assert expected in raised.value.message


def test_a_large_zoom_of_a_large_detection_is_a_400() -> None:
    """The crop visualization zooms each detection: 10× of a 2000 × 2000 px box would be 400 MP."""
    big = boxes([[0, 0, 2000, 2000]])
    with pytest.raises(InvalidInputTypeError, match="a zoomed crop may have"):
        run(
            [
                step(
                    "roboflow_object_detection_model@v2",
                    "det",
                    images="$inputs.image",
                    model_id="m/1",
                ),
                step(
                    "crop_visualization@v1",
                    "viz",
                    image="$inputs.image",
                    predictions="$steps.det.predictions",
                    scale_factor=MAX_ZOOM,
                ),
            ],
            {"image": "$steps.viz.image"},
            {"image": canvas(2000, 2000)},
            models=ScriptedModels({"m/1": lambda image: big}),
        )


@pytest.mark.parametrize(
    ("block", "fields"),
    [
        pytest.param("bounding_box_visualization@v1", {"thickness": MAX_DRAWING_PX}, id="box"),
        pytest.param("dot_visualization@v1", {"outline_thickness": 0}, id="dot-outline-zero"),
        pytest.param("label_visualization@v1", {"text_scale": MAX_TEXT_SCALE}, id="label"),
        pytest.param("ellipse_visualization@v1", {"end_angle": -MAX_ANGLE_DEG}, id="ellipse"),
        pytest.param("crop_visualization@v1", {"scale_factor": 1.5}, id="crop"),
    ],
)
def test_drawing_parameters_at_their_bounds_draw(block: str, fields: dict[str, Any]) -> None:
    assert _changed(_draw(block, **fields)).any()
