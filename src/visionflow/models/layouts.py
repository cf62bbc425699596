"""Which output layout an imported graph has, read from its ONNX outputs and metadata.

An importer knows the task and the class names; this module looks at the graph's outputs (and
what the exporter wrote about them) and picks the architecture plugin that decodes them:

- detection: YOLOv8/11/26 one-to-many ``(B, 4+C, N)`` → ``yolov8``; YOLOv5 ``(B, N, 5+C)`` →
  ``yolov5``; end-to-end or embedded-NMS rows ``(B, N, 6)`` = x1, y1, x2, y2, score, class →
  ``yolo-end2end``; Ultralytics RT-DETR ``(B, Q, 6)`` = cx, cy, w, h, score, class (or older
  ``(B, Q, 4+C)``) → ``rtdetr``; RF-DETR ``dets (B, Q, 4)`` + ``labels (B, Q, >=C)`` → ``rfdetr``;
- instance segmentation: YOLOv8/11/26-seg ``(B, 4+C+P, N)`` + protos ``(B, P, Hm, Wm)`` →
  ``yolov8-seg``; end-to-end rows ``(B, N, 6+P)`` + protos → ``yolo-end2end-seg``; RF-DETR-seg
  ``dets`` + ``labels`` + ``masks (B, Q, Hm, Wm)`` → ``rfdetr-seg``;
- keypoints: YOLOv8/11/26-pose ``(B, 4+C+3K, N)`` → ``yolov8-pose``; end-to-end rows
  ``(B, N, 6+3K)`` → ``yolo-end2end-pose``.

Ultralytics marks end-to-end exports with ``end2end: True`` (YOLO26/YOLOv10, ``nms=False``) and
embedded NMS with ``args: {'nms': True}``; RT-DETR by ``head: RTDETRDecoder``. Roboflow folders only
say ``model_type`` (``yolov5s``, ``yolo26n``, ``rfdetr-base``...), which breaks ties between shapes.
A graph that fits none raises an error naming its outputs and the layouts this module knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from visionflow.errors import InvalidModelPackageError
from visionflow.runtime import TensorSpec
from visionflow.runtime.session import OnnxInfo

__all__ = [
    "GraphFacts",
    "describe_outputs",
    "task_architecture",
]

_RTDETR_HEAD = "RTDETRDecoder"
# Ultralytics made RT-DETR exports emit top-k rows (cx, cy, w, h, score, class) during 8.4.x
# (PR #24403); before 8.4 they emitted (cx, cy, w, h) + C sigmoid scores. 8.4.190 is the oldest
# version checked to emit rows, so for C = 2 (both 6 wide) versions in between are ambiguous.
_RTDETR_ROWS_SINCE = (8, 4, 190)
_RTDETR_SCORES_BEFORE = (8, 4, 0)

_LAYOUTS = {
    "object-detection": (
        "yolov8 (B, 4+C, N); yolov5 (B, N, 5+C); end-to-end or embedded-NMS rows (B, N, 6) = "
        "x1, y1, x2, y2, score, class; RT-DETR (head RTDETRDecoder) (B, Q, 6) or (B, Q, 4+C); "
        "RF-DETR dets (B, Q, 4) + labels (B, Q, >=C)"
    ),
    "instance-segmentation": (
        "yolov8-seg (B, 4+C+P, N) + protos (B, P, Hm, Wm); end-to-end or embedded-NMS rows "
        "(B, N, 6+P) + protos; RF-DETR-seg dets (B, Q, 4) + labels (B, Q, >=C) + masks "
        "(B, Q, Hm, Wm)"
    ),
    "keypoint-detection": (
        "yolov8-pose (B, 4+C+3K, N); end-to-end or embedded-NMS rows (B, N, 6+3K)"
    ),
}


@dataclass(frozen=True)
class GraphFacts:
    """What the exporter said about a graph, besides its outputs.

    ``end2end``: True when the rows are already selected (Ultralytics ``end2end: True`` or
    ``nms=True``), False when the metadata rules that out, None when nothing says; ``head``:
    Ultralytics' head class name; ``hint``: Roboflow ``model_type`` (lower case); ``version``:
    the exporter's version string; ``keypoints``: K from ``kpt_shape`` when known.
    """

    end2end: bool | None = None
    head: str = ""
    hint: str = ""
    version: str = ""
    keypoints: int | None = None

    @property
    def hints_end2end(self) -> bool:
        """Roboflow's YOLO26/YOLOv10 packages usually hold NMS-free graphs."""
        return self.hint.startswith(("yolo26", "yolov10"))

    @property
    def yolo26(self) -> bool:
        """A YOLO26 head: Ultralytics ``Segment26``/``Pose26``... or ``model_type`` ``yolo26*``
        (YOLO26 detectors export a plain ``Detect`` head, told apart by nothing)."""
        return self.head.endswith("26") or self.hint.startswith("yolo26")

    @property
    def hints_rfdetr(self) -> bool:
        return self.hint.startswith(("rfdetr", "rf-detr"))


def describe_outputs(outputs: tuple[TensorSpec, ...]) -> str:
    """``output0[1, 300, 6], output1[1, 32, 40, 40]`` (``None`` for symbolic dimensions)."""
    return ", ".join(f"{o.name}{list(o.shape)}" for o in outputs) or "none"


def _unsupported(origin: str, task: str, info: OnnxInfo, problem: str) -> InvalidModelPackageError:
    return InvalidModelPackageError(
        f"{origin}: {problem}. The graph's outputs are {describe_outputs(info.outputs)}; "
        f"supported {task} layouts: {_LAYOUTS[task]}"
    )


def _version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def _rows_extra(output: TensorSpec) -> int | None:
    """E of an ``(B, N, 6 + E)`` rows output, None when the output cannot be one."""
    if len(output.shape) != 3 or output.shape[2] is None or output.shape[2] < 6:
        return None
    return output.shape[2] - 6


def _v8_extra(output: TensorSpec, num_classes: int) -> int | None:
    """E of a ``(B, 4 + C + E, N)`` output, None when the output cannot be one."""
    if len(output.shape) != 3 or output.shape[1] is None or output.shape[1] < 4 + num_classes:
        return None
    return output.shape[1] - 4 - num_classes


def _detr_outputs(info: OnnxInfo, num_classes: int, *, masks: bool) -> dict[str, int] | None:
    """Output indices ``{"boxes", "logits"[, "masks"]}`` of an RF-DETR graph: by the names its
    exporter gives them (``dets``, ``labels``, ``masks``), else by shape. None when none fit."""
    outputs = info.outputs
    names = {o.name: i for i, o in enumerate(outputs)}
    if "dets" in names and "labels" in names:
        found = {"boxes": names["dets"], "logits": names["labels"]}
        if "masks" in names:
            found["masks"] = names["masks"]
    else:
        found = {}
        for index, output in enumerate(outputs):
            shape = output.shape
            if len(shape) == 3 and shape[2] == 4 and "boxes" not in found:
                found["boxes"] = index
            elif len(shape) == 3 and "logits" not in found:
                found["logits"] = index
            elif len(shape) == 4 and "masks" not in found:
                found["masks"] = index
    if "boxes" not in found or "logits" not in found or masks != ("masks" in found):
        return None
    boxes, logits = outputs[found["boxes"]].shape, outputs[found["logits"]].shape
    if len(boxes) != 3 or boxes[2] != 4 or len(logits) != 3 or boxes[1] != logits[1]:
        return None
    if logits[2] is None or logits[2] < num_classes:
        return None
    if masks:
        mask_shape = outputs[found["masks"]].shape
        if len(mask_shape) != 4 or mask_shape[1] != boxes[1]:
            return None
    return found


def _rtdetr_rows(output: TensorSpec, num_classes: int, facts: GraphFacts) -> str | None:
    """``rows`` (cx, cy, w, h, score, class) or ``scores`` (cx, cy, w, h + C scores)."""
    if len(output.shape) != 3:
        return None
    width = output.shape[2]
    if width == 6 and num_classes != 2:
        return "rows"
    if width == 4 + num_classes and num_classes != 2:
        return "scores"
    if width != 6:
        return None
    version = _version(facts.version)
    if version is not None and version >= _RTDETR_ROWS_SINCE:
        return "rows"
    if version is not None and version < _RTDETR_SCORES_BEFORE:
        return "scores"
    return None


def _detection(
    info: OnnxInfo, class_names: tuple[str, ...], facts: GraphFacts, origin: str
) -> tuple[str, dict[str, Any]]:
    task = "object-detection"
    num_classes = len(class_names)
    if facts.head == _RTDETR_HEAD:
        rtdetr_rows = _rtdetr_rows(info.outputs[0], num_classes, facts)
        if rtdetr_rows is None:
            raise _unsupported(
                origin,
                task,
                info,
                f"an RT-DETR output for C={num_classes} classes must be (B, Q, 6) or "
                f"(B, Q, 4+C) (with C=2 both are 6 wide: exported by Ultralytics "
                f"{facts.version or 'unknown version'}, which cannot tell; re-export with "
                "Ultralytics >= 8.4.190)",
            )
        return "rtdetr", {"rows": rtdetr_rows}
    found = _detr_outputs(info, num_classes, masks=False)
    if found is not None and (facts.hints_rfdetr or "dets" in {o.name for o in info.outputs}):
        return "rfdetr", {"outputs": found}
    if facts.hints_rfdetr:
        raise _unsupported(
            origin,
            task,
            info,
            f"model_type {facts.hint!r} is an RF-DETR, but the outputs are not dets (B, Q, 4) "
            f"+ labels (B, Q, >=C) for C={num_classes} classes",
        )
    output = info.outputs[0]
    if len(output.shape) != 3:
        raise _unsupported(origin, task, info, "the detection output must be 3-D")
    v8 = _v8_extra(output, num_classes) == 0
    v5 = output.shape[2] == 5 + num_classes
    rows = _rows_extra(output) == 0 and facts.end2end is not False
    if facts.end2end:
        if rows:
            return "yolo-end2end", {}
        raise _unsupported(
            origin,
            task,
            info,
            "the metadata says end-to-end (or nms=True), but output0 is not (B, N, 6)",
        )
    if v5 and facts.hint.startswith("yolov5"):
        return "yolov5", {}
    if rows and facts.hints_end2end:
        return "yolo-end2end", {}
    if v8:
        return "yolov8", {}
    if rows:
        return "yolo-end2end", {}
    if v5:
        return "yolov5", {}
    raise _unsupported(
        origin,
        task,
        info,
        f"output {output.name}{list(output.shape)} fits no detection layout "
        f"for C={num_classes} classes",
    )


def _segmentation(
    info: OnnxInfo, class_names: tuple[str, ...], facts: GraphFacts, origin: str
) -> tuple[str, dict[str, Any]]:
    task = "instance-segmentation"
    num_classes = len(class_names)
    found = _detr_outputs(info, num_classes, masks=True)
    if found is not None and (facts.hints_rfdetr or "dets" in {o.name for o in info.outputs}):
        return "rfdetr-seg", {"outputs": found}
    if facts.hints_rfdetr:
        raise _unsupported(
            origin,
            task,
            info,
            f"model_type {facts.hint!r} is an RF-DETR, but the outputs are not dets (B, Q, 4) + "
            f"labels (B, Q, >=C) + masks (B, Q, Hm, Wm) for C={num_classes} classes",
        )
    if len(info.outputs) < 2 or len(info.outputs[1].shape) != 4 or info.outputs[1].shape[1] is None:
        raise _unsupported(
            origin,
            task,
            info,
            "an instance segmentation graph needs a prototype output (B, P, Hm, Wm) after the "
            "detections",
        )
    output, protos = info.outputs[0], info.outputs[1].shape[1]
    v8 = _v8_extra(output, num_classes) == protos
    rows = _rows_extra(output) == protos and facts.end2end is not False
    # The reference decodes YOLO26 masks as logits (> 0), YOLOv8/11 ones as probabilities.
    extra: dict[str, Any] = {"masks": "logits"} if facts.yolo26 else {}
    if rows and (facts.end2end or facts.hints_end2end or not v8):
        return "yolo-end2end-seg", extra
    if v8 and not facts.end2end:
        return "yolov8-seg", extra
    raise _unsupported(
        origin,
        task,
        info,
        f"output0 holds no {protos} mask coefficients after {num_classes} classes"
        + (" (the metadata says end-to-end rows)" if facts.end2end else ""),
    )


def _keypoint_triples(extra: int | None, expected: int | None) -> bool:
    if extra is None or extra <= 0 or extra % 3:
        return False
    return expected is None or extra == 3 * expected


def _keypoints(
    info: OnnxInfo,
    class_names: tuple[str, ...],
    facts: GraphFacts,
    origin: str,
    keypoint_names: dict[str, list[str]] | None,
) -> tuple[str, dict[str, Any]]:
    task = "keypoint-detection"
    output = info.outputs[0]
    if len(output.shape) != 3:
        raise _unsupported(origin, task, info, "the keypoint output must be 3-D")
    v8_extra, rows_extra = _v8_extra(output, len(class_names)), _rows_extra(output)
    v8 = _keypoint_triples(v8_extra, facts.keypoints) and not facts.end2end
    rows = _keypoint_triples(rows_extra, facts.keypoints) and facts.end2end is not False
    names: dict[str, Any] = keypoint_names or {}
    if rows and (facts.end2end or facts.hints_end2end or not v8):
        assert rows_extra is not None
        return "yolo-end2end-pose", {"keypoints": {"count": rows_extra // 3, "names": names}}
    if v8:
        assert v8_extra is not None
        return "yolov8-pose", {"keypoints": {"count": v8_extra // 3, "names": names}}
    expected = f"{facts.keypoints} " if facts.keypoints else ""
    raise _unsupported(
        origin,
        task,
        info,
        f"output0 holds no {expected}(x, y, confidence) keypoint triples after "
        f"{len(class_names)} classes",
    )


def task_architecture(
    task: str,
    info: OnnxInfo,
    class_names: tuple[str, ...],
    facts: GraphFacts,
    origin: str,
    keypoint_names: dict[str, list[str]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The architecture plugin and the task-specific manifest ``extra`` for a graph."""
    if task == "object-detection":
        return _detection(info, class_names, facts, origin)
    if task == "instance-segmentation":
        return _segmentation(info, class_names, facts, origin)
    if task == "keypoint-detection":
        return _keypoints(info, class_names, facts, origin, keypoint_names)
    if task == "classification":
        return "classifier", {}
    return "semantic", {"output": "logits"}
