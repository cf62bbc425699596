"""Detections given as JSON to a workflow input → ``sv.Detections``, as the reference reads a
detections kind (``deserialize_detections_kind``).

The JSON is the ``/infer`` response (and the workflow output) form:
``{"image": {"width", "height"}, "predictions": [{"x", "y", "width", "height", "confidence",
"class", "class_id", ...}]}`` with box centres. Each prediction may carry ``detection_id`` (a new
uuid4 otherwise), ``parent_id`` / ``parent_origin`` / ``root_parent_id`` /
``root_parent_origin`` (where the image it was made on sits; the input itself otherwise),
``tracker_id``, instance masks as ``points`` (polygons of at least 3 points, rasterized at the
image size, the mask's outline then written back as the reference's round trip does; shorter
ones are dropped as the reference drops them) or COCO ``rle``, semantic segmentation's
per-class ``rle_mask`` (kept encoded), ``keypoints`` and the per-detection values blocks add
(``time_in_zone``, ``velocity``...). Anything malformed raises ``ValueError`` naming the
prediction and field.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import (
    CLASS_NAME,
    DETECTION_ID,
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    PARENT_ID,
    POLYGON,
    random_uuid4s,
)
from visionflow.core.masks import mask_to_polygon, rle_to_mask
from visionflow.workflows.lineage import Lineage, attach_lineage
from visionflow.workflows.serialize import RLE_MASK

__all__ = ["detections_from_wire"]

# Per-detection values the reference reads back under the same key (``data`` is a decoded
# QR/barcode text); a key is read when the first prediction has it, and then every one must.
_PASSTHROUGH = (
    "path_deviation",
    "time_in_zone",
    "data",
    "speed",
    "smoothed_speed",
    "smoothed_velocity",
    "velocity",
    "area_px",
    "area_converted",
    "nearest_target_distance",
)
# ``bounding_rect`` results; ``width``/``height`` then mean the rotated rectangle's.
_BOUNDING_RECT = ("angle", "rect", "height", "width")
_MIN_POLYGON_POINTS = 3


def _number(prediction: dict[str, Any], key: str, index: int) -> float:
    value = prediction.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"prediction {index}: {key!r} must be a number, got {value!r}")
    return float(value)


def _size(image: Any, count: int) -> tuple[int, int] | None:
    if not isinstance(image, dict):
        raise ValueError("'image' must be an object with 'width' and 'height'")
    width, height = image.get("width"), image.get("height")
    if width is None and height is None and count == 0:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        raise ValueError(f"'image' needs positive integer 'width' and 'height', got {image!r}")
    return int(width), int(height)  # type: ignore[arg-type]


def _origin(value: Any, what: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((offset_x, offset_y), (width, height))`` of a ``parent_origin``-style object."""
    keys = ("offset_x", "offset_y", "width", "height")
    if not isinstance(value, dict) or not all(isinstance(value.get(k), int) for k in keys):
        raise ValueError(f"{what} must be an object of integers {list(keys)}, got {value!r}")
    return (value["offset_x"], value["offset_y"]), (value["width"], value["height"])


def _lineage(first: dict[str, Any] | None, identifier: str, size_wh: tuple[int, int]) -> Lineage:
    if first is None:
        return Lineage.for_input(identifier, size_wh)
    parent_id = str(first.get("parent_id", identifier))
    root_id = str(first.get("root_parent_id", identifier))
    parent = first.get("parent_origin")
    root = first.get("root_parent_origin")
    parent_offset, parent_size = _origin(parent, "parent_origin") if parent else ((0, 0), size_wh)
    root_offset, root_size = _origin(root, "root_parent_origin") if root else ((0, 0), size_wh)
    return Lineage(parent_id, size_wh, parent_offset, parent_size, root_id, root_offset, root_size)


def _polygon(points: Any, index: int) -> npt.NDArray[np.float32]:
    try:
        xy = [(float(p["x"]), float(p["y"])) for p in points]
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"prediction {index}: 'points' must be a list of {{x, y}}") from None
    return np.array(xy, dtype=np.float32).reshape(-1, 2)


def _masks(
    rows: list[dict[str, Any]], size_wh: tuple[int, int]
) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[Any] | None]:
    """Instance masks ``(N, H, W) bool`` and polygons, when every prediction has ``points``
    (or every one a COCO ``rle``); ``(None, None)`` for boxes only."""
    width, height = size_wh
    polygons = np.empty(len(rows), dtype=object)
    masks = np.zeros((len(rows), height, width), dtype=bool)
    if rows and all(isinstance(r.get("points"), list) for r in rows):
        for index, row in enumerate(rows):
            filled = np.zeros((height, width), dtype=np.uint8)
            corners = np.round(_polygon(row["points"], index)).astype(np.int32)
            cv2.fillPoly(filled, [corners], color=1)
            masks[index] = filled.astype(bool)
            # As the reference: the mask is what is kept, its outline what is written back.
            polygons[index] = mask_to_polygon(masks[index])
        return masks, polygons
    if rows and all(isinstance(r.get("rle"), dict) for r in rows):
        for index, row in enumerate(rows):
            try:
                plane = rle_to_mask(row["rle"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"prediction {index}: 'rle' is not a COCO RLE ({exc})") from None
            if plane.shape != (height, width):
                shape = list(plane.shape)
                raise ValueError(f"prediction {index}: 'rle' size {shape} is not the image's")
            masks[index] = plane
            polygons[index] = mask_to_polygon(plane)
        return masks, polygons
    return None, None


def _keypoints(detections: sv.Detections, rows: list[dict[str, Any]]) -> None:
    """``(N, K, 2)`` points, ``(N, K)`` scores and names, padded to the longest list (padding
    has confidence 0 and an empty name, as the reference pads)."""
    lists = [r.get("keypoints") or [] for r in rows]
    width = max((len(points) for points in lists), default=0)
    xy = np.zeros((len(rows), width, 2), dtype=np.float32)
    scores = np.zeros((len(rows), width), dtype=np.float32)
    names = np.empty(len(rows), dtype=object)
    for index, points in enumerate(lists):
        names[index] = [""] * width
        for k, point in enumerate(points):
            if not isinstance(point, dict):
                raise ValueError(f"prediction {index}: keypoint {k} is not an object")
            xy[index, k] = (_number(point, "x", index), _number(point, "y", index))
            scores[index, k] = _number(point, "confidence", index)
            names[index][k] = str(point.get("class", ""))
    detections.data[KEYPOINTS_XY] = xy
    detections.data[KEYPOINTS_CONFIDENCE] = scores
    detections.data[KEYPOINTS_CLASS_NAME] = names


def _column(rows: list[dict[str, Any]], key: str) -> npt.NDArray[Any]:
    if not all(key in row for row in rows):
        missing = next(i for i, row in enumerate(rows) if key not in row)
        raise ValueError(f"prediction {missing}: {key!r} is missing (the first prediction has it)")
    values = [row[key] for row in rows]
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    return np.array(values)


def detections_from_wire(identifier: str, value: Any) -> sv.Detections:
    """The detections of ``value`` (``{"image", "predictions"}``), made on the input image
    ``identifier`` unless the predictions say where they come from."""
    if isinstance(value, sv.Detections):
        return value
    if not isinstance(value, dict) or "predictions" not in value or "image" not in value:
        raise ValueError("detections must be an object with 'image' and 'predictions'")
    predictions = value["predictions"]
    if not isinstance(predictions, list) or not all(isinstance(p, dict) for p in predictions):
        raise ValueError("'predictions' must be a list of objects")
    rows = [
        p
        for p in predictions
        if not (isinstance(p.get("points"), list) and len(p["points"]) < _MIN_POLYGON_POINTS)
    ]
    size_wh = _size(value["image"], len(rows))
    if size_wh is None:
        return sv.Detections.empty()
    # float64 as the reference's ``from_inference``, so values round-trip exactly.
    xyxy = np.zeros((len(rows), 4), dtype=np.float64)
    for index, row in enumerate(rows):
        x, y = _number(row, "x", index), _number(row, "y", index)
        w, h = _number(row, "width", index), _number(row, "height", index)
        xyxy[index] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    class_ids = [int(_number(row, "class_id", index)) for index, row in enumerate(rows)]
    names = [row.get("class") for row in rows]
    if not all(isinstance(name, str) for name in names):
        raise ValueError("every prediction needs a 'class' name (a string)")
    masks, polygons = _masks(rows, size_wh)
    tracker_ids = [row.get("tracker_id") for row in rows]
    detections = sv.Detections(
        xyxy=xyxy,
        mask=masks,
        confidence=np.array(
            [_number(row, "confidence", i) for i, row in enumerate(rows)], dtype=np.float64
        ),
        class_id=np.array(class_ids, dtype=np.int64),
        tracker_id=(
            np.array(tracker_ids, dtype=np.int64)
            if rows and all(isinstance(t, int) for t in tracker_ids)
            else None
        ),
        data={
            CLASS_NAME: np.array(names, dtype=object),
            DETECTION_ID: np.array(random_uuid4s(len(rows)), dtype=object),
        },
    )
    given_ids = [row.get("detection_id") for row in rows]
    detections.data[DETECTION_ID] = np.array(
        [
            str(g) if g is not None else new
            for g, new in zip(given_ids, detections.data[DETECTION_ID], strict=True)
        ],
        dtype=object,
    )
    if polygons is not None:
        detections.data[POLYGON] = polygons
    if rows and "keypoints" in rows[0]:
        _keypoints(detections, rows)
    for key in _PASSTHROUGH:
        if rows and key in rows[0]:
            detections.data[key] = _column(rows, key)
    if rows and all(isinstance(row.get(RLE_MASK), dict) for row in rows):
        # Semantic segmentation: one COCO RLE per class, kept encoded as its blocks expect.
        column = np.empty(len(rows), dtype=object)
        for index, row in enumerate(rows):
            column[index] = row[RLE_MASK]
        detections.data[RLE_MASK] = column
    if rows and "rect" in rows[0]:
        for key in _BOUNDING_RECT:
            detections.data[key] = _column(rows, key)
    attach_lineage(detections, _lineage(rows[0] if rows else None, identifier, size_wh))
    detections.data[PARENT_ID] = np.array(
        [str(row.get("parent_id", identifier)) for row in rows], dtype=object
    )
    return detections
