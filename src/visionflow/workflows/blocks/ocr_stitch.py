"""``stitch_ocr_detections@v1`` / ``@v2``: OCR detections (words or characters named by their
text, e.g. ``ocr_model``'s words or a character detector's boxes) → one text in reading order.

Every algorithm works on two axes: *along* a line (x for horizontal text, y for vertical) and
*across* lines (y, or x). Lines are joined by ``"\\n"`` for horizontal text and ``" "`` for
vertical text; the elements of a line by ``delimiter``.

- ``tolerance`` (v1, and v2's default): a line starts where the leading edge across (the top,
  or the left for vertical text) is more than ``tolerance`` px past the previous detection's;
  elements are ordered by their leading edge along the line.
- ``otsu`` (v2): lines group detections whose centres lie within half the median element height;
  the gaps between neighbours, divided by the pair's mean width, are split into "inside a word"
  and "between words" by Otsu's threshold over every gap of the image (times
  ``otsu_threshold_multiplier``). Words get a space (or ``delimiter`` when set); when the gaps do
  not form two groups each line is one word.
- ``collimate`` (v2, for skewed text): detections are walked in reading order and a line grows
  from its last element to the next one that is aligned with it (centres closer across than half
  the taller element + ``collimate_tolerance``) and lies ahead of it.

``reading_direction: auto`` picks ``left_to_right`` when the detections are wider than tall on
average, else ``vertical_top_to_bottom``; unlike the reference (which decides from the first
image of a batch) each image decides for itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field

from visionflow.core.detections import CLASS_NAME
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    FloatSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["OCR_STITCH_BLOCKS", "stitch_text"]

ReadingDirection = Literal[
    "left_to_right", "right_to_left", "vertical_top_to_bottom", "vertical_bottom_to_top", "auto"
]
Algorithm = Literal["tolerance", "otsu", "collimate"]
ObjectDetectionSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.OBJECT_DETECTION_PREDICTION,))
]
Floats = npt.NDArray[np.float64]
_VERTICAL = ("vertical_top_to_bottom", "vertical_bottom_to_top")
_BACKWARDS = ("right_to_left", "vertical_bottom_to_top")
# The Otsu split counts as two groups of gaps only when word gaps are clearly positive (in units
# of the elements' width) and far from the gaps inside words.
_MIN_WORD_GAP = 0.3
_MIN_GAP_SEPARATION = 0.3


def _positive(value: int | str) -> int | str:
    if isinstance(value, int) and value <= 0:
        raise ValueError("tolerance must be greater than zero")
    return value


Tolerance = Annotated[int | IntegerSelector, AfterValidator(_positive)]


class StitchOcrManifestV1(StepManifest):
    predictions: ObjectDetectionSelector
    reading_direction: ReadingDirection
    tolerance: Tolerance = 10
    delimiter: str | StringSelector = ""


class StitchOcrManifestV2(StepManifest):
    stitching_algorithm: Algorithm
    predictions: ObjectDetectionSelector
    reading_direction: ReadingDirection
    tolerance: Tolerance = 10
    delimiter: str | StringSelector = ""
    otsu_threshold_multiplier: float | FloatSelector = 1.0
    collimate_tolerance: int | IntegerSelector = 10


@dataclass(frozen=True)
class _Layout:
    """Detections seen along their lines: leading edges, centres and sizes on both axes."""

    along_start: Floats
    across_start: Floats
    along_center: Floats
    across_center: Floats
    along_size: Floats
    across_size: Floats
    backwards: bool
    vertical: bool

    @classmethod
    def of(cls, xyxy: Floats, direction: str) -> _Layout:
        vertical = direction in _VERTICAL
        along, across = (1, 0) if vertical else (0, 1)
        start = xyxy[:, :2]
        end = xyxy[:, 2:]
        return cls(
            along_start=start[:, along],
            across_start=start[:, across],
            along_center=(start[:, along] + end[:, along]) / 2,
            across_center=(start[:, across] + end[:, across]) / 2,
            along_size=end[:, along] - start[:, along],
            across_size=end[:, across] - start[:, across],
            backwards=direction in _BACKWARDS,
            vertical=vertical,
        )

    def in_reading_order(self, line: list[int], key: Floats) -> list[int]:
        ordered = sorted(line, key=lambda i: float(key[i]))
        return ordered[::-1] if self.backwards else ordered

    def lines_in_order(self, lines: list[list[int]]) -> list[list[int]]:
        """Rows top to bottom; columns left to right (right to left reading bottom to top)."""
        ordered = sorted(lines, key=lambda line: float(np.mean(self.across_center[line])))
        return ordered[::-1] if self.vertical and self.backwards else ordered


def detect_direction(xyxy: Floats) -> str:
    """``left_to_right`` for boxes wider than tall on average, else ``vertical_top_to_bottom``."""
    if len(xyxy) == 0:
        return "left_to_right"
    widths = xyxy[:, 2] - xyxy[:, 0]
    heights = xyxy[:, 3] - xyxy[:, 1]
    return "left_to_right" if widths.mean() > heights.mean() else "vertical_top_to_bottom"


def _by_tolerance(layout: _Layout, tolerance: int) -> list[list[int]]:
    edges = np.round(layout.across_start)
    lines: list[list[int]] = []
    previous: float | None = None
    for index in np.argsort(edges, kind="stable").tolist():
        if previous is None or edges[index] - previous > tolerance:
            lines.append([])
        lines[-1].append(index)
        previous = float(edges[index])
    along = np.round(layout.along_start)
    return [layout.in_reading_order(line, along) for line in lines]


def _by_centres(layout: _Layout) -> list[list[int]]:
    """Lines of detections whose centres across lie within half the median size of the line's
    running mean, elements ordered by their centre along."""
    reach = float(np.median(layout.across_size)) * 0.5
    lines: list[list[int]] = []
    mean = 0.0
    for index in np.argsort(layout.across_center, kind="stable").tolist():
        center = float(layout.across_center[index])
        if not lines or abs(center - mean) > reach:
            lines.append([index])
        else:
            lines[-1].append(index)
        mean = float(np.mean(layout.across_center[lines[-1]]))
    return [layout.in_reading_order(line, layout.along_center) for line in lines]


def _gaps(layout: _Layout, line: list[int]) -> Floats:
    """Free space between neighbours of a line, in units of the pair's mean size along."""
    first, second = np.array(line[:-1], dtype=int), np.array(line[1:], dtype=int)
    mean_size = (layout.along_size[first] + layout.along_size[second]) / 2
    distance = np.abs(layout.along_center[second] - layout.along_center[first]) - mean_size
    gaps: Floats = np.zeros_like(distance)
    np.divide(distance, mean_size, out=gaps, where=mean_size > 0)
    return gaps


def otsu_threshold(values: Floats) -> tuple[float, bool]:
    """Otsu's split of ``values`` (candidates: histogram bin centres) and whether the two groups
    are apart enough to be word gaps vs gaps inside words."""
    if len(values) < 2:
        return 0.0, False
    _, edges = np.histogram(values, bins=min(50, len(values)))
    best, best_score, low_mean, high_mean = 0.0, 0.0, 0.0, 0.0
    for threshold in (edges[:-1] + edges[1:]) / 2:
        low, high = values[values <= threshold], values[values > threshold]
        if len(low) == 0 or len(high) == 0:
            continue
        score = len(low) * len(high) * float(low.mean() - high.mean()) ** 2
        if score > best_score:
            best, best_score = float(threshold), score
            low_mean, high_mean = float(low.mean()), float(high.mean())
    two_groups = high_mean > _MIN_WORD_GAP and high_mean - low_mean > _MIN_GAP_SEPARATION
    return best, two_groups


def _otsu_lines(layout: _Layout, texts: list[str], delimiter: str, multiplier: float) -> list[str]:
    lines = layout.lines_in_order(_by_centres(layout))
    gaps = [_gaps(layout, line) for line in lines]
    threshold, two_groups = otsu_threshold(np.concatenate([np.zeros(0), *gaps]))
    threshold *= multiplier
    between_words = delimiter or " "
    out: list[str] = []
    for line, line_gaps in zip(lines, gaps, strict=True):
        words: list[list[str]] = [[texts[line[0]]]]
        for index, gap in zip(line[1:], line_gaps, strict=True):
            if two_groups and gap > threshold:
                words.append([])
            words[-1].append(texts[index])
        out.append(between_words.join(delimiter.join(word) for word in words))
    return out


def _collimate(layout: _Layout, tolerance: int) -> list[list[int]]:
    def follows(parent: int, child: int) -> bool:
        reach = max(layout.across_size[parent], layout.across_size[child]) / 2 + tolerance
        aligned = abs(layout.across_center[parent] - layout.across_center[child]) < reach
        step = layout.along_center[child] - layout.along_center[parent]
        return bool(aligned and (step <= 0 if layout.backwards else step >= 0))

    remaining = layout.in_reading_order(list(range(len(layout.along_center))), layout.along_center)
    lines = [[remaining.pop(0)]] if remaining else []
    while remaining:
        grown = False
        for line in lines:
            for candidate in list(remaining):
                if follows(line[-1], candidate):
                    line.append(candidate)
                    remaining.remove(candidate)
                    grown = True
        if not grown:
            lines.append([remaining.pop(0)])
    return layout.lines_in_order(lines)


def stitch_text(
    xyxy: npt.NDArray[np.floating],
    texts: list[str],
    *,
    direction: str,
    algorithm: str = "tolerance",
    tolerance: int = 10,
    delimiter: str = "",
    otsu_multiplier: float = 1.0,
    collimate_tolerance: int = 10,
) -> str:
    """The text of ``texts`` (one per ``(N, 4)`` xyxy box) in reading order; see the module
    docstring for the algorithms. ``direction`` may be ``auto``."""
    if len(texts) == 0:
        return ""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if direction == "auto":
        direction = detect_direction(boxes)
    layout = _Layout.of(boxes, direction)
    separator = " " if layout.vertical else "\n"
    if algorithm == "otsu":
        return separator.join(_otsu_lines(layout, texts, delimiter, otsu_multiplier))
    if algorithm == "collimate":
        lines = _collimate(layout, collimate_tolerance)
    else:
        lines = layout.lines_in_order(_by_tolerance(layout, tolerance))
    return separator.join(delimiter.join(texts[i] for i in line) for line in lines)


def _texts(inputs: StepInputs) -> tuple[Floats, list[str]]:
    detections = inputs.detections("predictions")
    xyxy: Floats = np.asarray(detections.xyxy, dtype=np.float64)
    if len(detections) == 0:
        return xyxy, []
    names = detections.data.get(CLASS_NAME)
    if names is None:
        raise inputs.fail("predictions", "the detections carry no class names (their text)")
    return xyxy, [str(name) for name in names]


class _StitchBlock(Block):
    """Detections → ``ocr_text`` with the algorithm ``algorithm`` names."""

    outputs = (OutputDefinition("ocr_text", (k.STRING,)),)

    def algorithm(self, inputs: StepInputs) -> str:
        return "tolerance"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        xyxy, texts = _texts(inputs)
        algorithm = self.algorithm(inputs)
        text = stitch_text(
            xyxy,
            texts,
            direction=inputs.as_str("reading_direction"),
            algorithm=algorithm,
            tolerance=inputs.as_int("tolerance", low=1) if algorithm == "tolerance" else 10,
            delimiter=inputs.as_str("delimiter"),
            otsu_multiplier=(
                inputs.as_float("otsu_threshold_multiplier", low=0.0)
                if algorithm == "otsu"
                else 1.0
            ),
            collimate_tolerance=(
                inputs.as_int("collimate_tolerance", low=0) if algorithm == "collimate" else 10
            ),
        )
        return {"ocr_text": text}


class StitchOcrDetectionsV1(_StitchBlock):
    """Lines grouped by ``tolerance``."""

    type = "roboflow_core/stitch_ocr_detections@v1"
    manifest = StitchOcrManifestV1


class StitchOcrDetectionsV2(_StitchBlock):
    """v1 plus the ``otsu`` and ``collimate`` algorithms (``stitching_algorithm``)."""

    type = "roboflow_core/stitch_ocr_detections@v2"
    manifest = StitchOcrManifestV2

    def algorithm(self, inputs: StepInputs) -> str:
        return inputs.as_str("stitching_algorithm")


OCR_STITCH_BLOCKS: tuple[type[Block], ...] = (StitchOcrDetectionsV1, StitchOcrDetectionsV2)
