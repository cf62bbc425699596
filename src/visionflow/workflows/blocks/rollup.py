"""``detections_list_rollup``: detections made on crops (one list item per parent detection,
e.g. from ``dimension_collapse``) brought back into the parent image and merged per class.

As in the reference, crop ``i`` sits at the integer part of parent box ``i``'s top-left corner;
within a class, boxes that overlap (IoU >= ``overlap_threshold``; any overlap at 0) are merged
into their enclosing box, masks that overlap likewise into their union, and keypoint detections
whose keypoints are on average closer than ``keypoint_merge_threshold`` px to a group's first
detection into the mean of the group. Merged confidence is the group's max, mean or min.
The result is marked as made on the parent detections' image (its ``parent_id``), where the
reference names the first crop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import Field

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
from visionflow.core.masks import mask_to_polygon
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import attach_lineage, lineage_of
from visionflow.workflows.manifest import (
    FloatSelector,
    FloatZeroToOneSelector,
    ListOfValuesSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["ROLLUP_BLOCKS", "DetectionsListRollupV1"]

AnyDetectionsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference(k.DETECTION_KINDS)
]
Strategy = Literal["max", "mean", "min"]
_KEYPOINT_KEYS = (KEYPOINTS_XY, KEYPOINTS_CONFIDENCE, KEYPOINTS_CLASS_NAME)
# Keys the merge writes itself; every other per-detection key comes from a group's first member.
_OWN_KEYS = {DETECTION_ID, PARENT_ID, POLYGON, "inference_id", *_KEYPOINT_KEYS}


class DetectionsListRollupManifest(StepManifest):
    parent_detection: AnyDetectionsSelector
    child_detections: ListOfValuesSelector
    confidence_strategy: ListOfValuesSelector | Strategy = "max"
    overlap_threshold: FloatZeroToOneSelector | Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    keypoint_merge_threshold: FloatSelector | Annotated[float, Field(ge=0.0)] = 10.0


@dataclass
class _Piece:
    """One child detection in parent coordinates."""

    xyxy: npt.NDArray[np.float64]
    confidence: float
    class_id: int
    data: dict[str, Any]
    mask: npt.NDArray[np.bool_] | None = None
    keypoints: dict[str, Any] = field(default_factory=dict)


def _combine(confidences: Sequence[float], strategy: str) -> float:
    if strategy == "mean":
        return float(np.mean(confidences))
    if strategy == "min":
        return float(min(confidences))
    return float(max(confidences))


def _groups(count: int, joined_after: Callable[[int], Iterable[int]]) -> list[list[int]]:
    """Connected components over ``range(count)`` where ``joined_after(i)`` gives the ``j > i``
    joined with ``i``, ordered by their smallest member, members ascending (the reference's
    union-find order)."""
    parent = list(range(count))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(count):
        for j in joined_after(i):
            root_i, root_j = find(i), find(int(j))
            if root_i != root_j:
                parent[root_i] = root_j
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _overlapping_after(boxes: npt.NDArray[np.float64], i: int) -> npt.NDArray[np.float64]:
    """``(M,)`` intersection areas of box ``i`` with every later box (vectorised, as the
    reference: per box against all that follow)."""
    later = boxes[i + 1 :]
    width = np.maximum(
        0.0, np.minimum(boxes[i, 2], later[:, 2]) - np.maximum(boxes[i, 0], later[:, 0])
    )
    height = np.maximum(
        0.0, np.minimum(boxes[i, 3], later[:, 3]) - np.maximum(boxes[i, 1], later[:, 1])
    )
    return np.asarray(width * height, dtype=np.float64)


def _merge_boxes(pieces: list[_Piece], strategy: str, threshold: float) -> list[_Piece]:
    boxes = np.array([p.xyxy for p in pieces], dtype=np.float64).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def joined_after(i: int) -> Iterable[int]:
        inter = _overlapping_after(boxes, i)
        if threshold <= 0.0:
            return (i + 1 + np.nonzero(inter > 0)[0]).tolist()
        union = areas[i] + areas[i + 1 :] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union > 0, inter / union, 0.0)
        return (i + 1 + np.nonzero(iou >= threshold)[0]).tolist()

    merged = []
    for group in _groups(len(pieces), joined_after):
        members = boxes[group]
        first = pieces[group[0]]
        merged.append(
            _Piece(
                np.array([*members[:, :2].min(axis=0), *members[:, 2:].max(axis=0)]),
                _combine([pieces[i].confidence for i in group], strategy),
                first.class_id,
                first.data,
            )
        )
    return merged


def _merge_masks(pieces: list[_Piece], strategy: str, threshold: float) -> list[_Piece]:
    masks = [p.mask for p in pieces if p.mask is not None]
    assert len(masks) == len(pieces)
    areas = [int(np.count_nonzero(m)) for m in masks]
    boxes = np.array([p.xyxy for p in pieces], dtype=np.float64).reshape(-1, 4)

    def joined_after(i: int) -> Iterable[int]:
        later = boxes[i + 1 :]
        # Boxes that merely touch or are apart are never compared pixel by pixel.
        touching = ~(
            (boxes[i, 2] <= later[:, 0])
            | (later[:, 2] <= boxes[i, 0])
            | (boxes[i, 3] <= later[:, 1])
            | (later[:, 3] <= boxes[i, 1])
        )
        for j in (i + 1 + np.nonzero(touching)[0]).tolist():
            inter = int(np.count_nonzero(masks[i] & masks[j]))
            union = areas[i] + areas[j] - inter
            if (inter > 0) if threshold <= 0.0 else (union > 0 and inter / union >= threshold):
                yield j

    merged = []
    for group in _groups(len(pieces), joined_after):
        union_mask = np.logical_or.reduce([masks[i] for i in group])
        if not union_mask.any():
            continue
        rows, cols = np.nonzero(union_mask)
        box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float64)
        first = pieces[group[0]]
        confidence = _combine([pieces[i].confidence for i in group], strategy)
        merged.append(_Piece(box, confidence, first.class_id, first.data, union_mask))
    return merged


def _merge_keypoints(pieces: list[_Piece], strategy: str, threshold: float) -> list[_Piece]:
    """Each group: a detection and the later ones whose keypoints are on average closer than
    ``threshold`` px to its own; detections without keypoints stay as they are (last)."""
    with_points = [p for p in pieces if KEYPOINTS_XY in p.keypoints]
    without = [p for p in pieces if KEYPOINTS_XY not in p.keypoints]
    used: set[int] = set()
    merged: list[_Piece] = []
    for i, first in enumerate(with_points):
        if i in used:
            continue
        used.add(i)
        group = [first]
        anchor = first.keypoints[KEYPOINTS_XY]
        for j in range(i + 1, len(with_points)):
            other = with_points[j].keypoints[KEYPOINTS_XY]
            if (
                j not in used
                and len(other) == len(anchor)
                and float(np.mean(np.linalg.norm(anchor - other, axis=1))) < threshold
            ):
                group.append(with_points[j])
                used.add(j)
        if len(group) == 1:
            merged.append(first)
            continue
        keypoints = dict(first.keypoints)
        keypoints[KEYPOINTS_XY] = np.mean([p.keypoints[KEYPOINTS_XY] for p in group], axis=0)
        if KEYPOINTS_CONFIDENCE in first.keypoints:
            keypoints[KEYPOINTS_CONFIDENCE] = np.mean(
                [p.keypoints[KEYPOINTS_CONFIDENCE] for p in group], axis=0
            )
        merged.append(
            _Piece(
                np.mean([p.xyxy for p in group], axis=0),
                _combine([p.confidence for p in group], strategy),
                first.class_id,
                first.data,
                keypoints=keypoints,
            )
        )
    return merged + without


def _paste(mask: npt.NDArray[Any], x: int, y: int, size_wh: tuple[int, int]) -> npt.NDArray[Any]:
    """A crop's ``(h, w)`` mask placed at ``(x, y)`` of a ``size_wh`` image (clipped)."""
    width, height = size_wh
    placed = np.zeros((height, width), dtype=bool)
    crop_h, crop_w = mask.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + crop_w), min(height, y + crop_h)
    if x1 > x0 and y1 > y0:
        placed[y0:y1, x0:x1] = np.asarray(mask, dtype=bool)[y0 - y : y1 - y, x0 - x : x1 - x]
    return placed


def _pieces(
    child: sv.Detections, offset_xy: tuple[int, int], size_wh: tuple[int, int] | None
) -> list[_Piece]:
    x, y = offset_xy
    shift = np.array([x, y, x, y], dtype=np.float64)
    keep = [key for key in child.data if key not in _OWN_KEYS]
    pieces = []
    for j in range(len(child)):
        piece = _Piece(
            np.asarray(child.xyxy[j], dtype=np.float64) + shift,
            1.0 if child.confidence is None else float(child.confidence[j]),
            0 if child.class_id is None else int(child.class_id[j]),
            {key: child.data[key][j] for key in keep if j < len(child.data[key])},
        )
        if size_wh is not None:
            if child.mask is not None:
                piece.mask = _paste(child.mask[j], x, y, size_wh)
            else:  # a child without a mask among masked ones covers its box
                box_mask = np.zeros((size_wh[1], size_wh[0]), dtype=bool)
                x1, y1, x2, y2 = np.round(piece.xyxy).astype(int)
                box_mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = True
                piece.mask = box_mask
        if KEYPOINTS_XY in child.data:
            piece.keypoints[KEYPOINTS_XY] = np.asarray(
                child.data[KEYPOINTS_XY][j], dtype=np.float64
            ).reshape(-1, 2) + np.array([x, y], dtype=np.float64)
            for key in (KEYPOINTS_CONFIDENCE, KEYPOINTS_CLASS_NAME):
                if key in child.data:
                    piece.keypoints[key] = child.data[key][j]
        pieces.append(piece)
    return pieces


def _column(values: list[Any]) -> npt.NDArray[Any]:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _detections(merged: list[_Piece], with_masks: bool, with_keypoints: bool) -> sv.Detections:
    keys: list[str] = []
    for piece in merged:
        keys.extend(key for key in piece.data if key not in keys)
    result = sv.Detections(
        xyxy=np.array([p.xyxy for p in merged], dtype=np.float32).reshape(-1, 4),
        mask=np.stack([p.mask for p in merged]) if with_masks else None,  # type: ignore[misc]
        confidence=np.array([p.confidence for p in merged], dtype=np.float32),
        class_id=np.array([p.class_id for p in merged], dtype=int),
    )
    for key in keys:
        result.data[key] = _column([p.data.get(key) for p in merged])
    if CLASS_NAME in result.data:
        result.data[CLASS_NAME] = _column([str(v) for v in result.data[CLASS_NAME]])
    result.data[DETECTION_ID] = _column(random_uuid4s(len(merged)))
    if with_masks:
        result.data[POLYGON] = _column([mask_to_polygon(p.mask) for p in merged])  # type: ignore[arg-type]
    if with_keypoints and all(KEYPOINTS_XY in p.keypoints for p in merged):
        result.data[KEYPOINTS_XY] = np.array(
            [p.keypoints[KEYPOINTS_XY] for p in merged], dtype=np.float32
        )
        if all(KEYPOINTS_CONFIDENCE in p.keypoints for p in merged):
            result.data[KEYPOINTS_CONFIDENCE] = np.array(
                [p.keypoints[KEYPOINTS_CONFIDENCE] for p in merged], dtype=np.float32
            )
        if all(KEYPOINTS_CLASS_NAME in p.keypoints for p in merged):
            result.data[KEYPOINTS_CLASS_NAME] = _column(
                [p.keypoints[KEYPOINTS_CLASS_NAME] for p in merged]
            )
    return result


def _children(inputs: StepInputs, expected: int) -> list[sv.Detections]:
    values = inputs["child_detections"]
    if not isinstance(values, list | tuple):
        raise inputs.fail("child_detections", "expected a list of detections, one per parent")
    if len(values) != expected:
        raise inputs.fail(
            "child_detections",
            f"{len(values)} child predictions for {expected} parent detections: each parent "
            "detection needs one (its crop's predictions)",
        )
    children = []
    for value in values:
        if value is None:
            children.append(sv.Detections.empty())  # a crop that was skipped
        elif isinstance(value, sv.Detections):
            children.append(value)
        else:
            raise inputs.fail(
                "child_detections", f"expected detections, got {type(value).__name__}"
            )
    return children


# Child masks (one bool per parent-image pixel each) may hold this many images' worth of pixels.
_MASK_IMAGES = 4


def _check_mask_pixels(
    inputs: StepInputs, children: list[sv.Detections], size_wh: tuple[int, int], max_pixels: int
) -> None:
    count = sum(len(child) for child in children)
    if count * size_wh[0] * size_wh[1] > _MASK_IMAGES * max_pixels:
        raise inputs.fail(
            "child_detections",
            f"{count} masks of {size_wh[0]} x {size_wh[1]} px are more than {_MASK_IMAGES} "
            f"images' worth of pixels ({MAX_IMAGE_PIXELS_SETTING})",
        )


class DetectionsListRollupV1(Block):
    """``rolled_up_detections``: the ``child_detections`` (one item per parent detection, made
    on its crop) in the parent image, merged as the module docstring says; ``crop_zones``: each
    parent box as 4 corners (top-left, top-right, bottom-right, bottom-left)."""

    type = "roboflow_core/detections_list_rollup@v1"
    aliases = ("DetectionsListRollUp",)
    manifest = DetectionsListRollupManifest
    outputs = (
        OutputDefinition(
            "rolled_up_detections",
            (
                k.INSTANCE_SEGMENTATION_PREDICTION,
                k.OBJECT_DETECTION_PREDICTION,
                k.KEYPOINT_DETECTION_PREDICTION,
            ),
        ),
        OutputDefinition("crop_zones", (k.LIST_OF_VALUES,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        parent = inputs.detections("parent_detection")
        strategy = inputs.as_str("confidence_strategy")
        if strategy not in ("max", "mean", "min"):
            raise inputs.fail("confidence_strategy", "must be one of ['max', 'mean', 'min']")
        threshold = inputs.as_float("overlap_threshold", low=0.0, high=1.0)
        keypoint_threshold = inputs.as_float("keypoint_merge_threshold", low=0.0)
        children = _children(inputs, len(parent))
        zones = [
            [
                (float(x1), float(y1)),
                (float(x2), float(y1)),
                (float(x2), float(y2)),
                (float(x1), float(y2)),
            ]
            for x1, y1, x2, y2 in np.asarray(parent.xyxy, dtype=np.float64).reshape(-1, 4)
        ]
        lineage = lineage_of(parent)
        with_masks = any(c.mask is not None and len(c.mask) > 0 for c in children)
        with_keypoints = any(KEYPOINTS_XY in c.data and len(c) > 0 for c in children)
        size_wh = None
        if with_masks and not with_keypoints:
            if lineage is None:
                raise inputs.fail(
                    "parent_detection",
                    "the size of the parent image is unknown (detections without the image "
                    "they were made on): masks cannot be rolled up",
                )
            size_wh = lineage.size_wh
            _check_mask_pixels(inputs, children, size_wh, context.budget.limits.max_image_pixels)
        by_class: dict[int, list[_Piece]] = {}
        for index, child in enumerate(children):
            offset = (int(parent.xyxy[index][0]), int(parent.xyxy[index][1]))
            for piece in _pieces(child, offset, size_wh):
                by_class.setdefault(piece.class_id, []).append(piece)
        merged: list[_Piece] = []
        for pieces in by_class.values():
            if with_keypoints:
                merged.extend(_merge_keypoints(pieces, strategy, keypoint_threshold))
            elif with_masks:
                merged.extend(_merge_masks(pieces, strategy, threshold))
            else:
                merged.extend(_merge_boxes(pieces, strategy, threshold))
        if not merged:
            return {"rolled_up_detections": sv.Detections.empty(), "crop_zones": zones}
        result = _detections(merged, size_wh is not None, with_keypoints)
        if lineage is not None:
            attach_lineage(result, lineage)
        return {"rolled_up_detections": result, "crop_zones": zones}


ROLLUP_BLOCKS: tuple[type[Block], ...] = (DetectionsListRollupV1,)
