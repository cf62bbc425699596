"""Drawing any task's result returns new pixels of the same size; nothing to draw → a copy."""

from __future__ import annotations

import base64
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import supervision as sv

from visionflow.core.detections import (
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
    POLYGON,
    empty_detections,
    make_detections,
)
from visionflow.core.results import ClassificationResult, SemanticSegmentationResult
from visionflow.core.visualization import (
    Result,
    annotate,
    annotate_detections,
    drawable_text,
    encode_jpeg,
    encode_jpeg_base64,
)

HEIGHT, WIDTH = 120, 160
# The test box (20, 30, 90, 100) and a few pixels of line thickness around it.
BOX_REGION = (slice(27, 104), slice(17, 94))


def _image() -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), 60, dtype=np.uint8)


def _boxes() -> sv.Detections:
    return make_detections(
        np.array([[20, 30, 90, 100]], dtype=np.float32), np.array([0.8]), np.array([1]), ("a", "b")
    )


def _masked() -> sv.Detections:
    detections = _boxes()
    mask = np.zeros((1, HEIGHT, WIDTH), dtype=bool)
    mask[0, 40:90, 30:80] = True
    detections.mask = mask
    polygons = np.empty(1, dtype=object)
    polygons[0] = np.array([[30, 40], [30, 89], [79, 89], [79, 40]], dtype=np.float32)
    detections.data[POLYGON] = polygons
    return detections


def _keypoints() -> sv.Detections:
    detections = _boxes()
    detections.data[KEYPOINTS_XY] = np.array([[[40, 50], [70, 80], [200, -5]]], dtype=np.float32)
    detections.data[KEYPOINTS_CONFIDENCE] = np.array([[0.9, 0.8, 0.7]], dtype=np.float32)
    names = np.empty(1, dtype=object)
    names[0] = ["nose", "eye", "ear"]
    detections.data[KEYPOINTS_CLASS_NAME] = names
    return detections


def _classification() -> ClassificationResult:
    return ClassificationResult(("cat", "dog"), np.array([0.3, 0.7], dtype=np.float32))


def _semantic() -> SemanticSegmentationResult:
    ids = np.zeros((HEIGHT, WIDTH), dtype=np.int32)
    ids[:, WIDTH // 2 :] = 1
    return SemanticSegmentationResult(
        ("background", "road"), ids, np.ones((HEIGHT, WIDTH), dtype=np.float32)
    )


@pytest.mark.parametrize(
    ("make", "labels", "changed_region"),
    [
        pytest.param(_boxes, False, BOX_REGION, id="boxes"),
        pytest.param(_boxes, True, (slice(0, HEIGHT), slice(0, WIDTH)), id="boxes-with-labels"),
        pytest.param(_masked, False, BOX_REGION, id="masks"),
        pytest.param(_keypoints, False, BOX_REGION, id="keypoints"),
        pytest.param(_classification, True, (slice(0, 80), slice(0, WIDTH)), id="classification"),
        pytest.param(_semantic, True, (slice(0, HEIGHT), slice(WIDTH // 2, WIDTH)), id="semantic"),
    ],
)
def test_annotate_draws_on_a_same_size_copy(
    make: Callable[[], Result], labels: bool, changed_region: tuple[slice, slice]
) -> None:
    image = _image()
    original = image.copy()

    drawn = annotate(image, make(), labels=labels, stroke_width=2)

    assert drawn.shape == image.shape
    assert drawn.dtype == np.uint8
    np.testing.assert_array_equal(image, original)  # the input is never drawn on
    changed = np.any(drawn != image, axis=2)
    assert changed.any()
    # Something was drawn where the result is, and nothing far outside it.
    region = np.zeros_like(changed)
    region[changed_region] = True
    assert changed[region].any()
    assert not changed[~region].any()


def test_masks_are_filled_not_just_outlined() -> None:
    image = _image()

    drawn = annotate(image, _masked(), labels=False)

    # The mask's inside is tinted although no box line or label crosses it.
    assert np.all(drawn[60:70, 50:60] != image[60:70, 50:60])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(empty_detections, id="empty-detections"),
        pytest.param(
            lambda: ClassificationResult((), np.zeros(0, dtype=np.float32)),
            id="empty-classification",
        ),
        pytest.param(
            lambda: SemanticSegmentationResult(
                ("background", "road"),
                np.zeros((HEIGHT, WIDTH), dtype=np.int32),
                np.ones((HEIGHT, WIDTH), dtype=np.float32),
            ),
            id="semantic-all-background",
        ),
    ],
)
def test_nothing_to_draw_returns_an_unchanged_copy(make: Callable[[], Result]) -> None:
    image = _image()

    drawn = annotate(image, make())

    assert drawn is not image
    np.testing.assert_array_equal(drawn, image)


def test_annotate_detections_empty_is_a_copy() -> None:
    image = _image()

    drawn = annotate_detections(image, empty_detections())

    assert drawn is not image
    np.testing.assert_array_equal(drawn, image)


def test_jpeg_encoders_decode_back_to_the_same_size() -> None:
    image = annotate(_image(), _masked())

    raw = encode_jpeg(image)
    from_b64 = base64.b64decode(encode_jpeg_base64(image))

    assert raw[:3] == b"\xff\xd8\xff"
    assert raw == from_b64
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape


def test_drawable_text_replaces_unpaired_surrogates_only() -> None:
    assert drawable_text("plain") == "plain"
    assert drawable_text("a\ud800b") == "a\ufffdb"
    assert drawable_text("\udfff") == "\ufffd"
    assert drawable_text("emoji \U0001f600") == "emoji \U0001f600"  # a real pair is kept
