"""Object detection for YOLO-family ONNX graphs.

Output layouts:
- ``yolov8`` (also YOLOv11, YOLOv5u): ``(B, 4 + C, N)`` — box centre/size then C class scores;
- ``yolov5``: ``(B, N, 5 + C)`` — box centre/size, objectness, then C class scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.boxes import clip_xyxy, cxcywh_to_xyxy
from visionflow.core.detections import CLASS_NAME, make_detections
from visionflow.core.letterbox import ResizeMeta, unresize_xyxy
from visionflow.core.nms import non_max_suppression
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory, images_to_tensor
from visionflow.models.manifest import ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import DetectionParams
from visionflow.runtime import OnnxSession

__all__ = ["ObjectDetectionModel", "OutputLayout", "decode_yolo_output"]

OutputLayout = Literal["yolov8", "yolov5"]

# Images per session.run for graphs with a dynamic batch dimension: bounds peak memory.
_MAX_DYNAMIC_BATCH = 8


def decode_yolo_output(
    raw: npt.NDArray[np.floating], layout: OutputLayout, num_classes: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """One image's raw output → ``(N, 4)`` xyxy boxes, ``(N,)`` scores, ``(N,)`` class ids."""
    if layout == "yolov8":
        if raw.ndim != 2 or raw.shape[0] != 4 + num_classes:
            raise ValueError(
                f"expected a (4 + {num_classes}, N) output for {num_classes} classes, "
                f"got {tuple(raw.shape)}"
            )
        rows = raw.T
        class_scores = rows[:, 4:]
    else:
        if raw.ndim != 2 or raw.shape[1] != 5 + num_classes:
            raise ValueError(
                f"expected an (N, 5 + {num_classes}) output for {num_classes} classes, "
                f"got {tuple(raw.shape)}"
            )
        rows = raw
        class_scores = rows[:, 5:] * rows[:, 4:5]
    class_ids = np.argmax(class_scores, axis=1).astype(np.int64)
    scores = np.take_along_axis(class_scores, class_ids[:, None], axis=1)[:, 0]
    return cxcywh_to_xyxy(rows[:, :4]), scores.astype(np.float32), class_ids


class ObjectDetectionModel:
    """A YOLO-family detector behind ``preprocess → forward → postprocess``."""

    def __init__(self, manifest: ModelManifest, session: OnnxSession, layout: OutputLayout):
        self.manifest = manifest
        self._session = session
        self._layout: OutputLayout = layout
        spec = session.input
        expected = (manifest.input.height, manifest.input.width)
        if len(spec.shape) != 4:
            raise ModelLoadError(
                f"model input {spec.name!r} must be (B, 3, H, W), got {spec.shape}"
            )
        fixed_hw = spec.shape[2:]
        if all(d is not None for d in fixed_hw) and tuple(fixed_hw) != expected:
            raise ModelLoadError(
                f"manifest input size {expected[1]}x{expected[0]} does not match the ONNX input "
                f"{fixed_hw[1]}x{fixed_hw[0]}"
            )
        self._batch_size = spec.shape[0] or manifest.input.batch_size

    @property
    def task(self) -> str:
        return "object-detection"

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> ObjectDetectionModel:
        layout: OutputLayout = "yolov5" if package.manifest.architecture == "yolov5" else "yolov8"
        return cls(package.manifest, sessions(package.weight_path()), layout)

    def preprocess(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
        return images_to_tensor(images_bgr, self.manifest.input)

    def forward(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``(B, 3, H, W)`` → the first output, batch-first; pads to a static batch size."""
        count = tensor.shape[0]
        static = self._batch_size
        if static is not None and count != static:
            chunks = []
            for start in range(0, count, static):
                part = tensor[start : start + static]
                if part.shape[0] < static:
                    filler = np.zeros((static - part.shape[0], *part.shape[1:]), dtype=np.float32)
                    part = np.concatenate([part, filler])
                chunks.append(self._run(part))
            return np.concatenate(chunks)[:count]
        return self._run(tensor)

    def _run(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        outputs = self._session.run({self._session.input.name: tensor})
        return np.asarray(outputs[0], dtype=np.float32)

    def postprocess(
        self, raw: npt.NDArray[np.float32], metas: Sequence[ResizeMeta], params: DetectionParams
    ) -> list[sv.Detections]:
        class_names = self.manifest.class_names
        results: list[sv.Detections] = []
        for index, meta in enumerate(metas):
            xyxy, scores, class_ids = decode_yolo_output(raw[index], self._layout, len(class_names))
            keep = non_max_suppression(
                xyxy,
                scores,
                class_ids,
                confidence=params.confidence,
                iou_threshold=params.iou_threshold,
                class_agnostic=params.class_agnostic_nms,
                max_detections=params.max_detections,
            )
            # Clamp to the image, then round half to even: the reference's default engine order.
            boxes = np.round(clip_xyxy(unresize_xyxy(xyxy[keep], meta), meta.original_wh))
            detections = make_detections(boxes, scores[keep], class_ids[keep], class_names)
            if params.class_filter:
                allowed = set(params.class_filter)
                mask = np.array([n in allowed for n in detections.data[CLASS_NAME]], dtype=bool)
                filtered = detections[mask]
                assert isinstance(filtered, sv.Detections)
                detections = filtered
            results.append(detections)
        return results

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: DetectionParams
    ) -> list[sv.Detections]:
        results: list[sv.Detections] = []
        step = self._batch_size or _MAX_DYNAMIC_BATCH
        for start in range(0, len(images_bgr), step):
            chunk = images_bgr[start : start + step]
            tensor, metas = self.preprocess(chunk)
            results.extend(self.postprocess(self.forward(tensor), metas, params))
        return results
