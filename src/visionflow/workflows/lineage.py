"""Where an image and its detections come from, so crop results can be mapped back.

A ``WorkflowImage`` is a core ``Image`` (pixels, ``id``, ``parent_id``, ``offset_xy`` in its
parent) plus a ``Lineage``: the image's own identity and size, where it sits in the image it was
cut from, and where it sits in the workflow input it descends from (the root). An input image's
id is the input name (``"image"``), or ``"image.[i]"`` for the i-th image of a list; a crop's id is
the ``detection_id`` it was cut around — the wire's ``parent_id`` of anything derived from it.

Detections made on an image carry its lineage in ``metadata[LINEAGE]`` and its id per row in
``data["parent_id"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import KEYPOINTS_XY, PARENT_ID, POLYGON
from visionflow.core.images import Image
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = [
    "LINEAGE",
    "Lineage",
    "WorkflowImage",
    "attach_lineage",
    "lineage_of",
    "to_image_coordinates",
    "to_root_coordinates",
]

LINEAGE = "workflow_lineage"


@dataclass(frozen=True)
class Lineage:
    """Identity and placement of an image; sizes are ``(width, height)`` pixels, offsets are the
    image's top-left corner in the parent / root image."""

    image_id: str
    size_wh: tuple[int, int]
    parent_offset_xy: tuple[int, int]
    parent_size_wh: tuple[int, int]
    root_id: str
    root_offset_xy: tuple[int, int]
    root_size_wh: tuple[int, int]

    @property
    def is_root(self) -> bool:
        return self.image_id == self.root_id and self.root_offset_xy == (0, 0)

    @classmethod
    def for_input(cls, image_id: str, size_wh: tuple[int, int]) -> Lineage:
        return cls(image_id, size_wh, (0, 0), size_wh, image_id, (0, 0), size_wh)

    def crop(self, crop_id: str, offset_xy: tuple[int, int], size_wh: tuple[int, int]) -> Lineage:
        """The lineage of a ``size_wh`` crop at ``offset_xy`` of this image."""
        root_x, root_y = self.root_offset_xy
        return Lineage(
            image_id=crop_id,
            size_wh=size_wh,
            parent_offset_xy=offset_xy,
            parent_size_wh=self.size_wh,
            root_id=self.root_id,
            root_offset_xy=(root_x + offset_xy[0], root_y + offset_xy[1]),
            root_size_wh=self.root_size_wh,
        )

    def root(self) -> Lineage:
        return Lineage.for_input(self.root_id, self.root_size_wh)


@dataclass(frozen=True)
class WorkflowImage:
    """An image flowing through a workflow: ``image.pixels_bgr`` is ``(H, W, 3) uint8``.

    ``video_metadata`` is the frame's metadata when the request gave it with the image (``None``
    otherwise: ``video()`` then assumes the reference's still-image defaults). Drawing on the
    image keeps it; a crop has none, as in the reference."""

    image: Image
    lineage: Lineage
    video_metadata: VideoMetadata | None = None

    @property
    def pixels_bgr(self) -> npt.NDArray[np.uint8]:
        return self.image.pixels_bgr

    def video(self) -> VideoMetadata:
        """The frame's metadata, or the reference's defaults for a still image."""
        return self.video_metadata or VideoMetadata.default_for(self.lineage.image_id)

    @classmethod
    def from_input(
        cls,
        pixels_bgr: npt.NDArray[np.uint8],
        image_id: str,
        video_metadata: VideoMetadata | None = None,
    ) -> WorkflowImage:
        size = (int(pixels_bgr.shape[1]), int(pixels_bgr.shape[0]))
        return cls(
            Image(pixels_bgr, id=image_id), Lineage.for_input(image_id, size), video_metadata
        )

    def crop(self, crop_id: str, xyxy: tuple[int, int, int, int]) -> WorkflowImage:
        """The region ``xyxy`` (integer pixels, end-exclusive) as a new image."""
        x1, y1, x2, y2 = xyxy
        pixels = np.ascontiguousarray(self.pixels_bgr[y1:y2, x1:x2])
        size = (int(pixels.shape[1]), int(pixels.shape[0]))
        image = Image(pixels, id=crop_id, parent_id=self.image.id, offset_xy=(x1, y1))
        return WorkflowImage(image, self.lineage.crop(crop_id, (x1, y1), size))

    def with_pixels(self, pixels_bgr: npt.NDArray[np.uint8]) -> WorkflowImage:
        """The same image (identity and placement) with new pixels, e.g. drawn on."""
        image = Image(
            pixels_bgr,
            id=self.image.id,
            parent_id=self.image.parent_id,
            offset_xy=self.image.offset_xy,
        )
        return WorkflowImage(image, self.lineage, self.video_metadata)


def attach_lineage(detections: sv.Detections, lineage: Lineage) -> sv.Detections:
    """Mark ``detections`` (in place) as made on the image of ``lineage``."""
    detections.metadata[LINEAGE] = lineage
    detections.data[PARENT_ID] = np.array([lineage.image_id] * len(detections), dtype=object)
    return detections


def lineage_of(detections: sv.Detections) -> Lineage | None:
    found = detections.metadata.get(LINEAGE)
    return found if isinstance(found, Lineage) else None


def to_root_coordinates(detections: sv.Detections) -> sv.Detections:
    """A copy of ``detections`` in the pixel coordinates of the workflow input they descend from
    (boxes, polygons, keypoints and masks shifted by the crop's offset). Detections already in
    input coordinates, or without lineage, are returned as they are."""
    lineage = lineage_of(detections)
    if lineage is None or lineage.is_root:
        return detections
    return to_image_coordinates(detections, lineage.root())


def to_image_coordinates(detections: sv.Detections, target: Lineage) -> sv.Detections:
    """A copy of ``detections`` (made on a crop of the image of ``target``, or on a crop of one
    of its ancestors) in the pixel coordinates of that image, marked as made on it. Detections
    without lineage only get the mark."""
    lineage = lineage_of(detections)
    if lineage is None:
        marked = detections[np.arange(len(detections))]
        assert isinstance(marked, sv.Detections)
        return attach_lineage(marked, target)
    dx = lineage.root_offset_xy[0] - target.root_offset_xy[0]
    dy = lineage.root_offset_xy[1] - target.root_offset_xy[1]
    shift = np.array([dx, dy], dtype=np.float32)
    data = dict(detections.data)
    if POLYGON in data:
        shifted = np.empty(len(detections), dtype=object)
        for index, polygon in enumerate(data[POLYGON]):
            shifted[index] = np.asarray(polygon, dtype=np.float32).reshape(-1, 2) + shift
        data[POLYGON] = shifted
    if KEYPOINTS_XY in data:
        data[KEYPOINTS_XY] = np.asarray(data[KEYPOINTS_XY], dtype=np.float32) + shift
    mask = None
    if detections.mask is not None:
        width, height = target.size_wh
        mask = np.zeros((len(detections), height, width), dtype=bool)
        crop_masks = np.asarray(detections.mask, dtype=bool)
        crop_h, crop_w = crop_masks.shape[1:]
        x0, y0 = max(0, -dx), max(0, -dy)  # parts of the crop left of / above the image
        mask[:, dy + y0 : dy + crop_h, dx + x0 : dx + crop_w] = crop_masks[
            :, y0 : max(y0, height - dy), x0 : max(x0, width - dx)
        ]
    moved = sv.Detections(
        xyxy=np.asarray(detections.xyxy, dtype=np.float32) + np.array([dx, dy, dx, dy], np.float32),
        mask=mask,
        confidence=detections.confidence,
        class_id=detections.class_id,
        tracker_id=detections.tracker_id,
        data=data,
        metadata=dict(detections.metadata),
    )
    return attach_lineage(moved, target)
