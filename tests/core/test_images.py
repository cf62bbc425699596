from __future__ import annotations

import base64
import io
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from tests.support.image_files import REAL_FILES, hdr_bomb, tiff_bomb, webp_bomb, zero_png
from visionflow.core import images as images_module
from visionflow.core.images import (
    Image,
    ImageHeader,
    decode_base64,
    decode_image_bytes,
    decode_with_header,
    image_size_wh,
)
from visionflow.errors import ImageDecodeError, ImageTooLargeError

MAX_PIXELS = 64_000_000


def _encode(pixels: np.ndarray, ext: str) -> bytes:
    ok, buffer = cv2.imencode(ext, pixels)
    assert ok
    return bytes(buffer.tobytes())


def _pil_bytes(image: PILImage.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


PNG_2x1 = _encode(np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8), ".png")
PNG_B64 = base64.b64encode(PNG_2x1).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(PNG_B64, id="plain"),
        pytest.param("data:image/png;base64," + PNG_B64, id="data-url"),
        pytest.param("DATA:image/png;BASE64," + PNG_B64, id="data-url-uppercase"),
        pytest.param("  \n" + PNG_B64 + "\n\t ", id="surrounding-whitespace"),
        pytest.param("\n".join(PNG_B64[i : i + 20] for i in range(0, 200, 20)), id="wrapped"),
        pytest.param(PNG_B64.rstrip("="), id="missing-padding"),
        pytest.param(base64.urlsafe_b64encode(PNG_2x1).decode(), id="url-safe-alphabet"),
    ],
)
def test_decode_base64_accepts(value: str) -> None:
    assert decode_base64(value) == PNG_2x1


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n ", "empty", id="only-whitespace"),
        pytest.param("data:image/png;base64,", "empty", id="prefix-only"),
        pytest.param("not base64!!", "not valid base64", id="punctuation"),
        pytest.param("abcde", "not valid base64", id="impossible-length"),
        pytest.param("ab=cd", "not valid base64", id="padding-in-the-middle"),
    ],
)
def test_decode_base64_rejects(value: str, cause: str) -> None:
    with pytest.raises(ImageDecodeError, match=cause) as caught:
        decode_base64(value)

    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\x00" * 64, "not an image", id="zeros"),
        pytest.param(b"hello, world", "not an image", id="text"),
        pytest.param(PNG_2x1[:20], "PNG header is truncated", id="truncated-header"),
    ],
)
def test_decode_image_bytes_rejects_garbage(data: bytes, cause: str) -> None:
    with pytest.raises(ImageDecodeError, match=cause) as caught:
        decode_image_bytes(data, max_pixels=MAX_PIXELS)

    assert caught.value.status_code == 400
    assert caught.value.code == "image_decode_error"


def _gray_png() -> bytes:
    return _encode(np.array([[0, 128, 255]], dtype=np.uint8), ".png")


def _rgba_png() -> bytes:
    rgba = PILImage.new("RGBA", (3, 1), (255, 0, 0, 255))
    rgba.putpixel((1, 0), (0, 255, 0, 128))
    rgba.putpixel((2, 0), (0, 0, 255, 0))
    return _pil_bytes(rgba, "PNG")


def _palette_png() -> bytes:
    return _pil_bytes(PILImage.new("RGB", (3, 1), (0, 0, 255)).convert("P"), "PNG")


@pytest.mark.parametrize(
    ("make", "expected_bgr"),
    [
        pytest.param(lambda: PNG_2x1, [[[255, 0, 0], [0, 0, 255]]], id="png-bgr"),
        pytest.param(_gray_png, [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]], id="grayscale"),
        pytest.param(_rgba_png, [[[0, 0, 255], [0, 255, 0], [255, 0, 0]]], id="rgba-drops-alpha"),
        pytest.param(_palette_png, [[[255, 0, 0]] * 3], id="palette"),
        pytest.param(
            lambda: _encode(np.full((2, 2, 3), 9, dtype=np.uint8), ".bmp"),
            [[[9, 9, 9]] * 2] * 2,
            id="bmp",
        ),
    ],
)
def test_decode_image_bytes_three_channels(
    make: Callable[[], bytes], expected_bgr: list[list[list[int]]]
) -> None:
    pixels = decode_image_bytes(make(), max_pixels=MAX_PIXELS)

    assert pixels.dtype == np.uint8
    assert pixels.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(pixels, np.asarray(expected_bgr, dtype=np.uint8))


@pytest.mark.parametrize(
    ("orientation", "expected_hw"),
    [
        pytest.param(None, (20, 40), id="no-exif"),
        pytest.param(1, (20, 40), id="normal"),
        pytest.param(3, (20, 40), id="rotated-180"),
        pytest.param(6, (40, 20), id="rotated-90-cw"),
        pytest.param(8, (40, 20), id="rotated-270-cw"),
    ],
)
def test_exif_orientation_applied(orientation: int | None, expected_hw: tuple[int, int]) -> None:
    # 40 wide x 20 tall, left half red, right half blue, so the rotation direction shows.
    image = PILImage.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))
    exif = PILImage.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    data = _pil_bytes(image, "JPEG", quality=95, exif=exif.tobytes())

    pixels = decode_image_bytes(data, max_pixels=MAX_PIXELS)

    assert pixels.shape == (*expected_hw, 3)
    if orientation == 6:
        # Rotating 90° clockwise puts the left (red) half on top.
        assert pixels[2, 10, 2] > 200
        assert pixels[2, 10, 0] < 50
        assert pixels[37, 10, 0] > 200


def test_zero_png_helper_builds_a_decodable_image() -> None:
    pixels = decode_image_bytes(zero_png(50, 40, rows_per_block=7), max_pixels=MAX_PIXELS)

    assert pixels.shape == (40, 50, 3)
    assert not pixels.any()


@pytest.mark.parametrize(
    ("make", "max_pixels", "size"),
    [
        pytest.param(lambda: zero_png(30_000, 30_000), MAX_PIXELS, "30000x30000", id="png-bomb"),
        pytest.param(lambda: zero_png(10_000, 10_000), MAX_PIXELS, "10000x10000", id="png"),
        pytest.param(lambda: zero_png(101, 100), 10_000, "101x100", id="just-over-a-small-limit"),
        pytest.param(lambda: hdr_bomb(12_000, 12_000), MAX_PIXELS, "12000x12000", id="hdr-bomb"),
        pytest.param(lambda: tiff_bomb(20_000, 20_000), MAX_PIXELS, "20000x20000", id="tiff-bomb"),
        pytest.param(lambda: webp_bomb(12_000, 12_000), MAX_PIXELS, "12000x12000", id="webp-bomb"),
    ],
)
def test_decompression_bomb_rejected_before_decoding(
    make: Callable[[], bytes], max_pixels: int, size: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make()
    assert len(data) < 10_000_000
    decoded: list[int] = []

    def refuse_to_decode(buffer: np.ndarray, flags: int) -> None:
        decoded.append(len(buffer))
        raise AssertionError("the image was decoded before its size was checked")

    monkeypatch.setattr(images_module.cv2, "imdecode", refuse_to_decode)

    with pytest.raises(ImageTooLargeError, match=rf"{size} pixels, over the limit") as caught:
        decode_image_bytes(data, max_pixels=max_pixels)

    assert caught.value.status_code == 413
    assert "VISIONFLOW_MAX_IMAGE_PIXELS" in caught.value.message
    assert decoded == []


@pytest.mark.parametrize(("make", "fmt"), REAL_FILES)
def test_every_format_decodes_to_the_same_pixels_as_opencv(
    make: Callable[[], bytes], fmt: str
) -> None:
    data = make()

    pixels = decode_image_bytes(data, max_pixels=MAX_PIXELS)

    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(pixels, expected)
    assert pixels.flags["C_CONTIGUOUS"]


def test_a_header_the_decoder_disagrees_with_is_refused() -> None:
    with pytest.raises(ImageDecodeError, match=r"declares 3x2 pixels but the image decodes to 2x1"):
        decode_with_header(PNG_2x1, ImageHeader("PNG", (3, 2)))


def test_bytes_no_decoder_can_size_are_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images_module.cv2, "imdecode", lambda *_: pytest.fail("decoded"))

    with pytest.raises(ImageDecodeError, match="OpenEXR images are not accepted"):
        decode_image_bytes(b"\x76\x2f\x31\x01" + bytes(100), max_pixels=MAX_PIXELS)


def test_image_at_the_pixel_limit_is_decoded() -> None:
    pixels = decode_image_bytes(zero_png(100, 100), max_pixels=10_000)

    assert pixels.shape == (100, 100, 3)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", None, id="empty"),
        pytest.param(b"garbage", None, id="garbage"),
        pytest.param(PNG_2x1, (2, 1), id="png"),
        pytest.param(zero_png(12_000, 9_000), (12_000, 9_000), id="large-header"),
    ],
)
def test_image_size_wh(data: bytes, expected: tuple[int, int] | None) -> None:
    assert image_size_wh(data) == expected


@pytest.mark.parametrize(
    "pixels",
    [
        pytest.param(np.zeros((0,), dtype=np.uint8), id="empty"),
        pytest.param(np.zeros((4, 4), dtype=np.uint8), id="two-dimensional"),
        pytest.param(np.zeros((4, 4, 4), dtype=np.uint8), id="four-channels"),
        pytest.param(np.zeros((4, 4, 3), dtype=np.float32), id="float"),
    ],
)
def test_image_rejects_bad_pixels(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        Image(pixels)  # type: ignore[arg-type]


def test_image_value() -> None:
    first = Image(np.zeros((20, 40, 3), dtype=np.uint8))
    second = Image(np.zeros((20, 40, 3), dtype=np.uint8), parent_id=first.id, offset_xy=(5, 6))

    assert first.size_wh == (40, 20)
    assert first.parent_id is None
    assert first.offset_xy == (0, 0)
    assert first.id != second.id
    assert second.parent_id == first.id


@pytest.mark.parametrize("size", [1, 2, 3, 4, 57, 1000, 250_000])
def test_decode_base64_gives_the_standard_modules_bytes(size: int) -> None:
    payload = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    text = base64.b64encode(payload).decode()
    assert decode_base64(text) == base64.b64decode(text, validate=True) == payload
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))  # MIME line breaks
    assert decode_base64(wrapped) == payload


@pytest.mark.parametrize("text", ["abc!", "ab=c", "a", "====", "é" * 4, "QUJD\x00"])
def test_decode_base64_refuses_what_the_standard_module_refuses(text: str) -> None:
    # binascii.Error (a ValueError), or a ValueError of its own for non-ASCII text
    with pytest.raises(ValueError, match=r"(?i)base64|ascii|padding|character"):
        base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        decode_base64(text)
