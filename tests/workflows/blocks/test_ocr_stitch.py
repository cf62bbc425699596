"""``stitch_ocr_detections@v1``/``@v2``: detections named by their text → text in reading order,
on hand-placed character and word boxes (every direction and algorithm) and on the words the
real PP-OCR engine finds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support.ocr_images import render
from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from tests.workflows.blocks.test_ocr import EngineModels
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.ocr_stitch import otsu_threshold, stitch_text
from visionflow.workflows.errors import InvalidInputTypeError, WorkflowDefinitionError

Box = tuple[float, float, float, float]


def row(text: str, *, x: float = 10, y: float = 10, size: float = 20, gap: float = 2) -> list[Box]:
    """Character boxes of ``text`` left to right (a space leaves a wider gap, no box)."""
    out: list[Box] = []
    for char in text:
        if char != " ":
            out.append((x, y, x + size, y + size))
        x += size + (gap if char != " " else size)
    return out


def chars(text: str) -> list[str]:
    return [c for c in text if c != " "]


def shuffled(xyxy: list[Box], texts: list[str], seed: int = 0) -> tuple[np.ndarray, list[str]]:
    order = np.random.default_rng(seed).permutation(len(texts))
    return np.array(xyxy, dtype=float)[order], [texts[i] for i in order]


def column(text: str, *, x: float) -> list[Box]:
    """Character boxes of ``text`` top to bottom at ``x``."""
    return [(x, 10 + i * 22, x + 20, 30 + i * 22) for i, _ in enumerate(text)]


WORD_ROWS = (
    [(10, 10, 60, 30), (70, 12, 120, 32), (10, 50, 60, 70), (70, 48, 130, 68)],
    ["Hello", "world", "second", "line"],
)


@pytest.mark.parametrize(
    ("direction", "delimiter", "expected"),
    [
        pytest.param("left_to_right", " ", "Hello world\nsecond line", id="ltr"),
        pytest.param("left_to_right", "", "Helloworld\nsecondline", id="ltr-no-delimiter"),
        pytest.param("right_to_left", " ", "world Hello\nline second", id="rtl"),
        pytest.param("auto", "|", "Hello|world\nsecond|line", id="auto-horizontal"),
    ],
)
def test_tolerance_orders_lines_and_words(direction: str, delimiter: str, expected: str) -> None:
    xyxy, texts = shuffled(*WORD_ROWS)
    assert stitch_text(xyxy, texts, direction=direction, delimiter=delimiter) == expected


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        pytest.param("vertical_top_to_bottom", "ABC DE", id="ttb-columns-left-to-right"),
        pytest.param("vertical_bottom_to_top", "ED CBA", id="btt-columns-right-to-left"),
        pytest.param("auto", "ABC DE", id="auto-vertical"),
    ],
)
def test_vertical_text_reads_by_columns(direction: str, expected: str) -> None:
    # Tall boxes: "ABC" in a column at x=10, "DE" at x=60.
    tall = [(x1, y1, x2, y2 + 10) for x1, y1, x2, y2 in column("ABC", x=10) + column("DE", x=60)]
    xyxy, texts = shuffled(tall, list("ABCDE"), seed=3)
    assert stitch_text(xyxy, texts, direction=direction) == expected


@pytest.mark.parametrize(
    ("tolerance", "expected"),
    [
        pytest.param(10, "ab\ncd", id="lines-apart"),
        pytest.param(30, "abcd", id="one-line-when-tolerance-covers-the-line-gap"),
    ],
)
def test_tolerance_decides_where_lines_split(tolerance: int, expected: str) -> None:
    xyxy = np.array([(0, 0, 10, 10), (20, 25, 30, 35), (12, 2, 18, 12), (40, 27, 50, 37)])
    texts = ["a", "c", "b", "d"]
    assert stitch_text(xyxy, texts, direction="left_to_right", tolerance=tolerance) == expected


@pytest.mark.parametrize("algorithm", ["tolerance", "otsu", "collimate"])
@pytest.mark.parametrize("direction", ["left_to_right", "vertical_bottom_to_top", "auto"])
def test_no_detections_give_empty_text(algorithm: str, direction: str) -> None:
    assert stitch_text(np.zeros((0, 4)), [], direction=direction, algorithm=algorithm) == ""


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        pytest.param("HELLO BIG WORLD", "", "HELLO BIG WORLD\nSECOND LINE", id="spaces"),
        pytest.param("HI YOU", "-", "H-I-Y-O-U\nS-E-C-O-N-D-L-I-N-E", id="delimiter-everywhere"),
        pytest.param("HELLOWORLD", "", "HELLOWORLD\nSECOND LINE", id="one-word-not-split"),
        pytest.param("A", "", "A\nSECOND LINE", id="single-character"),
    ],
)
def test_otsu_finds_word_breaks(text: str, delimiter: str, expected: str) -> None:
    xyxy, texts = shuffled(row(text) + row("SECOND LINE", y=60), chars(text) + chars("SECONDLINE"))
    stitched = stitch_text(
        xyxy, texts, direction="left_to_right", algorithm="otsu", delimiter=delimiter
    )
    assert stitched == expected


def test_otsu_without_two_kinds_of_gaps_keeps_each_line_one_word() -> None:
    xyxy, texts = shuffled(row("ABCD") + row("EFG", y=60), list("ABCDEFG"))
    assert stitch_text(xyxy, texts, direction="left_to_right", algorithm="otsu") == "ABCD\nEFG"


def test_otsu_multiplier_controls_word_splits() -> None:
    xyxy, texts = shuffled(row("AB CD EF"), chars("AB CD EF"))
    split = stitch_text(xyxy, texts, direction="left_to_right", algorithm="otsu")
    merged = stitch_text(
        xyxy, texts, direction="left_to_right", algorithm="otsu", otsu_multiplier=20.0
    )
    assert (split, merged) == ("AB CD EF", "ABCDEF")


@pytest.mark.parametrize(
    ("gaps", "two_groups"),
    [
        pytest.param([0.1, 0.1, 0.12, 1.0, 0.1, 1.1], True, id="bimodal"),
        pytest.param([0.1, 0.11, 0.12, 0.1], False, id="one-word"),
        pytest.param([0.5], False, id="too-few"),
        pytest.param([], False, id="empty"),
    ],
)
def test_otsu_threshold(gaps: list[float], two_groups: bool) -> None:
    threshold, found = otsu_threshold(np.array(gaps, dtype=float))
    assert found is two_groups
    if two_groups:
        assert 0.12 <= threshold < 1.0


def test_collimate_follows_skewed_text() -> None:
    # Each character 6 px lower than the previous one: the 9 characters drift down to the tops
    # of the next line, so lines bucketed by their top edge run into each other.
    skewed = [(10 + 22 * i, 10 + 6 * i, 30 + 22 * i, 30 + 6 * i) for i in range(9)]
    below = [(10 + 22 * i, 60, 30 + 22 * i, 80) for i in range(4)]
    xyxy, texts = shuffled(skewed + below, list("SKEWEDROWNEXT"), seed=7)
    collimated = stitch_text(xyxy, texts, direction="left_to_right", algorithm="collimate")
    bucketed = stitch_text(xyxy, texts, direction="left_to_right", tolerance=10)
    assert collimated == "SKEWEDROW\nNEXT"
    assert "\n" not in bucketed
    backwards = stitch_text(xyxy, texts, direction="right_to_left", algorithm="collimate")
    assert backwards == "WORDEWEKS\nTXEN"


def _stitch(block: str, detections: Any, **fields: Any) -> dict[str, Any]:
    models = ScriptedModels(answers={"chars": lambda _image: detections})
    [outputs] = run(
        [
            step(
                "roboflow_object_detection_model@v2",
                "det",
                images="$inputs.image",
                model_id="chars",
            ),
            step(block, "stitch", predictions="$steps.det.predictions", **fields),
        ],
        {"text": "$steps.stitch.ocr_text"},
        {"image": canvas(400, 200, 255)},
        models=models,
    )
    return outputs


@pytest.mark.parametrize(
    ("block", "fields", "expected"),
    [
        pytest.param(
            "stitch_ocr_detections@v1",
            {"reading_direction": "left_to_right"},
            "HIYOU\nTWO",
            id="v1",
        ),
        pytest.param(
            "stitch_ocr_detections@v2",
            {"stitching_algorithm": "otsu", "reading_direction": "left_to_right"},
            "HI YOU\nTWO",
            id="v2-otsu",
        ),
        pytest.param(
            "stitch_ocr_detections@v2",
            {
                "stitching_algorithm": "collimate",
                "reading_direction": "left_to_right",
                "delimiter": ".",
            },
            "H.I.Y.O.U\nT.W.O",
            id="v2-collimate",
        ),
        pytest.param(
            "stitch_ocr_detections@v2",
            {"stitching_algorithm": "tolerance", "reading_direction": "right_to_left"},
            "UOYIH\nOWT",
            id="v2-tolerance",
        ),
    ],
)
def test_blocks_stitch_detector_output(block: str, fields: dict[str, Any], expected: str) -> None:
    xyxy = row("HI YOU") + row("TWO", y=60)
    names = chars("HI YOU") + chars("TWO")
    detections = boxes(xyxy, class_ids=list(range(len(names))), names=names)
    assert _stitch(block, detections, **fields)["text"] == expected


def test_blocks_stitch_nothing_to_empty_text() -> None:
    empty = boxes([], names=())
    out = _stitch("stitch_ocr_detections@v1", empty, reading_direction="auto")
    assert out["text"] == ""


def test_ocr_words_stitch_back_into_the_lines() -> None:
    lines = ("Invoice 2041 total", "Paid by card 17.50", "Thank you")
    [outputs] = run(
        [
            step("ocr_model@v1", "ocr", images="$inputs.image"),
            step(
                "stitch_ocr_detections@v2",
                "stitch",
                predictions="$steps.ocr.predictions",
                stitching_algorithm="tolerance",
                reading_direction="left_to_right",
                delimiter=" ",
            ),
        ],
        {"text": "$steps.stitch.ocr_text"},
        {"image": render(lines, 30)},
        context=RunContext(models=EngineModels()),
    )
    assert outputs["text"] == "\n".join(lines)


@pytest.mark.parametrize(
    ("block", "fields", "field_name"),
    [
        pytest.param(
            "stitch_ocr_detections@v1",
            {"reading_direction": "left_to_right", "tolerance": 0},
            "tolerance",
            id="zero-tolerance",
        ),
        pytest.param("stitch_ocr_detections@v1", {}, "reading_direction", id="no-direction"),
        pytest.param(
            "stitch_ocr_detections@v2",
            {"reading_direction": "left_to_right"},
            "stitching_algorithm",
            id="no-algorithm",
        ),
        pytest.param(
            "stitch_ocr_detections@v2",
            {"stitching_algorithm": "sideways", "reading_direction": "left_to_right"},
            "stitching_algorithm",
            id="unknown-algorithm",
        ),
    ],
)
def test_bad_manifests_fail_compilation(
    block: str, fields: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        _stitch(block, boxes([]), **fields)
    assert field_name in str(caught.value)


def test_detections_without_text_are_a_400() -> None:
    unnamed = boxes([(0, 0, 10, 10)])
    del unnamed.data["class_name"]
    with pytest.raises(InvalidInputTypeError) as caught:
        _stitch("stitch_ocr_detections@v1", unnamed, reading_direction="left_to_right")
    assert "class names" in str(caught.value)
