"""``qr_code_generator`` through the executor: the image decodes back to the text (OpenCV's QR
detector), its size follows the version and the border, colours in every spelling, the four
error-correction levels, pixel for pixel the reference's recipe, and 400s for what cannot be
made (text past the largest QR code, unknown colours, borders out of range)."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest
import qrcode
import qrcode.constants

from tests.workflows.blocks.helpers import run, step
from visionflow.workflows.blocks.codes import qr_code_modules
from visionflow.workflows.errors import InvalidInputTypeError, WorkflowSyntaxError
from visionflow.workflows.lineage import WorkflowImage

LOW = "Low (~7% word recovery / highest data capacity)"
MEDIUM = "Medium (~15% word recovery)"
QUARTILE = "Quartile (~25% word recovery)"
HIGH = "High (~30% word recovery / lowest data capacity)"
LEVELS = {
    LOW: qrcode.constants.ERROR_CORRECT_L,
    MEDIUM: qrcode.constants.ERROR_CORRECT_M,
    QUARTILE: qrcode.constants.ERROR_CORRECT_Q,
    HIGH: qrcode.constants.ERROR_CORRECT_H,
}
TEXT_INPUT = [{"type": "WorkflowParameter", "name": "text"}]


def _generate(serialize: bool = False, **fields: Any) -> Any:
    """The ``qr_code`` output of one step; ``text`` comes from a parameter unless given."""
    fields.setdefault("text", "$inputs.text")
    [result] = run(
        [step("qr_code_generator@v1", "qr", **fields)],
        {"qr": "$steps.qr.qr_code"},
        {},
        {"text": "https://roboflow.com"},
        declared=TEXT_INPUT,
        serialize=serialize,
    )
    return result["qr"]


def _pixels(**fields: Any) -> np.ndarray:
    image = _generate(**fields)
    assert isinstance(image, WorkflowImage)
    return image.pixels_bgr


def _decoded(pixels: np.ndarray) -> str:
    text, points, _straight = cv2.QRCodeDetector().detectAndDecode(pixels)
    assert points is not None
    return str(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("https://roboflow.com", id="url"),
        pytest.param("3141592653589793238462643383279", id="digits"),
        pytest.param("HELLO WORLD $%*+-./:", id="alphanumeric"),
        pytest.param("visionflow " * 20, id="long"),
        pytest.param("a", id="one-character"),
    ],
)
@pytest.mark.parametrize("level", list(LEVELS))
def test_the_image_decodes_back_to_the_text(text: str, level: str) -> None:
    assert _decoded(_pixels(text=text, error_correct=level)) == text


@pytest.mark.parametrize(
    ("text", "level", "border", "side_px"),
    [
        # Sides the reference gives for the same fields (benchmarks/peer_workflow_cases.py).
        pytest.param("https://roboflow.com", MEDIUM, 4, 330, id="defaults-version-2"),
        pytest.param("HELLO WORLD 12345", LOW, 4, 290, id="low-version-1"),
        pytest.param("HELLO WORLD 12345", QUARTILE, 4, 330, id="quartile-version-2"),
        pytest.param("HELLO WORLD 12345", HIGH, 4, 330, id="high-version-2"),
        pytest.param("names", MEDIUM, 0, 210, id="no-border"),
        pytest.param("border", MEDIUM, 7, 350, id="border-7"),
        pytest.param("visionflow " * 120, MEDIUM, 4, 1450, id="version-33"),
        pytest.param("", MEDIUM, 4, 290, id="empty-text"),
    ],
)
def test_size_is_ten_px_per_module_with_the_border(
    text: str, level: str, border: int, side_px: int
) -> None:
    pixels = _pixels(text=text, error_correct=level, border=border)
    assert pixels.shape == (side_px, side_px, 3)
    assert pixels.dtype == np.uint8
    # The quiet zone is background, the finder pattern's corner starts right after it.
    assert (pixels[: border * 10, :] == 255).all()
    assert (pixels[border * 10, border * 10] == 0).all()


@pytest.mark.parametrize("border", [0, 1, 4, 9])
@pytest.mark.parametrize(
    ("text", "level"),
    [
        pytest.param("https://roboflow.com", MEDIUM, id="url"),
        pytest.param("3141592653589793238462643383279", LOW, id="digits"),
        pytest.param("Zürich → 東京 ✓", HIGH, id="utf-8"),
        pytest.param("MIXED 0123456789 mixed " * 10, QUARTILE, id="segments"),
    ],
)
def test_pixels_are_the_reference_recipe(text: str, level: str, border: int) -> None:
    """The reference: ``qrcode.QRCode(version=None, box_size=10, border)``, ``add_data``,
    ``make(fit=True)``, ``make_image(fill, back).convert("RGB")``, RGB to BGR."""
    code = qrcode.QRCode(version=None, error_correction=LEVELS[level], box_size=10, border=border)
    code.add_data(text)
    code.make(fit=True)
    rgb = np.array(code.make_image(fill_color=(30, 144, 255), back_color=(255, 255, 0)))
    expected = np.asarray(rgb)[:, :, ::-1]
    pixels = _pixels(
        text=text,
        error_correct=level,
        border=border,
        fill_color="#1E90FF",
        back_color="rgb(255, 255, 0)",
    )
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize(
    ("spelling", "bgr"),
    [
        pytest.param("BLACK", (0, 0, 0), id="supervision-name"),
        pytest.param("roboflow", (251, 81, 163), id="supervision-name-lower-case"),
        pytest.param("#FF0000", (0, 0, 255), id="hex"),
        pytest.param("#0f0", (0, 255, 0), id="short-hex"),
        pytest.param("#0000ff80", (255, 0, 0), id="hex-with-alpha"),
        pytest.param("rgb(10, 20, 30)", (30, 20, 10), id="rgb"),
        pytest.param("bgr(10, 20, 30)", (10, 20, 30), id="bgr"),
        pytest.param("navy", (128, 0, 0), id="css-name"),
        pytest.param("hsl(120, 100%, 25%)", (0, 128, 0), id="css-hsl"),
    ],
)
def test_colours_in_every_spelling(spelling: str, bgr: tuple[int, int, int]) -> None:
    pixels = _pixels(text="colours", fill_color=spelling, back_color="WHITE", border=1)
    assert pixels[10, 10].tolist() == list(bgr)  # the finder pattern's corner: dark
    assert pixels[0, 0].tolist() == [255, 255, 255]
    background = _pixels(text="colours", fill_color="BLACK", back_color=spelling, border=1)
    assert background[0, 0].tolist() == list(bgr)


@pytest.mark.parametrize(
    "field", [pytest.param("fill_color", id="fill"), pytest.param("back_color", id="back")]
)
@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("not-a-colour", id="unknown-name"),
        pytest.param("#12345", id="bad-hex"),
        pytest.param("rgb(1, 2)", id="two-components"),
        pytest.param("transparent", id="transparent"),
        pytest.param("", id="empty"),
    ],
)
def test_an_unknown_colour_is_a_400_naming_the_field(field: str, spelling: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=f"field '{field}': unknown colour"):
        _pixels(text="x", **{field: spelling})


@pytest.mark.parametrize(
    ("level", "text_bytes", "alphanumeric", "digits"),
    [
        pytest.param(LOW, 2953, 4296, 7089, id="low"),
        pytest.param(MEDIUM, 2331, 3391, 5596, id="medium"),
        pytest.param(QUARTILE, 1663, 2420, 3993, id="quartile"),
        pytest.param(HIGH, 1273, 1852, 3057, id="high"),
    ],
)
def test_text_up_to_the_largest_qr_code_and_a_400_past_it(
    level: str, text_bytes: int, alphanumeric: int, digits: int
) -> None:
    for full in ("x" * text_bytes, "X" * alphanumeric, "7" * digits):
        level_id = LEVELS[level]
        assert qr_code_modules(full, level_id).shape == (177, 177)  # version 40
        with pytest.raises(InvalidInputTypeError, match="field 'text'") as caught:
            _pixels(text=full + full[0], error_correct=level)
        assert f"the largest holds {text_bytes} bytes" in str(caught.value)
        assert f"{alphanumeric} characters" in str(caught.value)
        assert f"or {digits} digits" in str(caught.value)


def test_multibyte_text_counts_its_utf8_bytes() -> None:
    with pytest.raises(InvalidInputTypeError, match="2954 bytes are too many"):
        _pixels(text="é" * 1477, error_correct=LOW)


def test_a_huge_text_is_refused_before_encoding() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInputTypeError, match="1000000 bytes are too many"):
        _pixels(text="1" * 1_000_000)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("border", "message"),
    [
        pytest.param(-1, r"an integer >= 0", id="negative"),
        pytest.param(500, r"10210 x 10210 px .* \(VISIONFLOW_MAX_IMAGE_PIXELS\)", id="too-large"),
        pytest.param(10**12, r"VISIONFLOW_MAX_IMAGE_PIXELS", id="huge"),
    ],
)
def test_borders_out_of_range_are_400s(border: Any, message: str) -> None:
    with pytest.raises(InvalidInputTypeError, match=message):
        _pixels(text="a", border=border)


def test_text_must_be_a_string() -> None:
    with pytest.raises(InvalidInputTypeError, match="field 'text': expected a string"):
        run(
            [step("qr_code_generator@v1", "qr", text="$inputs.text")],
            {"qr": "$steps.qr.qr_code"},
            {},
            {"text": 12345},
            declared=TEXT_INPUT,
        )


def test_error_correction_outside_the_four_labels_is_refused() -> None:
    with pytest.raises(WorkflowSyntaxError, match="field 'error_correct'"):
        _pixels(text="a", error_correct="M")


def test_the_image_is_a_new_root_image_named_qr_code() -> None:
    """As the reference: ``parent_id`` ``qr_code.<uuid>`` (the video id of its metadata), no
    parent of its own; a new one on every run."""
    first = _generate(serialize=True)
    second = _generate(serialize=True)
    assert first["type"] == "base64"
    assert "parent_id" not in first
    ids = [out["video_metadata"]["video_identifier"] for out in (first, second)]
    assert all(video_id.startswith("qr_code.") and len(video_id) == 44 for video_id in ids)
    assert ids[0] != ids[1]


def test_the_alias_and_a_step_reading_the_code_back() -> None:
    [result] = run(
        [
            {"type": "QRCodeGenerator", "name": "qr", "text": "$inputs.text"},
            step("qr_code_detector@v1", "read", images="$steps.qr.qr_code"),
        ],
        {"codes": "$steps.read.predictions"},
        {},
        {"text": "read me back"},
        declared=TEXT_INPUT,
        serialize=True,
    )
    [code] = result["codes"]["predictions"]
    assert code["data"] == "read me back"
    assert code["parent_id"].startswith("qr_code.")


def test_modules_are_cached_read_only() -> None:
    modules = qr_code_modules("cached", qrcode.constants.ERROR_CORRECT_M)
    assert qr_code_modules("cached", qrcode.constants.ERROR_CORRECT_M) is modules
    assert not modules.flags.writeable
