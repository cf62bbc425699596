"""The header reader sizes every format OpenCV decodes, as that decoder sizes it, from the header
alone; what it cannot size, it refuses."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.support.image_files import (
    HEIGHT,
    PIXELS,
    REAL_FILES,
    WIDTH,
    cv_file,
    hdr_bomb,
    tiff,
    tiff_bomb,
    webp_bomb,
    zero_png,
)
from visionflow.core.image_headers import ACCEPTED_FORMATS, ImageHeader, read_image_header
from visionflow.errors import ImageDecodeError


@pytest.mark.parametrize(("make", "fmt"), REAL_FILES)
def test_the_header_size_is_the_decoded_size(make: Callable[[], bytes], fmt: str) -> None:
    data = make()

    header = read_image_header(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    assert header == ImageHeader(fmt, (WIDTH, HEIGHT))
    assert decoded.shape[:2] == (HEIGHT, WIDTH)


def _vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | (height - 1) << 14
    frame = b"\x2f" + struct.pack("<I", bits) + bytes(7)
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(frame)) + b"WEBPVP8L" + bytes(4) + frame


def _sun(width: int, height: int) -> bytes:
    return b"\x59\xa6\x6a\x95" + struct.pack(">7i", width, height, 8, 0, 1, 0, 0)


def _bmp(width: int, height: int) -> bytes:
    return b"BM" + bytes(12) + struct.pack("<iiiHH", 40, width, height, 1, 24) + bytes(24)


def _j2k(x_size: int, y_size: int, x_origin: int = 0, y_origin: int = 0) -> bytes:
    return b"\xff\x4f\xff\x51" + struct.pack(">HHIIII", 41, 0, x_size, y_size, x_origin, y_origin)


# Hand-written headers declaring huge images: the size is read without touching the pixel data.
BOMBS = [
    pytest.param(lambda: zero_png(30_000, 30_000), "PNG", (30_000, 30_000), id="png"),
    pytest.param(
        lambda: hdr_bomb(12_000, 12_000, rows=4), "Radiance HDR", (12_000, 12_000), id="hdr"
    ),
    pytest.param(lambda: tiff_bomb(20_000, 20_000), "TIFF", (20_000, 20_000), id="tiff-le"),
    pytest.param(
        lambda: tiff_bomb(20_000, 9_000, order=">"), "TIFF", (20_000, 9_000), id="tiff-be"
    ),
    pytest.param(lambda: webp_bomb(12_000, 12_000), "WebP", (12_000, 12_000), id="webp-canvas"),
    pytest.param(lambda: _vp8l(16_384, 16_384), "WebP", (16_384, 16_384), id="webp-vp8l"),
    pytest.param(
        lambda: b"GIF89a" + struct.pack("<HH", 65535, 65535) + bytes(3),
        "GIF",
        (65535, 65535),
        id="gif",
    ),
    pytest.param(lambda: _bmp(30_000, -30_000), "BMP", (30_000, 30_000), id="bmp-top-down"),
    pytest.param(
        lambda: b"P5\n# a comment\n40000 30000\n255\n", "PBM/PGM/PPM", (40_000, 30_000), id="pgm"
    ),
    pytest.param(lambda: b"P4 70000\t50000 ", "PBM/PGM/PPM", (70_000, 50_000), id="pbm-tabs"),
    pytest.param(
        lambda: b"P7\nWIDTH 20000\nHEIGHT 10000\nDEPTH 3\nMAXVAL 255\nENDHDR\n",
        "PAM",
        (20_000, 10_000),
        id="pam",
    ),
    pytest.param(lambda: b"PF\n12000 11000\n-1\n", "PFM", (12_000, 11_000), id="pfm"),
    pytest.param(lambda: _sun(30_000, 30_000), "Sun raster", (30_000, 30_000), id="sun-raster"),
    pytest.param(lambda: _j2k(40_000, 30_000, 100, 200), "JPEG 2000", (39_900, 29_800), id="j2k"),
    pytest.param(
        lambda: (
            b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08\xff\xff\xff\xfe"
            + bytes(10)
            + b"\xff\xda"
        ),
        "JPEG",
        (65534, 65535),
        id="jpeg",
    ),
]


@pytest.mark.parametrize(("make", "fmt", "size_wh"), BOMBS)
def test_huge_sizes_are_read_from_the_header(
    make: Callable[[], bytes], fmt: str, size_wh: tuple[int, int]
) -> None:
    data = make()
    assert len(data) < 10_000_000

    assert read_image_header(data) == ImageHeader(fmt, size_wh)


def _tiff_with_widths(*widths: int) -> bytes:
    height = 4
    pixels = bytes(max(widths) * height)
    entries = [(256, 4, 1, width) for width in widths] + [
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, len(pixels)),
    ]
    return tiff(entries, pixels)


def _jp2_with_lying_ihdr() -> bytes:
    data = bytearray(cv_file(".jp2")())
    at = data.find(b"ihdr")
    data[at + 4 : at + 12] = struct.pack(">II", 1, 1)
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "size_wh"),
    [
        # libtiff keeps the first of a repeated tag, and so does the reader.
        pytest.param(lambda: _tiff_with_widths(8, 300), (8, 4), id="tiff-repeated-tag-first"),
        pytest.param(lambda: _tiff_with_widths(300, 8), (300, 4), id="tiff-repeated-tag-big"),
        # The JP2 codestream's SIZ, not the ihdr box, sizes the image.
        pytest.param(_jp2_with_lying_ihdr, (WIDTH, HEIGHT), id="jp2-codestream-not-ihdr"),
        # HDR header lines are cut as fgets cuts them (127 bytes).
        pytest.param(
            lambda: b"#?RGBE\n# " + b"x" * 300 + b"\nFORMAT=32-bit_rle_rgbe\n\n-Y  20 +X 30\n",
            (30, 20),
            id="hdr-long-comment",
        ),
    ],
)
def test_the_size_is_the_decoders_reading(
    make: Callable[[], bytes], size_wh: tuple[int, int]
) -> None:
    data = make()

    assert read_image_header(data).size_wh == size_wh
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is not None:  # (the lying JP2 is refused by OpenJPEG too)
        assert decoded.shape[1::-1] == size_wh


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\x00" * 64, "not an image", id="zeros"),
        pytest.param(b"hello, world", "not an image", id="text"),
        pytest.param(b"\x76\x2f\x31\x01" + bytes(60), "OpenEXR images are not accepted", id="exr"),
        pytest.param(b"\x2f" + bytes(40), "not an image", id="bare-vp8l-bitstream"),
        pytest.param(zero_png(4, 4)[:20], "PNG header is truncated", id="png-truncated"),
        pytest.param(b"\x89PNG\r\n\x1a\n\0\0\0\x04CgBI", "PNG header", id="png-not-ihdr-first"),
        pytest.param(b"GIF89a\x00\x00\x10\x00", "GIF header", id="gif-zero-width"),
        pytest.param(b"GIF8xa\x10\x00\x10\x00", "GIF header", id="gif-bad-version"),
        pytest.param(_bmp(0, 10), "BMP header", id="bmp-zero-width"),
        pytest.param(
            b"BM" + bytes(12) + struct.pack("<i", 20) + bytes(20),
            "BMP header",
            id="bmp-odd-info-size",
        ),
        pytest.param(
            b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n-Y 10 +X 10\n",
            "Radiance HDR header",
            id="hdr-no-blank-line",
        ),
        pytest.param(b"#?RADIANCE\n\n-Y 10 +X 10\n", "Radiance HDR header", id="hdr-no-format"),
        pytest.param(
            b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n+X 10 -Y 10\n",
            "Radiance HDR header",
            id="hdr-other-orientation",
        ),
        pytest.param(
            b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 99999999999 +X 10\n",
            "Radiance HDR header",
            id="hdr-past-int",
        ),
        pytest.param(
            b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10"
            + bytes(10)
            + b"\xff\xc0\x00\x11\x08\x10\x00\x10\x00"
            + bytes(10)
            + b"\xff\xda",
            "JPEG header",
            id="jpeg-two-sofs",
        ),
        pytest.param(b"\xff\xd8\xff\xda\x00\x08", "JPEG header", id="jpeg-sos-before-sof"),
        pytest.param(
            b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10" + bytes(10) + b"\xff\xda",
            "JPEG header",
            id="jpeg-zero-height",
        ),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG header", id="jpeg-truncated"),
        pytest.param(b"RIFF\x20\0\0\0WEBPALPH" + bytes(20), "WebP header", id="webp-no-frame"),
        pytest.param(
            b"RIFF\x20\0\0\0WEBPVP8X\x09\0\0\0" + bytes(20), "WebP header", id="webp-bad-vp8x"
        ),
        pytest.param(b"P5\n10 x 20\n255\n", "PBM/PGM/PPM header", id="pxm-letters"),
        pytest.param(b"P6\n10 20", "PBM/PGM/PPM header", id="pxm-truncated"),
        pytest.param(b"P5\n99999999999 20\n255\n", "PBM/PGM/PPM header", id="pxm-past-int"),
        pytest.param(
            b"P7\nWIDTH 10\nHEIGHT 10\nDEPTH 3\nENDHDR\n", "PAM header", id="pam-no-maxval"
        ),
        pytest.param(
            b"P7\nWIDTH 10\nWIDTH 12\nHEIGHT 10\nDEPTH 3\nMAXVAL 255\nENDHDR\n",
            "PAM header",
            id="pam-repeated-width",
        ),
        pytest.param(
            b"P7\nWIDTH 10\nHEIGHT 10\nDEPTH 300\nMAXVAL 255\nENDHDR\n",
            "1 to 4 channels",
            id="pam-deep",
        ),
        pytest.param(b"PF 10 10\n-1\n", "PFM header", id="pfm-no-newline"),
        pytest.param(b"PF\n10  10\n-1\n", "PFM header", id="pfm-empty-height"),
        pytest.param(_sun(-5, 10), "Sun raster header", id="sun-negative"),
        pytest.param(tiff([(256, 4, 1, 10)]), "TIFF header", id="tiff-no-length"),
        pytest.param(
            tiff([(256, 2, 4, 10), (257, 4, 1, 10)]), "TIFF header", id="tiff-ascii-width"
        ),
        pytest.param(b"II*\0\xff\xff\0\0", "TIFF header", id="tiff-directory-past-end"),
        pytest.param(
            tiff([(256, 4, 1, 16), (257, 4, 1, 16), (322, 4, 1, 16384), (323, 4, 1, 16384)]),
            "tiles are larger",
            id="tiff-huge-tiles",
        ),
        pytest.param(_j2k(10, 10, 20, 0), "JPEG 2000 header", id="j2k-origin-past-size"),
        pytest.param(
            b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x04ftyp", "JPEG 2000 header", id="jp2-bad-box"
        ),
    ],
)
def test_what_cannot_be_sized_is_refused(data: bytes, cause: str) -> None:
    with pytest.raises(ImageDecodeError, match=cause) as caught:
        read_image_header(data)

    assert caught.value.status_code == 400
    if cause != "empty":
        assert ACCEPTED_FORMATS in caught.value.message


def _pillow_file(fmt: str) -> bytes:
    image = Image.fromarray(PIXELS)
    out = io.BytesIO()
    (image.convert("1") if fmt in {"MSP", "XBM"} else image).save(out, fmt)
    return out.getvalue()


# Every format this Pillow writes that OpenCV has no decoder for (what OpenCV decodes is in
# REAL_FILES): OpenCV cannot read them, and neither is their size read, so they are refused.
@pytest.mark.parametrize(
    "fmt",
    ["DDS", "ICNS", "ICO", "MSP", "PCX", "PDF", "QOI", "SGI", "SPIDER", "TGA", "XBM"],
)
def test_formats_opencv_does_not_decode_are_refused(fmt: str) -> None:
    data = _pillow_file(fmt)

    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None
    with pytest.raises(ImageDecodeError, match="not an image in a supported format"):
        read_image_header(data)
