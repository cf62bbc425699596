"""PP-OCR through ``read_text``: rendered text in several sizes, clean and noisy, read back with
a character error rate of at most 2 %."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.ocr_images import cer, levenshtein, render
from visionflow.core.detections import CLASS_NAME
from visionflow.models.ocr import read_text

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
    result = read_text(render(LINES, size, noise))
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
    result = read_text(image)
    assert result.text == "alpha beta"
    alpha, beta = result.words.xyxy
    assert alpha[2] <= beta[0] + 2
    # The words are on the rendered line: dark pixels inside each box.
    for x1, y1, x2, y2 in result.words.xyxy.astype(int):
        assert image[y1:y2, x1:x2].min() < 100


def test_blank_image_gives_an_empty_result() -> None:
    result = read_text(np.full((200, 300, 3), 255, dtype=np.uint8))
    assert result.text == ""
    assert len(result.words) == 0
    assert len(result.lines) == 0
    assert list(result.words.data[CLASS_NAME]) == []
