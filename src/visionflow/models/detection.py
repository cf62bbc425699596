"""Object detection for YOLO-family ONNX graphs (layouts in ``visionflow.models.yolo``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import make_detections
from visionflow.core.letterbox import ResizeMeta
from visionflow.models.base import SessionFactory
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import DetectionParams, require_params
from visionflow.models.yolo import OutputLayout, YoloRunner, decode_yolo_rows
from visionflow.runtime import OnnxSession

__all__ = ["ObjectDetectionModel", "OutputLayout", "decode_yolo_output"]


def decode_yolo_output(
    raw: npt.NDArray[np.floating], layout: OutputLayout, num_classes: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """One image's raw output → ``(N, 4)`` xyxy boxes, ``(N,)`` scores, ``(N,)`` class ids."""
    xyxy, scores, class_ids, _extra = decode_yolo_rows(raw, layout, num_classes)
    return xyxy, scores, class_ids


class ObjectDetectionModel:
    """A YOLO-family detector behind ``preprocess → forward → postprocess``."""

    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        self._runner = YoloRunner(manifest, session)

    @property
    def task(self) -> str:
        return "object-detection"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> ObjectDetectionModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def preprocess(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
        return self._runner.preprocess(images_bgr)

    def forward(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``(B, 3, H, W)`` → the first output, batch-first."""
        return self._runner.forward(tensor)[0]

    def postprocess(
        self, raw: npt.NDArray[np.float32], metas: Sequence[ResizeMeta], params: DetectionParams
    ) -> list[sv.Detections]:
        return [self._detections(raw[index], meta, params) for index, meta in enumerate(metas)]

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: DetectionParams
    ) -> list[sv.Detections]:
        checked = require_params(params, DetectionParams, type(self).__name__)
        return [
            self._detections(outputs[0], meta, checked)
            for outputs, meta in self._runner.each_image(images_bgr)
        ]

    def _detections(
        self, raw: npt.NDArray[np.float32], meta: ResizeMeta, params: DetectionParams
    ) -> sv.Detections:
        kept = self._runner.select(raw, meta, params)
        return make_detections(kept.xyxy, kept.scores, kept.class_ids, self.manifest.class_names)
