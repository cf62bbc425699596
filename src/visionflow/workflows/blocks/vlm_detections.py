"""Detections from the JSON a VLM answered, per model family and task (``vlm_as_detector``).

Each family boxes differently, as the reference's parsers read them:

- ``google-gemini``: ``box_2d`` = ``[y_min, x_min, y_max, x_max]`` on a 0-1000 grid, or
  ``x_min``... in ``[0, 1]``; entries as a list or under ``"detections"``;
- ``anthropic-claude`` / ``openai`` (v2): ``box_2d`` = ``[x_min, y_min, x_max, y_max]`` pixels of
  the image as uploaded (Claude's own resize / longest edge 2048), clamped to it and scaled
  back; the older ``{"detections": [{"x_min"...}]}`` in ``[0, 1]`` too;
- ``spacexai``: ``box_2d`` xyxy in percent; ``qwen``, ``zai``, ``zai-flash``: ``box_2d`` or
  ``bbox_2d`` xyxy on 0-1000, malformed entries skipped; ``muse``: named fields on 0-1000;
- ``florence-2``: the model's own post-processed result for the task (``bboxes``/``labels``,
  ``quad_boxes`` for OCR), read by ``supervision``.

Labels outside ``classes`` get class id -1; boxes are rounded to whole pixels (Florence-2's
kept as they are); a missing
confidence is 1.0 (Qwen, Muse and Florence-2 always 1.0). A payload of the wrong shape raises
``ValueError`` / ``KeyError`` / ``TypeError`` (the block turns that into ``error_status``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import supervision as sv

from visionflow.core.detections import CLASS_NAME, DETECTION_ID, random_uuid4s
from visionflow.workflows.lineage import WorkflowImage, attach_lineage

__all__ = ["DETECTOR_PARSERS_V1", "DETECTOR_PARSERS_V2", "Parser", "anthropic_upload_wh"]

Parser = Callable[[Any, Sequence[str] | None, WorkflowImage], sv.Detections]
Row = tuple[list[float], str, float]

_GRID_1000 = 1000.0
_PERCENT = 100.0
_OPENAI_MAX_EDGE_PX = 2048
_ANTHROPIC_MAX_EDGE_PX = 2576
_ANTHROPIC_MAX_TOKENS = 4784
_ANTHROPIC_TILE_PX = 28
_LABEL_KEYS = ("class_name", "label", "class")
_QWEN_BOX_KEYS = ("box_2d", "bbox_2d")
_QWEN_LABEL_KEYS = ("label", "description", "class_name", "class")
_MUSE_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def _build(
    xyxy: Any, class_ids: Sequence[int], names: Sequence[str], image: WorkflowImage
) -> sv.Detections:
    count = len(names)
    detections = sv.Detections(
        xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
        confidence=np.ones(count, dtype=np.float64),
        class_id=np.asarray(class_ids, dtype=np.int64).reshape(count),
        data={
            CLASS_NAME: np.array(list(names), dtype=object).reshape(count),
            DETECTION_ID: np.array(random_uuid4s(count), dtype=object).reshape(count),
        },
    )
    return attach_lineage(detections, image.lineage)


def _from_rows(
    rows: list[Row], classes: Sequence[str] | None, image: WorkflowImage
) -> sv.Detections:
    index = {name: i for i, name in enumerate(classes or ())}
    detections = _build(
        np.round(np.asarray([box for box, _, _ in rows], dtype=np.float64)),
        [index.get(label, -1) for _, label, _ in rows],
        [label for _, label, _ in rows],
        image,
    )
    detections.confidence = np.array([c for _, _, c in rows], dtype=np.float64).reshape(-1)
    return detections


def _confidence(entry: dict[str, Any]) -> float:
    return min(max(float(entry.get("confidence", 1.0)), 0.0), 1.0)


def _label(entry: dict[str, Any], keys: Sequence[str] = _LABEL_KEYS) -> str:
    for key in keys:
        if entry.get(key) is not None:
            return str(entry[key])
    return "unknown"


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _scaled(value: Any) -> float:
    """A coordinate the reference scales by plain arithmetic (so ``true`` counts as 1)."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _entries(payload: Any, family: str) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and "detections" in payload:
        found: list[Any] = payload["detections"]  # iterated as it is, as the reference does
        return found
    raise ValueError(f"Unexpected {family} object detection response format")


def _gemini_box(entry: dict[str, Any], width: int, height: int) -> list[float]:
    if "box_2d" in entry:
        y_min, x_min, y_max, x_max = (_scaled(v) / _GRID_1000 for v in entry["box_2d"])
    else:
        x_min, y_min, x_max, y_max = (_scaled(entry[f]) for f in _MUSE_FIELDS)
    return [x_min * width, y_min * height, x_max * width, y_max * height]


def _gemini(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
    width, height = image.lineage.size_wh
    rows = [
        (_gemini_box(e, width, height), _label(e), _confidence(e))
        for e in _entries(payload, "Gemini")
    ]
    return _from_rows(rows, classes, image)


def _legacy(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
    """``{"detections": [{"x_min"..., "class_name", "confidence"}]}`` in ``[0, 1]``."""
    width, height = image.lineage.size_wh
    rows = [
        (
            [
                _scaled(e["x_min"]) * width,
                _scaled(e["y_min"]) * height,
                _scaled(e["x_max"]) * width,
                _scaled(e["y_max"]) * height,
            ],
            str(e["class_name"]),
            _confidence(e),
        )
        for e in payload["detections"]
    ]
    return _from_rows(rows, classes, image)


def _longest_edge_wh(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """``(width, height)`` scaled down (never up) so the longest edge is at most ``max_edge``."""
    if max(width, height) <= max_edge:
        return width, height
    if width >= height:
        return max_edge, max(round(height * max_edge / width), 1)
    return max(round(width * max_edge / height), 1), max_edge


def _anthropic_fits(width: int, height: int) -> bool:
    tile = _ANTHROPIC_TILE_PX
    tiles_w, tiles_h = math.ceil(width / tile), math.ceil(height / tile)
    return (
        tiles_w * tile <= _ANTHROPIC_MAX_EDGE_PX
        and tiles_h * tile <= _ANTHROPIC_MAX_EDGE_PX
        and tiles_w * tiles_h <= _ANTHROPIC_MAX_TOKENS
    )


def anthropic_upload_wh(width: int, height: int) -> tuple[int, int]:
    """The size Claude resizes a ``width`` x ``height`` image to (Anthropic's documented rule:
    28 px tiles, padded edges at most 2576 px, at most 4784 tiles; never upscaled)."""
    if _anthropic_fits(width, height):
        return width, height
    if height > width:
        resized_h, resized_w = anthropic_upload_wh(height, width)
        return resized_w, resized_h
    aspect = width / height
    low, high = 1, width
    while low + 1 < high:
        mid = (low + high) // 2
        if _anthropic_fits(mid, max(round(mid / aspect), 1)):
            low = mid
        else:
            high = mid
    return low, max(round(low / aspect), 1)


def _uploaded(upload_wh: Callable[[int, int], tuple[int, int]]) -> Parser:
    """A parser of ``box_2d`` lists in the pixels of the image as uploaded at ``upload_wh``."""

    def parse(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
        if not isinstance(payload, list):
            raise ValueError("Unexpected object detection response format (expected a list)")
        width, height = image.lineage.size_wh
        up_w, up_h = upload_wh(width, height)
        rows = []
        for entry in payload:
            x_min, y_min, x_max, y_max = (float(v) for v in entry["box_2d"])
            box = [
                min(max(x_min, 0.0), up_w) * width / up_w,
                min(max(y_min, 0.0), up_h) * height / up_h,
                min(max(x_max, 0.0), up_w) * width / up_w,
                min(max(y_max, 0.0), up_h) * height / up_h,
            ]
            rows.append((box, _label(entry), _confidence(entry)))
        return _from_rows(rows, classes, image)

    return parse


def _either(current: Parser) -> Parser:
    """The ``box_2d`` parser for lists (bare or under ``"detections"``), the ``[0, 1]`` one for
    older ``{"detections": [{"x_min"...}]}`` replies."""

    def parse(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
        if isinstance(payload, dict) and "detections" in payload:
            found = payload["detections"]
            if (
                isinstance(found, list)
                and found
                and isinstance(found[0], dict)
                and "box_2d" in found[0]
            ):
                return current(found, classes, image)
            return _legacy(payload, classes, image)
        return current(payload, classes, image)

    return parse


def _spacexai(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
    width, height = image.lineage.size_wh
    rows = []
    for entry in _entries(payload, "SpaceXAI"):
        x_min, y_min, x_max, y_max = (
            min(max(float(v), 0.0), _PERCENT) / _PERCENT for v in entry["box_2d"]
        )
        box = [x_min * width, y_min * height, x_max * width, y_max * height]
        rows.append((box, _label(entry), _confidence(entry)))
    return _from_rows(rows, classes, image)


def _grid_box(values: Sequence[float], width: int, height: int) -> list[float]:
    x_min, y_min, x_max, y_max = (min(max(v, 0.0), _GRID_1000) / _GRID_1000 for v in values)
    return [x_min * width, y_min * height, x_max * width, y_max * height]


def _qwen_box(entry: dict[str, Any]) -> list[float] | None:
    for key in _QWEN_BOX_KEYS:
        box = entry.get(key)
        if isinstance(box, list) and len(box) == 4:
            try:
                return [_number(v) for v in box]
            except TypeError:
                continue
    return None


def _qwen(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
    if isinstance(payload, dict) and not isinstance(payload.get("detections"), list):
        if not any(key in payload for key in _QWEN_BOX_KEYS):
            raise ValueError("Unexpected Qwen object detection response format")
        payload = [payload]
    width, height = image.lineage.size_wh
    rows = []
    for entry in _entries(payload, "Qwen"):
        box = _qwen_box(entry) if isinstance(entry, dict) else None
        if box is not None:
            rows.append((_grid_box(box, width, height), _label(entry, _QWEN_LABEL_KEYS), 1.0))
    return _from_rows(rows, classes, image)


def _muse_box(entry: dict[str, Any]) -> list[float] | None:
    try:
        box = [_number(entry.get(field)) for field in _MUSE_FIELDS]
    except TypeError:
        return None
    return box if all(math.isfinite(v) for v in box) else None


def _muse(payload: Any, classes: Sequence[str] | None, image: WorkflowImage) -> sv.Detections:
    if isinstance(payload, dict) and not isinstance(payload.get("detections"), list):
        if not all(field in payload for field in _MUSE_FIELDS):
            raise ValueError("Unexpected Muse object detection response format")
        payload = [payload]
    width, height = image.lineage.size_wh
    rows = []
    for entry in _entries(payload, "Muse"):
        box = _muse_box(entry) if isinstance(entry, dict) else None
        if box is not None:
            label = str(entry.get("label") or "unknown")
            rows.append((_grid_box(box, width, height), label, 1.0))
    return _from_rows(rows, classes, image)


def _md5_4digit(name: str) -> int:
    return int(hashlib.md5(name.encode("utf-8")).hexdigest()[:9], 16) % 10000


def _florence(
    payload: Any, classes: Sequence[str] | None, image: WorkflowImage, *, task: str
) -> sv.Detections:
    found = sv.Detections.from_vlm(
        sv.VLM.FLORENCE_2, {task: payload}, resolution_wh=image.lineage.size_wh
    )
    count = len(found)
    names = [str(n) for n in found.data.get(CLASS_NAME, [""] * count)]
    class_ids = [0] * count
    if task == "<REGION_PROPOSAL>":
        names = ["roi"] * count
    elif task in ("<OD>", "<CAPTION_TO_PHRASE_GROUNDING>"):
        class_ids = [_md5_4digit(name) for name in names]
    elif task == "<OPEN_VOCABULARY_DETECTION>":
        if classes is None:
            raise TypeError("open-vocabulary-object-detection needs classes")
        index = {name: i for i, name in enumerate(classes)}
        class_ids = [index.get(name, -1) for name in names]
    return _build(found.xyxy, class_ids, names, image)


_FLORENCE_TASKS = {
    "object-detection": "<OD>",
    "open-vocabulary-object-detection": "<OPEN_VOCABULARY_DETECTION>",
    "object-detection-and-caption": "<DENSE_REGION_CAPTION>",
    "phrase-grounded-object-detection": "<CAPTION_TO_PHRASE_GROUNDING>",
    "region-proposal": "<REGION_PROPOSAL>",
    "ocr-with-text-detection": "<OCR_WITH_REGION>",
}
_FLORENCE: dict[tuple[str, str], Parser] = {
    ("florence-2", task_type): partial(_florence, task=task)
    for task_type, task in _FLORENCE_TASKS.items()
}
_openai = _uploaded(lambda w, h: _longest_edge_wh(w, h, _OPENAI_MAX_EDGE_PX))

DETECTOR_PARSERS_V1: dict[tuple[str, str], Parser] = {
    ("google-gemini", "object-detection"): _gemini,
    ("anthropic-claude", "object-detection"): _gemini,
    **_FLORENCE,
}
DETECTOR_PARSERS_V2: dict[tuple[str, str], Parser] = {
    ("openai", "object-detection"): _either(_openai),
    ("google-gemini", "object-detection"): _gemini,
    ("anthropic-claude", "object-detection"): _either(_uploaded(anthropic_upload_wh)),
    ("spacexai", "object-detection"): _spacexai,
    ("qwen", "object-detection"): _qwen,
    ("muse", "object-detection"): _muse,
    ("zai", "object-detection"): _qwen,
    ("zai-flash", "object-detection"): _qwen,
    **_FLORENCE,
}
