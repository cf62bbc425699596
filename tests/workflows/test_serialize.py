"""Serialization of workflow outputs per kind (wire reference §4.15, §6.8)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest

from visionflow.core.detections import POLYGON, make_detections
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.serialize import RLE_MASK, serialize_value
from visionflow.workflows.video_metadata import VideoMetadata

IMAGE = WorkflowImage.from_input(np.full((40, 60, 3), 128, dtype=np.uint8), "image")


def _detections(count: int = 2) -> Any:
    return make_detections(
        np.array([[0, 0, 10, 20], [10, 10, 30, 30]])[:count],
        np.array([0.9, 0.4])[:count],
        np.array([1, 0])[:count],
        ["circle", "square"],
    )


def test_detections_on_an_input_image() -> None:
    body = serialize_value(attach_lineage(_detections(), IMAGE.lineage))
    assert body["image"] == {"width": 60, "height": 40}
    first = body["predictions"][0]
    assert first == {
        "x": 5.0,
        "y": 10.0,
        "width": 10.0,
        "height": 20.0,
        "confidence": pytest.approx(0.9),
        "class": "square",
        "class_id": 1,
        "detection_id": first["detection_id"],
        "parent_id": "image",
    }


def test_detections_without_lineage_and_empty_detections() -> None:
    assert serialize_value(_detections(0)) == {
        "image": {"width": None, "height": None},
        "predictions": [],
    }
    empty = attach_lineage(_detections(0), IMAGE.lineage)
    assert serialize_value(empty) == {"image": {"width": 60, "height": 40}, "predictions": []}


def test_instances_without_a_polygon_are_dropped() -> None:
    detections = _detections()
    polygons = np.empty(2, dtype=object)
    polygons[0] = np.array([[0, 0], [10, 0], [10, 20]], dtype=np.float32)
    polygons[1] = np.zeros((0, 2), dtype=np.float32)
    detections.data[POLYGON] = polygons
    body = serialize_value(attach_lineage(detections, IMAGE.lineage))
    [kept] = body["predictions"]
    assert kept["points"] == [{"x": 0.0, "y": 0.0}, {"x": 10.0, "y": 0.0}, {"x": 10.0, "y": 20.0}]
    assert "mask_format" not in kept


def test_semantic_masks_travel_as_rle() -> None:
    detections = _detections(1)
    rle = np.empty(1, dtype=object)
    rle[0] = {"size": [40, 60], "counts": "abc"}
    detections.data[RLE_MASK] = rle
    body = serialize_value(attach_lineage(detections, IMAGE.lineage))
    assert body["predictions"][0][RLE_MASK] == {"size": [40, 60], "counts": "abc"}


def test_images_and_crops() -> None:
    body = serialize_value(IMAGE)
    assert set(body) == {"type", "value", "video_metadata"}
    assert body["type"] == "base64"
    crop = serialize_value(IMAGE.crop("det-1", (10, 5, 30, 25)))
    origin = {"offset_x": 10, "offset_y": 5, "width": 60, "height": 40}
    assert (crop["parent_id"], crop["parent_origin"]) == ("det-1", origin)
    assert (crop["root_parent_id"], crop["root_parent_origin"]) == ("image", origin)


@pytest.mark.parametrize(
    ("image", "identifier"),
    [
        pytest.param(IMAGE, "image", id="input"),
        pytest.param(IMAGE.crop("det-1", (10, 5, 30, 25)), "det-1", id="crop"),
    ],
)
def test_images_without_metadata_get_the_still_image_defaults(
    image: WorkflowImage, identifier: str
) -> None:
    """As inference 1.8.3 writes them (benchmarks/PEER.md, workflows): never null; the image
    is its own video, frame 0, now, 30 fps."""
    metadata = serialize_value(image)["video_metadata"]
    stamp = datetime.fromisoformat(metadata.pop("frame_timestamp"))
    assert abs((datetime.now(tz=UTC) - stamp).total_seconds()) < 60
    assert metadata == {
        "video_identifier": identifier,
        "frame_number": 0,
        "fps": 30.0,
        "measured_fps": None,
        "comes_from_video_file": None,
        "total_frames": None,
    }


def test_images_are_jpeg_of_quality_95() -> None:
    """The reference's ``WorkflowImageData.base64_image`` encodes at quality 95: byte-identical
    JPEGs for the same pixels (same libjpeg), so clients see the same file."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    image = WorkflowImage.from_input(pixels, "image")
    ok, expected = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    assert base64.b64decode(serialize_value(image)["value"]) == expected.tobytes()


def test_detections_derived_from_other_detections_carry_provenance() -> None:
    """A detection whose ``parent_id`` is another detection (``detection_offset``) gets
    ``parent_origin`` / ``root_parent_id`` / ``root_parent_origin`` even on the input image, as
    the reference writes it; plain model detections do not."""
    detections = attach_lineage(_detections(), IMAGE.lineage)
    plain = serialize_value(detections)["predictions"][0]
    assert "parent_origin" not in plain
    detections.data["parent_id"] = np.array(["det-a", "image"], dtype=object)
    derived, direct = serialize_value(detections)["predictions"]
    origin = {"offset_x": 0, "offset_y": 0, "width": 60, "height": 40}
    assert (derived["parent_id"], derived["parent_origin"]) == ("det-a", origin)
    assert (derived["root_parent_id"], derived["root_parent_origin"]) == ("image", origin)
    assert "parent_origin" not in direct


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="null"),
        pytest.param(np.float32(0.5), 0.5, id="numpy-scalar"),
        pytest.param(np.array([[1, 2]]), [[1, 2]], id="numpy-array"),
        pytest.param(datetime(2026, 1, 2, tzinfo=UTC), "2026-01-02T00:00:00+00:00", id="time"),
        pytest.param({"a": [np.int64(3), (1, 2)]}, {"a": [3, [1, 2]]}, id="nested"),
    ],
)
def test_plain_values(value: Any, expected: Any) -> None:
    assert serialize_value(value) == expected


def test_values_blocks_add_per_detection_are_written_under_their_keys() -> None:
    detections = _detections()
    detections.data["time_in_zone"] = np.array([1.5, 0.0])
    detections.data["velocity"] = np.array([[3.0, -4.0], [0.0, 1.0]], dtype=np.float32)
    detections.data["speed"] = np.array([5.0, 1.0], dtype=np.float32)
    detections.data["smoothed_velocity"] = np.array([[2.0, -3.0], [0.0, 0.5]])
    detections.data["smoothed_speed"] = np.array([3.6, 0.5])
    detections.data["path_deviation"] = np.array([12.5, 0.0])
    detections.data["area_px"] = np.array([200.0, 400.0])
    detections.data["area_converted"] = np.array([2.0, 4.0])
    first = serialize_value(detections)["predictions"][0]
    assert {key: first[key] for key in detections.data if key not in _CORE_DATA} == {
        "time_in_zone": 1.5,
        "velocity": [3.0, -4.0],
        "speed": 5.0,
        "smoothed_velocity": [2.0, -3.0],
        "smoothed_speed": 3.6,
        "path_deviation": 12.5,
        "area_px": 200.0,
        "area_converted": 2.0,
    }
    assert not {"rect", "angle", "polygon"} & set(first)


_CORE_DATA = ("class_name", "detection_id")


def test_bounding_rect_fields_replace_the_box_size_as_the_reference_does() -> None:
    detections = _detections(1)
    corners = np.array([[[0.2, 0.0], [10.0, 0.0], [10.0, 20.0], [0.0, 19.6]]], dtype=np.float32)
    detections.data["rect"] = corners
    detections.data["width"] = np.array([19.5], dtype=np.float32)
    detections.data["height"] = np.array([10.25], dtype=np.float32)
    detections.data["angle"] = np.array([90.0], dtype=np.float32)
    [item] = serialize_value(detections)["predictions"]
    square = [[0, 0], [10, 0], [10, 20], [0, 20]]
    assert (item["rect"], item["polygon"]) == (square, square)
    assert (item["width"], item["height"], item["angle"]) == (19.5, 10.25, 90.0)
    assert (item["x"], item["y"]) == (5.0, 10.0)  # the box centre stays


def test_images_write_their_video_metadata() -> None:
    stamp = datetime(2024, 5, 1, 10, tzinfo=UTC)
    metadata = VideoMetadata("cam", 7, stamp, fps=25.0, comes_from_video_file=True)
    image = WorkflowImage.from_input(np.zeros((4, 4, 3), np.uint8), "image", metadata)
    assert serialize_value(image)["video_metadata"] == {
        "video_identifier": "cam",
        "frame_number": 7,
        "frame_timestamp": "2024-05-01T10:00:00+00:00",
        "fps": 25.0,
        "measured_fps": None,
        "comes_from_video_file": True,
        "total_frames": None,
    }
    assert serialize_value({"m": metadata})["m"]["frame_number"] == 7


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        pytest.param([10, 20, 30, 60], (20.0, 40.0, 20.0, 40.0), id="normal"),
        pytest.param([30, 20, 10, 60], (40.0, 40.0, 20.0, 40.0), id="x-inverted"),
        pytest.param([10, 60, 30, 20], (20.0, 80.0, 20.0, 40.0), id="y-inverted"),
        pytest.param([10, 20, 10, 20], (10.0, 20.0, 0.0, 0.0), id="empty-box"),
    ],
)
def test_inverted_boxes_are_written_as_the_reference_writes_them(
    xyxy: list[float], expected: tuple[float, float, float, float]
) -> None:
    """The reference writes ``width = |x2 - x1|``, ``x = x1 + width / 2`` (so an inverted box,
    e.g. from a language model's answer, gets a centre beyond its first corner)."""
    detections = make_detections(np.array([xyxy], np.float32), np.ones(1), np.zeros(1), ["a"])
    [item] = serialize_value(detections)["predictions"]
    assert (item["x"], item["y"], item["width"], item["height"]) == expected
