"""PP-OCR through ``read_text``: rendered text in several sizes, clean and noisy, read back with
a character error rate of at most 2 %; words only when asked for; one stage skipped."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.ocr_images import cer, levenshtein, render
from visionflow.core.detections import CLASS_NAME
from visionflow.errors import InvalidInputError
from visionflow.models.ocr import OcrOptions, pp_ocr_options, read_text

WORDS = OcrOptions(words=True)

LINES = (
    "The quick brown fox jumps over the lazy dog",
    "Invoice number 48213 dated 2024 March",
    "Pack my box with five dozen liquor jugs",
    "Total amount due 1234.56 EUR",
)


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("same", "same") == 0


@pytest.mark.parametrize(("size", "noise"), [(18, 0.0), (28, 0.0), (44, 0.0), (28, 25.0)])
def test_rendered_text_is_read_back(size: int, noise: float) -> None:
    result = read_text(render(LINES, size, noise), WORDS)
    assert result.words is not None
    expected = " ".join(LINES)
    assert cer(expected, result.text) <= 0.02, result.text
    assert len(result.lines) == len(LINES)
    assert " ".join(result.lines.data[CLASS_NAME]) == result.text
    words = list(result.words.data[CLASS_NAME])
    assert " ".join(words) == " ".join(result.text.split())
    assert np.all(result.words.class_id == 0)
    assert result.words.confidence is not None
    assert np.all(result.words.confidence > 0.5)
    # Word boxes lie inside the image and in reading order on the first line.
    height, width = render(LINES, size, noise).shape[:2]
    assert np.all(result.words.xyxy >= -1)
    assert np.all(result.words.xyxy[:, 2] <= width + 1)
    assert np.all(result.words.xyxy[:, 3] <= height + 1)


def test_word_boxes_cover_the_words() -> None:
    image = render(("alpha beta",), 40)
    result = read_text(image, WORDS)
    assert result.text == "alpha beta"
    assert result.words is not None
    alpha, beta = result.words.xyxy
    assert alpha[2] <= beta[0] + 2
    # The words are on the rendered line: dark pixels inside each box.
    for x1, y1, x2, y2 in result.words.xyxy.astype(int):
        assert image[y1:y2, x1:x2].min() < 100


def test_blank_image_gives_an_empty_result() -> None:
    result = read_text(np.full((200, 300, 3), 255, dtype=np.uint8), WORDS)
    assert result.text == ""
    assert result.words is not None
    assert len(result.words) == 0
    assert len(result.lines) == 0
    assert list(result.words.data[CLASS_NAME]) == []


def test_words_are_computed_only_when_asked_for() -> None:
    image = render(LINES[:2], 28)
    lines_only = read_text(image)
    with_words = read_text(image, WORDS)
    assert lines_only.words is None
    assert with_words.words is not None
    assert lines_only.text == with_words.text
    np.testing.assert_allclose(lines_only.lines.xyxy, with_words.lines.xyxy)
    assert len(with_words.words) == len(" ".join(LINES[:2]).split())


def test_detection_only_gives_the_line_boxes_without_text() -> None:
    image = render(LINES, 28)
    full = read_text(image)
    boxes = read_text(image, OcrOptions(recognize=False))
    assert boxes.text == ""
    assert list(boxes.lines.data[CLASS_NAME]) == [""] * len(LINES)
    assert boxes.lines.confidence is not None
    assert np.all((boxes.lines.confidence > 0.3) & (boxes.lines.confidence <= 1))
    # The same detector ran: the same boxes as a full read, top to bottom.
    np.testing.assert_allclose(boxes.lines.xyxy, full.lines.xyxy, atol=1)
    assert list(boxes.lines.xyxy[:, 1]) == sorted(boxes.lines.xyxy[:, 1])


def test_recognition_only_reads_the_whole_image_as_one_line() -> None:
    line = render(("Invoice 48213 paid",), 32)
    tight = np.ascontiguousarray(line[20:-20])
    result = read_text(tight, OcrOptions(detect=False, words=True))
    assert cer("Invoice 48213 paid", result.text) <= 0.02, result.text
    height, width = tight.shape[:2]
    [xyxy] = result.lines.xyxy
    assert xyxy.tolist() == [0, 0, width, height]
    assert result.words is not None
    assert list(result.words.data[CLASS_NAME]) == [result.text]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(OcrOptions(recognize=False), id="detection-only"),
        pytest.param(OcrOptions(detect=False), id="recognition-only"),
    ],
)
def test_one_stage_on_a_blank_image_finds_nothing(options: OcrOptions) -> None:
    result = read_text(np.full((120, 200, 3), 255, dtype=np.uint8), options)
    assert result.text == ""
    assert len(result.lines) == 0


@pytest.mark.parametrize(
    ("detection", "recognition", "expected"),
    [
        pytest.param("small", "small", OcrOptions(), id="both"),
        pytest.param("none", "tiny", OcrOptions(detect=False), id="recognition-only"),
        pytest.param("medium", "none", OcrOptions(recognize=False), id="detection-only"),
    ],
)
def test_pp_ocr_sizes_map_to_stages(detection: str, recognition: str, expected: OcrOptions) -> None:
    assert pp_ocr_options(detection, recognition, words=False) == expected


@pytest.mark.parametrize(
    ("detection", "recognition", "message"),
    [
        pytest.param("none", "none", "cannot both be 'none'", id="no-stage"),
        pytest.param("huge", "small", "none, tiny, small, medium", id="unknown-size"),
        pytest.param("", "small", "text_detection", id="empty"),
    ],
)
def test_bad_pp_ocr_sizes_are_rejected(detection: str, recognition: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        pp_ocr_options(detection, recognition, words=False)
    assert message in caught.value.message
