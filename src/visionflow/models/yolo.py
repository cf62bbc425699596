"""What YOLO-family heads share: batched forward with static/dynamic batch, row decoding, NMS.

Row layouts of the first output:
- ``yolov8`` (YOLOv8, YOLOv11, YOLOv5u): ``(B, 4 + C + E, N)`` — box centre/size, C class
  scores, E extra channels (32 mask coefficients for ``-seg``, 3K keypoint values for ``-pose``);
- ``yolov5``: ``(B, N, 5 + C + E)`` — box centre/size, objectness, class scores, extras;
- ``end2end``: ``(B, N, 6 + E)`` — rows the graph already selected: x1, y1, x2, y2 in network
  pixels, score, class id, extras. NMS-free heads (YOLO26, YOLOv10 exported with ``nms=False``,
  metadata ``end2end: True``) and embedded-NMS exports (``nms=True``, rows zero-padded) both emit
  it; no NMS runs on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from visionflow.core.boxes import clip_xyxy, cxcywh_to_xyxy
from visionflow.core.letterbox import ResizeMeta, unresize_xyxy
from visionflow.core.nms import non_max_suppression
from visionflow.errors import ModelLoadError
from visionflow.models.base import images_to_tensor
from visionflow.models.manifest import ModelManifest
from visionflow.models.params import DetectionParams
from visionflow.runtime import OnnxSession, TensorSpec

__all__ = [
    "END2END_ARCHITECTURES",
    "MAX_DYNAMIC_BATCH",
    "OutputLayout",
    "Preprocessor",
    "Selection",
    "YoloRunner",
    "check_input_size",
    "decode_yolo_rows",
    "forward_padded",
    "runner_layout",
    "select_detections",
    "select_end2end_rows",
]

OutputLayout = Literal["yolov8", "yolov5", "end2end"]

# Architectures whose first output holds already-selected rows (``end2end`` layout).
END2END_ARCHITECTURES = frozenset({"yolo-end2end", "yolo-end2end-seg", "yolo-end2end-pose"})

# Images per session.run for graphs with a dynamic batch dimension: bounds peak memory.
MAX_DYNAMIC_BATCH = 8


def decode_yolo_rows(
    raw: npt.NDArray[np.floating],
    layout: OutputLayout,
    num_classes: int,
    extra_channels: int = 0,
    above: float | None = None,
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]
]:
    """One image's raw rows → ``(N, 4)`` xyxy, ``(N,)`` scores, ``(N,)`` class ids, ``(N, E)``.

    ``above`` (``yolov8``/``yolov5`` layouts): only the rows whose score is strictly above it,
    in their order — the candidates NMS would consider — found from a max over the class scores
    first, so the argmax and the box conversion run on those rows only (the max is ~10x cheaper
    than the argmax over a ``(C, 8400)`` output)."""
    extra_text = f" + {extra_channels}" if extra_channels else ""
    if layout == "end2end":
        if raw.ndim != 2 or raw.shape[1] != 6 + extra_channels:
            raise ValueError(f"expected an (N, 6{extra_text}) output, got {tuple(raw.shape)}")
        return (
            np.ascontiguousarray(raw[:, :4], dtype=np.float32),
            np.ascontiguousarray(raw[:, 4], dtype=np.float32),
            # Class ids travel as floats holding integers; truncate as the reference's .int() does
            # (out-of-range values clipped first so the cast cannot overflow; selection drops them).
            np.clip(np.nan_to_num(raw[:, 5], nan=-1.0), -1, num_classes).astype(np.int64),
            np.ascontiguousarray(raw[:, 6:], dtype=np.float32),
        )
    if layout == "yolov8":
        if raw.ndim != 2 or raw.shape[0] != 4 + num_classes + extra_channels:
            raise ValueError(
                f"expected a (4 + {num_classes}{extra_text}, N) output for {num_classes} classes, "
                f"got {tuple(raw.shape)}"
            )
        if above is not None and num_classes:
            best = raw[4 : 4 + num_classes].max(axis=0).astype(np.float32)
            raw = raw[:, best > np.float32(above)]
        rows = raw.T
        class_scores = rows[:, 4 : 4 + num_classes]
        extra = rows[:, 4 + num_classes :]
    else:
        if raw.ndim != 2 or raw.shape[1] != 5 + num_classes + extra_channels:
            raise ValueError(
                f"expected an (N, 5 + {num_classes}{extra_text}) output for {num_classes} "
                f"classes, got {tuple(raw.shape)}"
            )
        class_scores = raw[:, 5 : 5 + num_classes] * raw[:, 4:5]
        rows = raw
        if above is not None and num_classes:
            passing = class_scores.max(axis=1).astype(np.float32) > np.float32(above)
            rows, class_scores = raw[passing], class_scores[passing]
        extra = rows[:, 5 + num_classes :]
    class_ids = np.argmax(class_scores, axis=1).astype(np.int64)
    scores = np.take_along_axis(class_scores, class_ids[:, None], axis=1)[:, 0]
    return (
        cxcywh_to_xyxy(rows[:, :4]),
        scores.astype(np.float32),
        class_ids,
        np.ascontiguousarray(extra, dtype=np.float32),
    )


def select_end2end_rows(
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    *,
    confidence: float,
    num_classes: int,
    max_detections: int,
) -> npt.NDArray[np.int64]:
    """Indices of already-selected rows to keep, best first: ``(N,)`` scores and class ids →
    ``(K,) int64``.

    Scores *at or above* ``confidence`` pass, as in the reference's fused-NMS path (compared in
    float32); rows scoring 0 are the padding of embedded-NMS exports and never pass, nor do rows
    whose class id is outside the label set. The graph's order is kept (it is already by score).
    """
    passing = (scores >= np.float32(confidence)) & (scores > 0)
    passing &= (class_ids >= 0) & (class_ids < num_classes)
    candidates = np.flatnonzero(passing)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return order[: max(max_detections, 0)].astype(np.int64)


def check_input_size(manifest: ModelManifest, spec: TensorSpec, graph: str) -> None:
    """A fixed ``(B, 3, H, W)`` graph input must have the manifest's size (``graph`` names the
    input in the error: "ONNX input", "detector input")."""
    expected = (manifest.input.height, manifest.input.width)
    fixed_hw = spec.shape[2:]
    if all(d is not None for d in fixed_hw) and tuple(fixed_hw) != expected:
        raise ModelLoadError(
            f"manifest input size {expected[1]}x{expected[0]} does not match the {graph} "
            f"{fixed_hw[1]}x{fixed_hw[0]}"
        )


def forward_padded(
    tensor: npt.NDArray[np.float32],
    batch_size: int | None,
    run: Callable[[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]]],
) -> list[npt.NDArray[np.float32]]:
    """``run`` on ``(B, 3, H, W)``: in one go for a dynamic batch (``batch_size`` None) or when
    B matches; else in ``batch_size`` parts, the last one zero-padded, outputs cut back to B."""
    count = tensor.shape[0]
    if batch_size is None or count == batch_size:
        return run(tensor)
    parts: list[list[npt.NDArray[np.float32]]] = []
    for start in range(0, count, batch_size):
        part = tensor[start : start + batch_size]
        if part.shape[0] < batch_size:
            filler = np.zeros((batch_size - part.shape[0], *part.shape[1:]), dtype=np.float32)
            part = np.concatenate([part, filler])
        parts.append(run(part))
    return [np.concatenate(outputs)[:count] for outputs in zip(*parts, strict=True)]


@dataclass(frozen=True)
class Selection:
    """The boxes NMS kept for one image, best first.

    ``xyxy_input``: network-input pixels; ``xyxy``: original pixels (clamped, rounded);
    ``extra``: the kept rows' extra channels ``(K, E)``.
    """

    xyxy_input: npt.NDArray[np.float32]
    xyxy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]
    extra: npt.NDArray[np.float32]


def select_detections(
    raw: npt.NDArray[np.float32],
    meta: ResizeMeta,
    params: DetectionParams,
    class_names: Sequence[str],
    layout: OutputLayout = "yolov8",
    extra_channels: int = 0,
) -> Selection:
    """One image's raw rows for ``class_names`` → the boxes the reference's NMS keeps (for
    ``end2end`` rows: those above the threshold) that ``params.class_filter`` allows, mapped back
    to the original image."""
    # NMS considers only rows above the threshold: decode those alone.
    above = None if layout == "end2end" else params.confidence
    xyxy, scores, class_ids, extra = decode_yolo_rows(
        raw, layout, len(class_names), extra_channels, above
    )
    if layout == "end2end":
        keep = select_end2end_rows(
            scores,
            class_ids,
            confidence=params.confidence,
            num_classes=len(class_names),
            max_detections=params.max_detections,
        )
    else:
        keep = non_max_suppression(
            xyxy,
            scores,
            class_ids,
            confidence=params.confidence,
            iou_threshold=params.iou_threshold,
            class_agnostic=params.class_agnostic_nms,
            max_detections=params.max_detections,
        )
    if params.class_filter:
        allowed = [i for i, name in enumerate(class_names) if name in params.class_filter]
        keep = keep[np.isin(class_ids[keep], allowed)]
    # Clamp to the image, then round half to even: the reference's default engine order.
    boxes = np.round(clip_xyxy(unresize_xyxy(xyxy[keep], meta), meta.original_wh))
    return Selection(xyxy[keep], boxes, scores[keep], class_ids[keep], extra[keep])


def runner_layout(architecture: str) -> OutputLayout:
    """The row layout of an architecture's first output."""
    if architecture in END2END_ARCHITECTURES:
        return "end2end"
    return "yolov5" if architecture == "yolov5" else "yolov8"


Preprocessor = Callable[
    [Sequence[npt.NDArray[np.uint8]]], tuple[npt.NDArray[np.float32], list[ResizeMeta]]
]


class YoloRunner:
    """Preprocess and run a YOLO-family graph; select boxes with the reference's NMS.

    ``preprocess`` replaces the shared image → tensor step (``images_to_tensor`` with the
    manifest's input spec) for graphs trained on another resize (RF-DETR's PIL resize).
    """

    def __init__(
        self,
        manifest: ModelManifest,
        session: OnnxSession,
        preprocess: Preprocessor | None = None,
    ) -> None:
        self.manifest = manifest
        self.session = session
        self._preprocess = preprocess
        self.layout = runner_layout(manifest.architecture)
        spec = session.input
        if len(spec.shape) != 4:
            raise ModelLoadError(
                f"model input {spec.name!r} must be (B, 3, H, W), got {spec.shape}"
            )
        check_input_size(manifest, spec, "ONNX input")
        self.batch_size = spec.shape[0] or manifest.input.batch_size

    @property
    def chunk_size(self) -> int:
        return self.batch_size or MAX_DYNAMIC_BATCH

    def preprocess(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[ResizeMeta]]:
        if self._preprocess is not None:
            return self._preprocess(images_bgr)
        return images_to_tensor(images_bgr, self.manifest.input)

    def forward(self, tensor: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        """``(B, 3, H, W)`` → every output, batch-first; pads to a static batch size."""
        return forward_padded(tensor, self.batch_size, self._run)

    def each_image(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]]
    ) -> Iterator[tuple[list[npt.NDArray[np.float32]], ResizeMeta]]:
        """Run the graph over ``images_bgr`` in batches; yield each image's outputs and mapping."""
        step = self.chunk_size
        for start in range(0, len(images_bgr), step):
            tensor, metas = self.preprocess(images_bgr[start : start + step])
            outputs = self.forward(tensor)
            for index, meta in enumerate(metas):
                yield [output[index] for output in outputs], meta

    def _run(self, tensor: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        outputs = self.session.run({self.session.input.name: tensor})
        return [np.asarray(o, dtype=np.float32) for o in outputs]

    def select(
        self,
        raw: npt.NDArray[np.float32],
        meta: ResizeMeta,
        params: DetectionParams,
        extra_channels: int = 0,
    ) -> Selection:
        return select_detections(
            raw, meta, params, self.manifest.class_names, self.layout, extra_channels
        )
