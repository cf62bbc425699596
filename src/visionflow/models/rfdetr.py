"""RF-DETR (Roboflow's DETR detector): outputs ``dets (B, Q, 4)`` normalised ``cx, cy, w, h``
and ``labels (B, Q, K)`` class logits (K >= C: the extra columns are no class); RF-DETR-seg
adds ``masks (B, Q, Hm, Wm)``, one mask logit plane per query on the network-input grid.

Pre-processing follows the reference's default engine: the BGR image is resized with PIL's
bilinear filter (antialiased when shrinking — not OpenCV's) straight to the input size, or, for
a letterboxed dataset (``extra["letterbox_wh"]``), first letterboxed to that size with OpenCV
and then stretched with PIL; then RGB, ``/ 255`` and ImageNet mean/std. Post-processing: sigmoid,
the Q best (query, column) pairs, columns that are no class dropped, scores strictly above the
threshold, boxes scaled to the image. ``extra["class_columns"]`` maps logit columns to class ids
(-1: dropped) when the package lists a background placeholder among its classes.

Masks (``rfdetr-seg``) as the reference decodes them: the kept queries' planes, not cropped to
their boxes, the letterbox padding cut off the grid, an antialiased bilinear resize to the image
(or the reduced size ``mask_decode_mode`` asks for) and logits ``> 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
from PIL import Image

from visionflow.core.detections import make_detections
from visionflow.core.letterbox import ResizeMeta, resize_to_input
from visionflow.core.masks import masks_to_image
from visionflow.errors import ModelLoadError
from visionflow.models.base import SessionFactory, scaled_pixels
from visionflow.models.detr import select_queries, sigmoid, topk_queries
from visionflow.models.manifest import InputSpec, ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.models.params import DetectionParams, SegmentationParams, require_params
from visionflow.models.segmentation import with_masks
from visionflow.models.yolo import YoloRunner
from visionflow.runtime import OnnxSession

__all__ = ["RfDetrModel", "class_column_ids", "rfdetr_tensor"]


def _stretch_meta(original_wh: tuple[int, int], input_wh: tuple[int, int]) -> ResizeMeta:
    (width, height), (target_w, target_h) = original_wh, input_wh
    return ResizeMeta(
        original_wh=original_wh,
        input_wh=input_wh,
        scale_xy=(target_w / width, target_h / height),
        pad_xy=(0, 0),
        content_wh=input_wh,
    )


def rfdetr_tensor(
    images_bgr: Sequence[npt.NDArray[np.uint8]],
    spec: InputSpec,
    letterbox_wh: tuple[int, int] | None = None,
) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
    """``(B, 3, H, W) float32`` as the reference feeds RF-DETR, plus each image's mapping into
    the space its boxes are normalised to (the letterbox canvas, else the input)."""
    batch = np.empty((len(images_bgr), 3, spec.height, spec.width), dtype=np.float32)
    metas: list[ResizeMeta] = []
    for index, image in enumerate(images_bgr):
        height, width = image.shape[:2]
        if width <= 0 or height <= 0:
            raise ValueError("cannot resize an empty image")
        if letterbox_wh is not None:
            pixels, meta = resize_to_input(image, letterbox_wh, "letterbox", spec.padding_value)
        else:
            pixels, meta = image, _stretch_meta((width, height), (spec.width, spec.height))
        # PIL resizes each channel alone, so the BGR order can wait until after the resize.
        resized = np.asarray(
            Image.fromarray(np.ascontiguousarray(pixels)).resize(
                (spec.width, spec.height), Image.Resampling.BILINEAR
            ),
            dtype=np.uint8,
        )
        if spec.color_mode == "rgb":
            resized = np.asarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        batch[index] = scaled_pixels(resized, spec).transpose(2, 0, 1)
        metas.append(meta)
    return batch, metas


def class_column_ids(manifest: ModelManifest, columns: int) -> npt.NDArray[np.int64]:
    """``(K,)`` class id of each logit column, -1 where a column is no class."""
    mapping = manifest.extra.get("class_columns")
    ids = np.full(columns, -1, dtype=np.int64)
    if mapping is None:
        count = min(columns, len(manifest.class_names))
        ids[:count] = np.arange(count)
        return ids
    known = np.asarray(mapping, dtype=np.int64)[:columns]
    ids[: known.shape[0]] = known
    return ids


class RfDetrModel:
    """An RF-DETR detector (task ``object-detection``) or instance segmenter
    (``instance-segmentation``, with a ``masks`` output) behind ``preprocess → forward →
    postprocess``."""

    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        self.manifest = manifest
        letterbox = manifest.extra.get("letterbox_wh")
        self._letterbox_wh = (int(letterbox[0]), int(letterbox[1])) if letterbox else None
        if manifest.input.layout != "nchw":
            raise ModelLoadError("an RF-DETR graph takes a (B, 3, H, W) input")
        self._runner = YoloRunner(manifest, session, self.preprocess)
        outputs = manifest.extra.get("outputs") or {"boxes": 0, "logits": 1}
        try:
            self._boxes, self._logits = int(outputs["boxes"]), int(outputs["logits"])
            logits_shape = session.outputs[self._logits].shape
            boxes_shape = session.outputs[self._boxes].shape
        except (KeyError, IndexError, TypeError, ValueError):
            raise ModelLoadError(
                'an RF-DETR manifest needs extra["outputs"] = {"boxes": i, "logits": j} naming '
                "two of the graph's outputs"
            ) from None
        if len(boxes_shape) != 3 or boxes_shape[2] != 4 or len(logits_shape) != 3:
            raise ModelLoadError(
                f"RF-DETR outputs must be (B, Q, 4) boxes and (B, Q, K) logits, got "
                f"{list(boxes_shape)} and {list(logits_shape)}"
            )
        self._masks: int | None = None
        if manifest.task == "instance-segmentation":
            index = outputs.get("masks")
            if not isinstance(index, int) or not 0 <= index < len(session.outputs):
                raise ModelLoadError(
                    'an RF-DETR segmentation manifest needs extra["outputs"]["masks"] naming '
                    "the (B, Q, Hm, Wm) output"
                )
            if len(session.outputs[index].shape) != 4:
                raise ModelLoadError(
                    f"RF-DETR masks must be (B, Q, Hm, Wm), got "
                    f"{list(session.outputs[index].shape)}"
                )
            self._masks = index

    @property
    def task(self) -> str:
        return self.manifest.task

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> RfDetrModel:
        return cls(package.manifest, sessions(package.weight_path()))

    def preprocess(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
        return rfdetr_tensor(images_bgr, self.manifest.input, self._letterbox_wh)

    def forward(self, tensor: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        """``(B, 3, H, W)`` → every output, batch-first."""
        return self._runner.forward(tensor)

    def postprocess(
        self,
        outputs: Sequence[npt.NDArray[np.float32]],
        metas: Sequence[ResizeMeta],
        params: DetectionParams,
    ) -> list[sv.Detections]:
        return [
            self._detections([output[index] for output in outputs], meta, params)
            for index, meta in enumerate(metas)
        ]

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: DetectionParams
    ) -> list[sv.Detections]:
        """``params`` is a ``SegmentationParams`` for a segmenter."""
        expected = DetectionParams if self._masks is None else SegmentationParams
        checked = require_params(params, expected, type(self).__name__)
        return [
            self._detections(outputs, meta, checked)
            for outputs, meta in self._runner.each_image(images_bgr)
        ]

    def _detections(
        self, outputs: Sequence[npt.NDArray[np.float32]], meta: ResizeMeta, params: DetectionParams
    ) -> sv.Detections:
        boxes, logits = outputs[self._boxes], outputs[self._logits]
        queries, columns, scores = topk_queries(sigmoid(logits), logits.shape[0])
        class_ids = class_column_ids(self.manifest, logits.shape[1])[columns]
        names = self.manifest.class_names
        kept = select_queries(
            np.ascontiguousarray(boxes, dtype=np.float32),
            queries,
            class_ids,
            scores,
            meta,
            params,
            names,
        )
        detections = make_detections(kept.xyxy, kept.scores, kept.class_ids, names)
        if self._masks is None:
            return detections
        seg = require_params(params, SegmentationParams, type(self).__name__)
        planes = np.ascontiguousarray(outputs[self._masks][kept.queries], dtype=np.float32)
        masks, scale_xy = masks_to_image(planes, meta, seg.resolution_factor, threshold=0.0)
        return with_masks(detections, masks, scale_xy, meta.original_wh)
