"""Keypoint detection for YOLOv8/v11-pose graphs: ``(B, 4 + C + 3K, N)`` rows whose extra
channels are K triples ``(x, y, confidence)`` in network-input pixels.

Keypoint names come from the manifest: ``extra["keypoints"] = {"names": {"<class id>": [...]},
"skeleton": [[a, b], ...]}``; a class without names gets ``"0"``, ``"1"``...
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import (
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    make_detections,
)
from visionflow.core.letterbox import ResizeMeta
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import KeypointParams, require_params
from visionflow.models.yolo import YoloRunner
from visionflow.runtime import OnnxSession

__all__ = ["KeypointDetectionModel", "keypoint_names"]


def keypoint_names(manifest: ModelManifest, class_id: int, count: int) -> list[str]:
    names = manifest.extra.get("keypoints", {}).get("names", {}).get(str(class_id))
    if not names:
        return [str(i) for i in range(count)]
    return [str(n) for n in names][:count] + [str(i) for i in range(len(names), count)]


class KeypointDetectionModel:
    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        self._runner = YoloRunner(manifest, session)
        count = manifest.extra.get("keypoints", {}).get("count")
        if not isinstance(count, int) or count <= 0:
            raise ModelLoadError('a keypoint model needs extra["keypoints"]["count"] > 0')
        self._count = count

    @property
    def task(self) -> str:
        return "keypoint-detection"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> KeypointDetectionModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: KeypointParams
    ) -> list[sv.Detections]:
        """Every keypoint is returned: ``params.keypoint_confidence`` applies where results
        are written."""
        checked = require_params(params, KeypointParams, type(self).__name__)
        return [
            self._postprocess(outputs[0], meta, checked)
            for outputs, meta in self._runner.each_image(images_bgr)
        ]

    def _postprocess(
        self, raw: npt.NDArray[np.float32], meta: ResizeMeta, params: KeypointParams
    ) -> sv.Detections:
        kept = self._runner.select(raw, meta, params, extra_channels=3 * self._count)
        detections = make_detections(
            kept.xyxy, kept.scores, kept.class_ids, self.manifest.class_names
        )
        triples = kept.extra.reshape(-1, self._count, 3)
        xy = triples[..., :2].copy()
        # Mapped back like boxes in float32 and rounded half to even, but not clamped: the
        # reference leaves keypoints where they fall.
        xy[..., 0] = (xy[..., 0] - meta.pad_xy[0]) / np.float32(meta.scale_xy[0])
        xy[..., 1] = (xy[..., 1] - meta.pad_xy[1]) / np.float32(meta.scale_xy[1])
        xy = np.round(xy)
        names = np.empty(len(detections), dtype=object)
        for index, class_id in enumerate(kept.class_ids.tolist()):
            names[index] = keypoint_names(self.manifest, class_id, self._count)
        detections.data[KEYPOINTS_XY] = xy.astype(np.float32)
        detections.data[KEYPOINTS_CONFIDENCE] = triples[..., 2].astype(np.float32)
        detections.data[KEYPOINTS_CLASS_NAME] = names
        return detections
