"""Small image files built by hand: decompression bombs (a few kB to a few MB that declare
hundreds of millions of pixels, most of them valid so decoding them really would cost gigabytes)
and headers that break a decoder's rules, for the image-decoding tests."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

__all__ = [
    "HEIGHT",
    "PIXELS",
    "REAL_FILES",
    "WIDTH",
    "cv_file",
    "gif_bomb",
    "hdr_bomb",
    "tiff",
    "tiff_bomb",
    "webp_bomb",
    "zero_png",
]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(width: int, height: int, rows_per_block: int = 64) -> bytes:
    """A valid 8-bit grayscale PNG of an all-zero ``width x height`` image, built cheaply.

    The pixel stream is one fully-flushed deflate block of ``rows_per_block`` rows repeated, so a
    30000x30000 image (900 MB of pixels) takes under a megabyte and no time to build.
    """
    row = bytes(width + 1)  # filter byte 0, then zero pixels
    block_rows = min(rows_per_block, height)
    full_blocks, rest = divmod(height, block_rows)
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = head.compress(row * block_rows) + head.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(row * rest) + tail.flush()
    # Adler-32 of n zero bytes: A = 1, B = n (mod 65521).
    adler = ((len(row) * height) % 65521) << 16 | 1
    stream = b"\x78\xda" + block * full_blocks + last + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )


def hdr_bomb(width: int, height: int, rows: int | None = None) -> bytes:
    """A Radiance HDR of a black ``width x height`` image (8 <= width < 32768), run-length
    encoded; only its first ``rows`` scanlines when given. 12000x12000 is about 9 MB and decodes
    to 1.7 GB of float pixels."""
    head = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()
    runs, rest = divmod(width, 127)
    channel = bytes([128 + 127, 0]) * runs + (bytes([128 + rest, 0]) if rest else b"")
    scanline = bytes([2, 2, width >> 8, width & 0xFF]) + channel * 4
    return head + scanline * (height if rows is None else rows)


_SHORT, _LONG = 3, 4


def tiff(entries: list[tuple[int, int, int, int]], payload: bytes = b"", order: str = "<") -> bytes:
    """A classic TIFF: header, ``payload`` at offset 8, then one directory of ``entries``
    ``(tag, type, count, value)`` in the order given (values inline; offsets into the file are
    the caller's)."""
    directory_at = 8 + len(payload)
    out = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, directory_at)
    directory = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        if kind == _SHORT and count == 1:
            directory += struct.pack(order + "HHIHH", tag, kind, count, value, 0)
        else:
            directory += struct.pack(order + "HHII", tag, kind, count, value)
    return out + payload + directory + struct.pack(order + "I", 0)


def tiff_bomb(width: int, height: int, rows_per_strip: int = 64, order: str = "<") -> bytes:
    """A valid 8-bit grayscale deflate TIFF of a black ``width x height`` image whose strips all
    point at the same small compressed block: a few kB for 20000x20000."""
    strip = zlib.compress(bytes(width * rows_per_strip), 9)
    strips = -(-height // rows_per_strip)
    offsets_at = 8 + len(strip)
    counts_at = offsets_at + 4 * strips
    payload = (
        strip
        + struct.pack(order + f"{strips}I", *([8] * strips))
        + struct.pack(order + f"{strips}I", *([len(strip)] * strips))
    )
    entries = [
        (256, _LONG, 1, width),
        (257, _LONG, 1, height),
        (258, _SHORT, 1, 8),
        (259, _SHORT, 1, 8),  # deflate
        (262, _SHORT, 1, 1),  # black is zero
        (273, _LONG, strips, offsets_at),
        (277, _SHORT, 1, 1),
        (278, _LONG, 1, rows_per_strip),
        (279, _LONG, strips, counts_at),
    ]
    return tiff(entries, payload, order)


def webp_bomb(width: int, height: int) -> bytes:
    """An animated WebP of two 1x1 frames on a ``width x height`` canvas: 146 bytes that the
    decoder turns into two RGBA canvases and a BGR image."""
    frames = [Image.new("RGB", (1, 1), (9, 9, 9)), Image.new("RGB", (1, 1), (1, 2, 3))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    data = bytearray(out.getvalue())
    assert data[12:16] == b"VP8X"
    data[24:27] = (width - 1).to_bytes(3, "little")
    data[27:30] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def gif_bomb(width: int, height: int) -> bytes:
    """A GIF of one 1x1 frame on a ``width x height`` logical screen (at most 65535 each): 37
    bytes, which OpenCV paints as a screen-sized RGBA image, every pixel written."""
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    data = bytearray(out.getvalue())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


WIDTH, HEIGHT = 53, 37
PIXELS = np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def cv_file(ext: str, *params: int) -> Callable[[], bytes]:
    def make() -> bytes:
        pixels: np.ndarray = PIXELS
        if ext in {".hdr", ".pfm"}:
            pixels = PIXELS.astype(np.float32) / 255
        elif ext in {".pbm", ".pgm"}:
            pixels = PIXELS[:, :, 0]
        ok, buffer = cv2.imencode(ext, pixels, list(params))
        assert ok
        return bytes(buffer.tobytes())

    return make


def pil_file(fmt: str, mode: str = "RGB", **options: object) -> Callable[[], bytes]:
    def make() -> bytes:
        image = Image.fromarray(PIXELS[:, :, ::-1].copy()).convert(mode)
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    return make


def animated(fmt: str, **options: object) -> Callable[[], bytes]:
    def make() -> bytes:
        first = Image.fromarray(PIXELS)
        out = io.BytesIO()
        first.save(out, fmt, save_all=True, append_images=[first.rotate(180)], **options)
        return out.getvalue()

    return make


# Every decoder OpenCV has here, from the files real encoders write: (make, format name).
REAL_FILES = [
    pytest.param(cv_file(".bmp"), "BMP", id="bmp"),
    pytest.param(pil_file("BMP", "P"), "BMP", id="bmp-palette"),
    pytest.param(cv_file(".gif"), "GIF", id="gif"),
    pytest.param(animated("GIF"), "GIF", id="gif-animated"),
    pytest.param(cv_file(".avif"), "AVIF", id="avif"),
    pytest.param(pil_file("AVIF"), "AVIF", id="avif-pillow"),
    pytest.param(cv_file(".hdr"), "Radiance HDR", id="hdr-rle"),
    pytest.param(
        cv_file(".hdr", cv2.IMWRITE_HDR_COMPRESSION, cv2.IMWRITE_HDR_COMPRESSION_NONE),
        "Radiance HDR",
        id="hdr-flat",
    ),
    pytest.param(cv_file(".jpg"), "JPEG", id="jpeg"),
    pytest.param(pil_file("JPEG", progressive=True), "JPEG", id="jpeg-progressive"),
    pytest.param(pil_file("JPEG", "L"), "JPEG", id="jpeg-gray"),
    pytest.param(cv_file(".webp"), "WebP", id="webp-lossless"),
    pytest.param(cv_file(".webp", cv2.IMWRITE_WEBP_QUALITY, 80), "WebP", id="webp-lossy"),
    pytest.param(pil_file("WEBP", "RGBA"), "WebP", id="webp-alpha-vp8x"),
    pytest.param(animated("WEBP"), "WebP", id="webp-animated"),
    pytest.param(cv_file(".ras"), "Sun raster", id="sun-raster"),
    pytest.param(cv_file(".pbm"), "PBM/PGM/PPM", id="pbm"),
    pytest.param(cv_file(".pbm", cv2.IMWRITE_PXM_BINARY, 0), "PBM/PGM/PPM", id="pbm-ascii"),
    pytest.param(cv_file(".pgm"), "PBM/PGM/PPM", id="pgm"),
    pytest.param(cv_file(".ppm"), "PBM/PGM/PPM", id="ppm"),
    pytest.param(cv_file(".ppm", cv2.IMWRITE_PXM_BINARY, 0), "PBM/PGM/PPM", id="ppm-ascii"),
    pytest.param(cv_file(".pam"), "PAM", id="pam"),
    pytest.param(cv_file(".pfm"), "PFM", id="pfm"),
    pytest.param(cv_file(".tiff"), "TIFF", id="tiff"),
    pytest.param(pil_file("TIFF", compression="tiff_lzw"), "TIFF", id="tiff-lzw"),
    pytest.param(pil_file("TIFF", compression="jpeg"), "TIFF", id="tiff-jpeg"),
    pytest.param(pil_file("TIFF", "L", tile=(16, 16)), "TIFF", id="tiff-tiled"),
    pytest.param(pil_file("TIFF", big_tiff=True), "TIFF", id="bigtiff"),
    pytest.param(cv_file(".png"), "PNG", id="png"),
    pytest.param(pil_file("PNG", "LA"), "PNG", id="png-gray-alpha"),
    pytest.param(animated("PNG"), "PNG", id="apng"),
    pytest.param(cv_file(".jp2"), "JPEG 2000", id="jp2"),
    pytest.param(pil_file("JPEG2000", no_jp2=True), "JPEG 2000", id="j2k-codestream"),
]
