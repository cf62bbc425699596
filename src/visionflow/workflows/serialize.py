"""Workflow output values → JSON-ready values, as the reference serializes each kind (§4.15, §6.8).

- detections: ``{"image": {"width", "height"}, "predictions": [...]}`` with the ``/infer``
  prediction fields (``core.wire``), ``parent_id``, and for results on crops ``parent_origin``,
  ``root_parent_id`` and ``root_parent_origin``; semantic segmentation adds ``rle_mask``;
- detections also carry what blocks added per detection (``time_in_zone``, ``velocity``,
  ``bounding_rect``'s ``rect``/``angle``...: see ``_PASSTHROUGH`` and ``_BOUNDING_RECT``);
- images: ``{"type": "base64", "value": <JPEG q95>, "video_metadata": {...}}`` (+ crop
  provenance); video metadata as the reference's ``VideoMetadata`` dict, defaults when absent;
- classification: already the ``/infer`` dict; dicts and lists recursively; numpy scalars and
  arrays as plain numbers and lists; timestamps as ISO 8601.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import numpy as np
import supervision as sv

from visionflow.core.detections import POLYGON
from visionflow.core.visualization import encode_jpeg_base64
from visionflow.core.wire import detection_predictions
from visionflow.workflows.errors import BlockError, RuntimeInputError
from visionflow.workflows.lineage import Lineage, WorkflowImage, lineage_of
from visionflow.workflows.nesting import MAX_VALUE_DEPTH
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = ["RLE_MASK", "Secret", "serialize_value"]


class Secret(str):
    """A secret value (kind ``secret``): a plain string to the blocks that use it, written
    masked (``ab****yz``; ``********`` when shorter than 8) as the reference serializes secrets."""

    __slots__ = ()

    def masked(self) -> str:
        return "*" * 8 if len(self) < 8 else f"{self[:2]}{'*' * 8}{self[-2:]}"


# Semantic segmentation results carry one COCO RLE per class here (``{"size", "counts"}``).
RLE_MASK = "rle_mask"
# Per-detection values blocks put in ``data`` that the reference writes into each prediction
# under the same key: a decoded QR/barcode text, seconds spent in a zone, deviation from a
# reference path, velocity (``[vx, vy]`` px/s) and speed, their smoothed forms, mask areas, the
# distance to the nearest target (``detections_nearest_neighbor``).
_PASSTHROUGH = (
    "path_deviation",
    "time_in_zone",
    "data",
    "velocity",
    "speed",
    "smoothed_velocity",
    "smoothed_speed",
    "area_px",
    "area_converted",
    "nearest_target_distance",
)
# ``bounding_rect`` results: the rotated rectangle's 4 integer corners (``rect``, also written as
# ``polygon``), its ``width`` and ``height`` (replacing the box's, as the reference does)
# and ``angle``; written only when all four are there.
_BOUNDING_RECT = ("angle", "rect", "height", "width")
# Workflow images are JPEG-encoded at quality 95 (``WorkflowImageData.base64_image``); the
# ``/infer`` visualizations use 90.
_JPEG_QUALITY = 95


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _bounding_rect(item: dict[str, Any], data: dict[str, Any], index: int) -> None:
    if not all(key in data for key in _BOUNDING_RECT):
        return
    # The reference's corners are integers (``np.int0``), as is the polygon it writes.
    corners = np.round(np.asarray(data["rect"][index], dtype=np.float64)).astype(int)
    item["polygon"] = corners.reshape(-1, 2).tolist()
    for key in _BOUNDING_RECT:
        item[key] = item["polygon"] if key == "rect" else float(data[key][index])


def _origin(offset_xy: tuple[int, int], size_wh: tuple[int, int]) -> dict[str, int]:
    return {
        "offset_x": int(offset_xy[0]),
        "offset_y": int(offset_xy[1]),
        "width": int(size_wh[0]),
        "height": int(size_wh[1]),
    }


def _provenance(lineage: Lineage) -> dict[str, Any]:
    """What a crop (or a result on one) says about where it comes from."""
    return {
        "parent_origin": _origin(lineage.parent_offset_xy, lineage.parent_size_wh),
        "root_parent_id": lineage.root_id,
        "root_parent_origin": _origin(lineage.root_offset_xy, lineage.root_size_wh),
    }


def _as_reference_inverted(item: dict[str, Any]) -> None:
    """A box whose max lies below its min (a language model's answer, a negative offset) as
    the reference writes it: ``width = |x2 - x1|`` and ``x = x1 + width / 2``, not the signed
    width and the true centre (likewise for y)."""
    for centre, size in (("x", "width"), ("y", "height")):
        if item[size] < 0:
            item[centre] -= item[size]
            item[size] = -item[size]


def serialize_detections(detections: sv.Detections) -> dict[str, Any]:
    lineage = lineage_of(detections)
    predictions = detection_predictions(detections)
    rle_masks = detections.data.get(RLE_MASK)
    polygons = detections.data.get(POLYGON)
    kept: list[dict[str, Any]] = []
    for index, item in enumerate(predictions):
        item.pop("mask_format", None)
        _as_reference_inverted(item)
        if polygons is not None and not item.get("points"):
            continue  # an instance whose mask yields no polygon is dropped, as the reference does
        if rle_masks is not None:
            item[RLE_MASK] = rle_masks[index]
        for key in _PASSTHROUGH:
            values = detections.data.get(key)
            if values is not None:
                item[key] = _plain(values[index])
        _bounding_rect(item, detections.data, index)
        # As the reference: provenance whenever a detection's parent is not the input image,
        # i.e. for results on crops and for detections derived from another detection
        # (``detection_offset`` makes the original detection their ``parent_id``).
        if lineage is not None and (
            not lineage.is_root or item.get("parent_id", lineage.root_id) != lineage.root_id
        ):
            item.update(_provenance(lineage))
        kept.append(item)
    if lineage is None:
        image: dict[str, int | None] = {"width": None, "height": None}
    else:
        image = {"width": lineage.size_wh[0], "height": lineage.size_wh[1]}
    return {"image": image, "predictions": kept}


def serialize_image(image: WorkflowImage) -> dict[str, Any]:
    """The reference's ``WorkflowImageData`` form: a JPEG of quality 95, and video metadata that
    is never null (an image that came without any, crops included, gets the still-image
    defaults: itself as the video, frame 0, now, 30 fps)."""
    body: dict[str, Any] = {
        "type": "base64",
        "value": encode_jpeg_base64(image.pixels_bgr, quality=_JPEG_QUALITY),
        "video_metadata": image.video().to_dict(),
    }
    if not image.lineage.is_root:
        body["parent_id"] = image.lineage.image_id
        body.update(_provenance(image.lineage))
    return body


def serialize_value(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready form of any workflow value; a 400 for values that nest lists and objects
    more than ``MAX_VALUE_DEPTH`` levels deep (JSON encoders refuse them anyway)."""
    if isinstance(value, sv.Detections):
        return serialize_detections(value)
    if isinstance(value, WorkflowImage):
        return serialize_image(value)
    if isinstance(value, VideoMetadata):
        return value.to_dict()
    if isinstance(value, dict | list | tuple | np.ndarray) and _depth >= MAX_VALUE_DEPTH:
        details = f"nests lists/objects more than {MAX_VALUE_DEPTH} levels deep"
        raise RuntimeInputError(
            f"A workflow value {details}; the data it comes from is too deeply nested",
            context="workflow_execution | output_construction",
            blocks_errors=[BlockError(None, None, None, details)],
        )
    if isinstance(value, dict):
        return {str(key): serialize_value(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [serialize_value(item, _depth + 1) for item in value]
    if isinstance(value, np.ndarray):
        return serialize_value(value.tolist(), _depth)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Secret):
        return value.masked()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
