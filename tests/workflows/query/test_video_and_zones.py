"""The query language's zone, parent-class, frame-metadata and block-data parts:
``(Detection) in zone``, ``PickDetectionsByParentClass``, ``ExtractFrameMetadata`` and the
detection properties read from what blocks add (velocity, bounding rectangles, areas...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import supervision as sv
from pydantic import TypeAdapter

from visionflow.core.detections import make_detections
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.query import (
    Operation,
    QueryError,
    StatementGroup,
    apply_operations,
    evaluate,
)
from visionflow.workflows.video_metadata import VideoMetadata

OPERATIONS = TypeAdapter(list[Operation])
# A car with a person inside it, a person outside, and a wheel whose centre is on the car's edge.
SCENE = make_detections(
    np.array([[0, 0, 100, 50], [10, 10, 30, 40], [200, 0, 220, 40], [90, 40, 110, 60]]),
    np.array([0.9, 0.8, 0.7, 0.6]),
    np.array([0, 1, 1, 2]),
    ["car", "person", "wheel"],
)
SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]


def _ops(*operations: dict[str, Any]) -> list[Operation]:
    return OPERATIONS.validate_python(list(operations))


def _names(detections: sv.Detections) -> list[str]:
    return [str(name) for name in detections.data["class_name"]]


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        pytest.param("car", ["car", "person", "wheel"], id="children-inside-or-on-edge"),
        pytest.param("person", ["person", "person"], id="parents-only"),
        pytest.param("truck", [], id="no-parent"),
    ],
)
def test_pick_detections_by_parent_class(parent: str, expected: list[str]) -> None:
    picked = apply_operations(
        SCENE, _ops({"type": "PickDetectionsByParentClass", "parent_class": parent})
    )
    assert isinstance(picked, sv.Detections)
    assert _names(picked) == expected


def test_pick_detections_by_parent_class_of_nothing_is_nothing() -> None:
    empty = SCENE[np.zeros(len(SCENE), dtype=bool)]
    picked = apply_operations(
        empty, _ops({"type": "PickDetectionsByParentClass", "parent_class": "car"})
    )
    assert len(picked) == 0


def _in_zone(left: dict[str, Any], zone: Any, negate: bool = False) -> StatementGroup:
    return StatementGroup.model_validate(
        {
            "type": "StatementGroup",
            "statements": [
                {
                    "type": "BinaryStatement",
                    "left_operand": left,
                    "comparator": {"type": "(Detection) in zone"},
                    "right_operand": {"type": "StaticOperand", "value": zone},
                    "negate": negate,
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        pytest.param([50, 50], True, id="inside"),
        pytest.param([100, 30], True, id="on-edge"),
        pytest.param([150, 30], False, id="outside"),
    ],
)
def test_point_in_zone(point: list[int], expected: bool) -> None:
    group = _in_zone({"type": "StaticOperand", "value": point}, SQUARE)
    assert evaluate(group, {}) is expected


def test_detections_filter_keeps_detections_whose_centre_is_in_the_zone() -> None:
    for left in (
        {"type": "DynamicOperand", "operand_name": "_"},
        {
            "type": "DynamicOperand",
            "operand_name": "_",
            "operations": [{"type": "ExtractDetectionProperty", "property_name": "center"}],
        },
    ):
        group = _in_zone(left, SQUARE)
        kept = apply_operations(
            SCENE, _ops({"type": "DetectionsFilter", "filter_operation": group.model_dump()})
        )
        assert _names(kept) == ["car", "person", "wheel"]


@pytest.mark.parametrize(
    ("left", "zone", "message"),
    [
        pytest.param([1, 2, 3], SQUARE, "needs a detection or an \\[x, y\\] point", id="point"),
        pytest.param([1, 2], [[0, 0], [1, 1]], "at least 3 \\[x, y\\] points", id="two-points"),
        pytest.param([1, 2], "zone-a", "at least 3 \\[x, y\\] points", id="not-a-polygon"),
        pytest.param(SCENE, SQUARE, "needs one detection, got 4", id="several-detections"),
    ],
)
def test_in_zone_errors(left: Any, zone: Any, message: str) -> None:
    group = _in_zone({"type": "DynamicOperand", "operand_name": "x"}, zone)
    with pytest.raises(QueryError, match=message):
        evaluate(group, {"x": left})


def _image(metadata: VideoMetadata | None) -> WorkflowImage:
    return WorkflowImage.from_input(np.zeros((4, 4, 3), np.uint8), "image", metadata)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("frame_number", 90, id="number"),
        pytest.param("frame_timestamp", datetime(2024, 1, 1, tzinfo=UTC), id="timestamp"),
        pytest.param("seconds_since_start", 3.6, id="seconds"),
    ],
)
def test_extract_frame_metadata(name: str, expected: Any) -> None:
    metadata = VideoMetadata("cam", 90, datetime(2024, 1, 1, tzinfo=UTC), fps=25.0)
    value = apply_operations(
        _image(metadata), _ops({"type": "ExtractFrameMetadata", "property_name": name})
    )
    assert value == expected


def test_extract_frame_metadata_needs_an_image() -> None:
    with pytest.raises(QueryError, match="ExtractFrameMetadata cannot be applied to int"):
        apply_operations(3, _ops({"type": "ExtractFrameMetadata", "property_name": "frame_number"}))


def _with_block_data() -> sv.Detections:
    detections = SCENE[np.array([0, 1])]
    assert isinstance(detections, sv.Detections)
    detections.data["velocity"] = np.array([[1.5, -2.0], [0.0, 0.0]], dtype=np.float32)
    detections.data["speed"] = np.array([2.5, 0.0])
    detections.data["rect"] = np.array(
        [[[0, 0], [10, 0], [10, 5], [0, 5]], [[1, 1], [2, 1], [2, 2], [1, 2]]], dtype=np.float32
    )
    detections.data["width"] = np.array([10.0, 1.0])
    detections.data["height"] = np.array([5.0, 1.0])
    detections.data["angle"] = np.array([90.0, 45.0])
    detections.data["area_px"] = np.array([50.0, 1.0])
    return detections


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("velocity", [[1.5, -2.0], [0.0, 0.0]], id="velocity"),
        pytest.param("speed", [2.5, 0.0], id="speed"),
        pytest.param("angle", [90.0, 45.0], id="angle"),
        pytest.param("area_px", [50.0, 1.0], id="area"),
        pytest.param("width", [10.0, 1.0], id="rect-width-over-box-width"),
        pytest.param(
            "rect",
            [[[0, 0], [10, 0], [10, 5], [0, 5]], [[1, 1], [2, 1], [2, 2], [1, 2]]],
            id="rect",
        ),
        pytest.param("smoothed_speed", [None, None], id="absent-is-none"),
        pytest.param("path_deviation", [None, None], id="absent-path-deviation"),
    ],
)
def test_properties_read_from_block_data(name: str, expected: Any) -> None:
    extract = _ops({"type": "DetectionsPropertyExtract", "property_name": name})
    assert apply_operations(_with_block_data(), extract) == expected


def test_width_is_the_boxes_without_a_bounding_rect() -> None:
    extract = _ops({"type": "DetectionsPropertyExtract", "property_name": "width"})
    assert apply_operations(SCENE, extract) == [100.0, 20.0, 20.0, 20.0]
