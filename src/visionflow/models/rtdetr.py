"""RT-DETR as Ultralytics exports it: one output of Q queries, boxes normalised ``cx, cy, w, h``.

Two row layouts (``manifest.extra["rows"]``, chosen by the importer):
- ``rows`` (Ultralytics >= 8.4): ``(B, Q, 6)`` = cx, cy, w, h, score, class — the graph already
  took the top Q of the flattened (query, class) scores;
- ``scores`` (older exports): ``(B, Q, 4 + C)`` = cx, cy, w, h and C sigmoid scores; the same
  top-k runs here.

The image is stretched to the input (Ultralytics' ``scale_fill`` for RT-DETR); no NMS.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.detections import make_detections
from visionflow.core.letterbox import ResizeMeta
from visionflow.errors import ModelLoadError
from visionflow.models.detection import ObjectDetectionModel
from visionflow.models.detr import select_queries, topk_queries
from visionflow.models.manifest import ModelManifest
from visionflow.models.params import DetectionParams
from visionflow.runtime import OnnxSession

__all__ = ["RtDetrModel"]


class RtDetrModel(ObjectDetectionModel):
    """An Ultralytics RT-DETR detector: the YOLO detector's pipeline, its own rows."""

    def __init__(self, manifest: ModelManifest, session: OnnxSession) -> None:
        super().__init__(manifest, session)
        rows = manifest.extra.get("rows")
        if rows not in ("rows", "scores"):
            raise ModelLoadError('an RT-DETR manifest needs extra["rows"]: "rows" or "scores"')
        self._rows: str = rows
        width = 6 if rows == "rows" else 4 + len(manifest.class_names)
        shape = session.outputs[0].shape
        if len(shape) != 3 or shape[2] != width:
            raise ModelLoadError(
                f"RT-DETR output {session.outputs[0].name}{list(shape)} is not (B, Q, {width})"
            )

    def _detections(
        self, raw: npt.NDArray[np.float32], meta: ResizeMeta, params: DetectionParams
    ) -> sv.Detections:
        names = self.manifest.class_names
        if self._rows == "rows":
            queries = np.arange(raw.shape[0], dtype=np.int64)
            scores = np.ascontiguousarray(raw[:, 4], dtype=np.float32)
            class_ids = np.clip(np.nan_to_num(raw[:, 5], nan=-1.0), -1, len(names)).astype(np.int64)
        else:
            queries, class_ids, scores = topk_queries(
                np.ascontiguousarray(raw[:, 4:], dtype=np.float32), raw.shape[0]
            )
        kept = select_queries(
            np.ascontiguousarray(raw[:, :4], dtype=np.float32),
            queries,
            class_ids,
            scores,
            meta,
            params,
            names,
        )
        return make_detections(kept.xyxy, kept.scores, kept.class_ids, names)
