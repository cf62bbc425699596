"""``perspective_correction``: map detections (and optionally the image) from a 4-cornered
region of the image onto a ``transformed_rect_width`` x ``transformed_rect_height`` rectangle,
e.g. a bird's-eye view of a pitch or a road."""

from __future__ import annotations

import math
from typing import Annotated, Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

from visionflow.core.detections import KEYPOINTS_XY, POLYGON
from visionflow.core.masks import mask_to_polygon
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import Lineage, WorkflowImage, attach_lineage
from visionflow.workflows.manifest import (
    BooleanSelector,
    ImageSelector,
    IntegerSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["PERSPECTIVE_BLOCKS", "PerspectiveCorrectionV1", "perspective_matrix"]

Points = npt.NDArray[np.float32]
CorrectableSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]


class PerspectiveCorrectionManifest(StepManifest):
    predictions: CorrectableSelector | None = None
    images: ImageSelector
    perspective_polygons: list[Any] | ListOfValuesSelector
    transformed_rect_width: int | IntegerSelector = 1000
    transformed_rect_height: int | IntegerSelector = 1000
    extend_perspective_polygon_by_detections_anchor: str | StringSelector = ""
    warp_image: bool | BooleanSelector = False


def largest_quadrilateral(polygons: Any) -> npt.NDArray[np.float64]:
    """The polygon to correct: ``polygons`` itself when it is 4 points, else the largest (by
    area) of the 4-point polygons it lists."""
    try:
        single = np.asarray(polygons, dtype=np.float64)
    except (TypeError, ValueError):
        single = None
    if single is not None and single.shape == (4, 2):
        return single
    candidates = []
    for item in polygons if isinstance(polygons, list | tuple) else []:
        try:
            polygon = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if polygon.shape == (4, 2):
            candidates.append(polygon)
    if not candidates:
        raise ValueError("no polygon of 4 vertices ([[x, y], ...] x4) given")
    # Hull area: vertices may come in any order (a bow-tie order has no contour area).
    return max(
        candidates, key=lambda p: float(cv2.contourArea(cv2.convexHull(p.astype(np.float32))))
    )


def _clockwise_from_bottom_left(polygon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Vertices sorted clockwise around the bounding box centre, rolled so the first is the one
    closest to the bounding box's bottom-left corner (then top-left, top-right, bottom-right)."""
    cx = polygon[:, 0].min() / 2 + polygon[:, 0].max() / 2
    cy = polygon[:, 1].min() / 2 + polygon[:, 1].max() / 2
    ordered = np.array(
        sorted(polygon.tolist(), key=lambda p: math.atan2(cx - p[0], cy - p[1]), reverse=True)
    )
    x_min, y_min = ordered.min(axis=0)
    x_max, y_max = ordered.max(axis=0)
    corners = np.array([[x_min, y_max], [x_min, y_min], [x_max, y_min], [x_max, y_max]])

    def distance(candidate: npt.NDArray[np.float64]) -> float:
        return float(np.linalg.norm(candidate - corners, axis=1).sum())

    best = ordered
    for shift in range(4):
        rolled = np.roll(ordered, shift, axis=0)
        if distance(rolled) < distance(best) or (
            distance(rolled) == distance(best) and rolled[0][0] < best[0][0]
        ):
            best = rolled
    return best


def perspective_matrix(polygon: Any, width: int, height: int) -> npt.NDArray[np.float64]:
    """The 3x3 homography taking the quadrilateral onto the ``width`` x ``height`` rectangle
    (its bottom-left vertex to the rectangle's bottom-left, and so on)."""
    source = _clockwise_from_bottom_left(largest_quadrilateral(polygon)).astype(np.float32)
    target = np.array(
        [[0, height - 1], [0, 0], [width - 1, 0], [width - 1, height - 1]], dtype=np.float32
    )
    return np.asarray(cv2.getPerspectiveTransform(source, target), dtype=np.float64)


def _transform(points: Points, matrix: npt.NDArray[np.float64]) -> Points:
    if len(points) == 0:
        return points.reshape(-1, 2)
    moved = cv2.perspectiveTransform(points.reshape(1, -1, 2).astype(np.float32), matrix)
    return np.asarray(moved, dtype=np.float32).reshape(-1, 2)


def correct_detections(
    detections: sv.Detections, matrix: npt.NDArray[np.float64], size_wh: tuple[int, int]
) -> sv.Detections:
    """``detections`` in the corrected plane: boxes become the bounds of their transformed
    corners (or of the transformed mask outline), masks and polygons and keypoints move along."""
    count = len(detections)
    width, height = size_wh
    boxes = np.zeros((count, 4), dtype=np.float32)
    masks = np.zeros((count, height, width), dtype=bool) if detections.mask is not None else None
    polygons = np.empty(count, dtype=object)
    for index in range(count):
        if detections.mask is not None and masks is not None:
            outline = _transform(mask_to_polygon(np.asarray(detections.mask[index], bool)), matrix)
            polygons[index] = outline
            if len(outline):
                masks[index] = sv.polygon_to_mask(
                    np.round(outline).astype(np.int32), (width, height)
                )
        else:
            x1, y1, x2, y2 = np.round(detections.xyxy[index]).tolist()
            corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
            outline = _transform(corners, matrix)
        boxes[index] = sv.polygon_to_xyxy(outline) if len(outline) else 0
    data = dict(detections.data)
    if POLYGON in data and masks is not None:
        data[POLYGON] = polygons
    if KEYPOINTS_XY in data:
        keypoints = np.asarray(data[KEYPOINTS_XY], dtype=np.float32)
        data[KEYPOINTS_XY] = np.stack([_transform(k, matrix) for k in keypoints]).reshape(
            keypoints.shape
        )
    return sv.Detections(
        xyxy=np.round(boxes),
        mask=masks,
        confidence=detections.confidence,
        class_id=detections.class_id,
        tracker_id=detections.tracker_id,
        data=data,
    )


class PerspectiveCorrectionV1(Block):
    """``corrected_coordinates``: ``predictions`` in the coordinates of the rectangle that the
    largest 4-vertex polygon of ``perspective_polygons`` is mapped onto; ``warped_image``: the
    image warped likewise when ``warp_image`` (else the image as it is).

    Extending the polygon to contain the detections
    (``extend_perspective_polygon_by_detections_anchor``) is not supported yet."""

    type = "roboflow_core/perspective_correction@v1"
    aliases = ("PerspectiveCorrection",)
    manifest = PerspectiveCorrectionManifest
    outputs = (
        OutputDefinition(
            "corrected_coordinates",
            (k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION),
        ),
        OutputDefinition("warped_image", (k.IMAGE,)),
        OutputDefinition("extended_transformed_rect_width", (k.INTEGER,)),
        OutputDefinition("extended_transformed_rect_height", (k.INTEGER,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        max_pixels = context.budget.limits.max_image_pixels
        width, height = inputs.as_size_wh(
            "transformed_rect_width",
            "transformed_rect_height",
            max_pixels=max_pixels,
            setting=MAX_IMAGE_PIXELS_SETTING,
        )
        if inputs["extend_perspective_polygon_by_detections_anchor"]:
            raise inputs.fail(
                "extend_perspective_polygon_by_detections_anchor",
                "extending the polygon by detections is not supported by this server; leave it "
                "empty",
            )
        try:
            matrix = perspective_matrix(inputs["perspective_polygons"], width, height)
        except ValueError as exc:
            raise inputs.fail("perspective_polygons", str(exc)) from None
        warped: WorkflowImage = image
        if inputs.as_bool("warp_image"):
            pixels = cv2.warpPerspective(image.pixels_bgr, matrix, (width, height))
            warped = WorkflowImage.from_input(
                np.asarray(pixels, np.uint8), image.lineage.image_id, image.video_metadata
            )
        corrected = None
        if inputs.get("predictions") is not None:
            detections = inputs.detections("predictions")
            masks = len(detections) * width * height if detections.mask is not None else 0
            if masks > _MASK_IMAGES * max_pixels:
                raise inputs.fail(
                    "transformed_rect_width",
                    f"{len(detections)} masks of {width} x {height} px are more than "
                    f"{_MASK_IMAGES} images' worth of pixels ({MAX_IMAGE_PIXELS_SETTING})",
                )
            corrected = correct_detections(detections, matrix, (width, height))
            attach_lineage(corrected, Lineage.for_input(image.lineage.root_id, (width, height)))
        return {
            "corrected_coordinates": corrected,
            "warped_image": warped,
            "extended_transformed_rect_width": width,
            "extended_transformed_rect_height": height,
        }


# Corrected masks (one bool per pixel each) may hold this many images' worth of pixels.
_MASK_IMAGES = 4

PERSPECTIVE_BLOCKS: tuple[type[Block], ...] = (PerspectiveCorrectionV1,)
