"""Instance segmentation for YOLOv8/v11/26-seg graphs: ``output0 (B, 4+C+P, N)`` (or
end-to-end rows ``(B, N, 6+P)``) + protos ``(B, P, Hm, Wm)``. Masks per
``visionflow.core.masks`` — probabilities kept where > 0.5, or for YOLO26
(``extra["masks"] == "logits"``) logits kept where > 0, as the reference decodes each family;
polygons land in ``data["polygon"]``."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import POLYGON, make_detections
from visionflow.core.letterbox import ResizeMeta
from visionflow.core.masks import decode_prototype_masks, mask_to_polygon, masks_to_image
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import SegmentationParams, require_params
from visionflow.models.yolo import YoloRunner
from visionflow.runtime import OnnxSession

# SegmentationParams lives in visionflow.models.params; it stays importable from here.
__all__ = ["InstanceSegmentationModel", "SegmentationParams", "with_masks"]


class InstanceSegmentationModel:
    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        self._runner = YoloRunner(manifest, session)
        if len(session.outputs) < 2 or len(session.outputs[1].shape) != 4:
            raise ModelLoadError(
                "an instance segmentation graph needs a second output of prototypes (B, P, Hm, Wm)"
            )
        channels = session.outputs[1].shape[1]
        if channels is None:
            raise ModelLoadError("the prototype output must have a fixed channel count")
        self._proto_channels = channels
        # YOLO26 masks are thresholded as logits at 0, YOLOv8/11 ones as probabilities at 0.5.
        self._logits = manifest.extra.get("masks") == "logits"

    @property
    def task(self) -> str:
        return "instance-segmentation"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> InstanceSegmentationModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: SegmentationParams
    ) -> list[sv.Detections]:
        seg = require_params(params, SegmentationParams, type(self).__name__)
        return [
            self._postprocess(outputs[0], outputs[1], meta, seg)
            for outputs, meta in self._runner.each_image(images_bgr)
        ]

    def _postprocess(
        self,
        raw: npt.NDArray[np.float32],
        protos: npt.NDArray[np.float32],
        meta: ResizeMeta,
        params: SegmentationParams,
    ) -> sv.Detections:
        kept = self._runner.select(raw, meta, params, extra_channels=self._proto_channels)
        detections = make_detections(
            kept.xyxy, kept.scores, kept.class_ids, self.manifest.class_names
        )
        proto_masks = decode_prototype_masks(
            kept.extra, protos, kept.xyxy_input, meta.input_wh, logits=self._logits
        )
        threshold = 0.0 if self._logits else 0.5
        masks, (sx, sy) = masks_to_image(proto_masks, meta, params.resolution_factor, threshold)
        return with_masks(detections, masks, (sx, sy), meta.original_wh)


def with_masks(
    detections: sv.Detections,
    masks: npt.NDArray[np.bool_],
    scale_xy: tuple[float, float],
    original_wh: tuple[int, int],
) -> sv.Detections:
    """``detections`` with ``(N, h, w)`` masks attached: polygons (the largest external
    contour, scaled by ``scale_xy`` to image pixels) in ``data["polygon"]`` and the masks,
    brought to the image size with nearest-neighbour if decoded at a reduced resolution."""
    polygons = np.empty(len(detections), dtype=object)
    for index, mask in enumerate(masks):
        polygons[index] = mask_to_polygon(mask) * np.array(scale_xy, dtype=np.float32)
    width, height = original_wh
    if masks.shape[1:] != (height, width):
        full = np.zeros((len(masks), height, width), dtype=bool)
        for index, mask in enumerate(masks):
            full[index] = cv2.resize(
                mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
            ).astype(bool)
        masks = full
    detections.mask = masks
    detections.data[POLYGON] = polygons
    return detections
