"""Lineage: crops know where they sit; detections on crops map back to the input image."""

from __future__ import annotations

import numpy as np
import supervision as sv

from visionflow.core.detections import KEYPOINTS_XY, POLYGON, make_detections
from visionflow.workflows.lineage import (
    WorkflowImage,
    attach_lineage,
    lineage_of,
    to_root_coordinates,
)


def _input(width: int = 100, height: int = 80) -> WorkflowImage:
    return WorkflowImage.from_input(np.zeros((height, width, 3), dtype=np.uint8), "image")


def _on(image: WorkflowImage) -> sv.Detections:
    detections = make_detections(
        np.array([[1, 2, 5, 6]]), np.array([0.5]), np.array([0]), ["thing"]
    )
    polygon = np.empty(1, dtype=object)
    polygon[0] = np.array([[1, 2], [5, 2], [5, 6]], dtype=np.float32)
    detections.data[POLYGON] = polygon
    detections.data[KEYPOINTS_XY] = np.array([[[3, 4]]], dtype=np.float32)
    width, height = image.lineage.size_wh
    detections.mask = np.zeros((1, height, width), dtype=bool)
    detections.mask[0, 2:6, 1:5] = True
    return attach_lineage(detections, image.lineage)


def test_crop_of_crop_accumulates_offsets() -> None:
    crop = _input().crop("d1", (10, 20, 60, 70))
    inner = crop.crop("d2", (5, 5, 25, 30))
    assert inner.pixels_bgr.shape == (25, 20, 3)
    lineage = inner.lineage
    assert (lineage.image_id, lineage.size_wh) == ("d2", (20, 25))
    assert (lineage.parent_offset_xy, lineage.parent_size_wh) == ((5, 5), (50, 50))
    assert (lineage.root_id, lineage.root_offset_xy, lineage.root_size_wh) == (
        "image",
        (15, 25),
        (100, 80),
    )
    assert (inner.image.id, inner.image.parent_id, inner.image.offset_xy) == ("d2", "d1", (5, 5))


def test_detections_on_a_nested_crop_map_to_the_input_image() -> None:
    crop = _input().crop("d1", (10, 20, 60, 70)).crop("d2", (5, 5, 25, 30))
    moved = to_root_coordinates(_on(crop))
    assert moved.xyxy.tolist() == [[16, 27, 20, 31]]
    assert moved.data[POLYGON][0].tolist() == [[16, 27], [20, 27], [20, 31]]
    assert moved.data[KEYPOINTS_XY].tolist() == [[[18, 29]]]
    assert moved.mask is not None
    assert moved.mask.shape == (1, 80, 100)
    ys, xs = np.nonzero(moved.mask[0])
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (16, 27, 19, 30)
    lineage = lineage_of(moved)
    assert lineage is not None
    assert lineage.is_root
    assert list(moved.data["parent_id"]) == ["image"]


def test_detections_on_the_input_image_are_left_alone() -> None:
    detections = _on(_input())
    assert to_root_coordinates(detections) is detections
    unmarked = make_detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), [])
    assert to_root_coordinates(unmarked) is unmarked
