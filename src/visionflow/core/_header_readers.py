"""Header readers, one per decoder OpenCV has: each returns the ``(width, height)`` that decoder
will allocate, following its own header rules, or raises :class:`HeaderError`. The dispatch by
signature is :mod:`visionflow.core.image_headers`."""

from __future__ import annotations

import io
import re
import struct
import warnings

from PIL import Image as PILImage
from PIL import features as pil_features

from visionflow.errors import ImageTooLargeError

__all__ = [
    "C_SPACE",
    "HeaderError",
    "avif_size",
    "bmp_size",
    "gif_size",
    "j2k_size",
    "jp2_size",
    "jpeg_size",
    "pam_size",
    "pfm_size",
    "png_size",
    "pxm_size",
    "radiance_hdr_size",
    "sun_raster_size",
    "tiff_size",
    "webp_size",
]

_INT_MAX = 2**31 - 1
C_SPACE = b" \t\n\v\f\r"


class HeaderError(Exception):
    """The header of a recognised format ends early or breaks its decoder's rules; ``cause``
    says how, when more can be said than "truncated or malformed"."""

    def __init__(self, cause: str = "") -> None:
        super().__init__(cause)
        self.cause = cause


def _u16le(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise HeaderError
    return int(struct.unpack_from("<H", data, at)[0])


def _i32(data: bytes, at: int, order: str) -> int:
    if at + 4 > len(data):
        raise HeaderError
    return int(struct.unpack_from(order + "i", data, at)[0])


def _unsigned(data: bytes, at: int, size: int, order: str) -> int:
    if at + size > len(data):
        raise HeaderError
    return int.from_bytes(data[at : at + size], "little" if order == "<" else "big")


def _positive(width: int, height: int) -> tuple[int, int]:
    if not (0 < width <= _INT_MAX and 0 < height <= _INT_MAX):
        raise HeaderError
    return width, height


def bmp_size(data: bytes) -> tuple[int, int]:
    # BmpDecoder: the info-header size picks the layout (>= 36: int32 sizes, 12: OS/2 uint16).
    info_size = _i32(data, 14, "<")
    if info_size >= 36:
        width, height = _i32(data, 18, "<"), _i32(data, 22, "<")
    elif info_size == 12:
        width, height = _u16le(data, 18), _u16le(data, 20)
    else:
        raise HeaderError
    if height == 0:
        raise HeaderError
    return _positive(width, abs(height))  # a negative height is a top-down bitmap


def gif_size(data: bytes) -> tuple[int, int]:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise HeaderError
    # OpenCV draws every frame on the logical screen, so the screen is the decoded size.
    return _positive(_u16le(data, 6), _u16le(data, 8))


def avif_size(data: bytes) -> tuple[int, int]:
    # Pillow and OpenCV both ask libavif for the primary image's size.
    if not pil_features.check("avif"):
        raise HeaderError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=["AVIF"]) as probe:
                return _positive(int(probe.size[0]), int(probe.size[1]))
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"Image is too large to decode: {exc} (set VISIONFLOW_MAX_IMAGE_PIXELS to change the "
            "limit)"
        ) from None
    except Exception:
        raise HeaderError from None


def _c_lines(data: bytes) -> list[bytes]:
    """``data`` cut as successive ``fgets(buf, 128, f)`` calls cut it: at each newline, or after
    127 bytes."""
    lines, at = [], 0
    while at < len(data):
        newline = data.find(b"\n", at, at + 127)
        end = newline + 1 if newline >= 0 else min(at + 127, len(data))
        lines.append(data[at:end])
        at = end
    return lines


_HDR_RESOLUTION = re.compile(
    rb"-Y[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*\+X[ \t\n\v\f\r]*([+-]?[0-9]+)"
)


def radiance_hdr_size(data: bytes) -> tuple[int, int]:
    # RGBE_ReadHeader: header lines up to the first blank line, which must follow the FORMAT
    # line (the rule of every OpenCV version), then sscanf(line, "-Y %d +X %d", &h, &w).
    lines = _c_lines(data[:65536])
    blank = next((i for i, line in enumerate(lines) if i > 0 and line.startswith(b"\n")), None)
    if blank is None or blank < 2 or blank + 1 >= len(lines):
        raise HeaderError
    if lines[blank - 1] != b"FORMAT=32-bit_rle_rgbe\n":
        raise HeaderError
    found = _HDR_RESOLUTION.match(lines[blank + 1].split(b"\0", 1)[0])
    if found is None:
        raise HeaderError
    return _positive(int(found[2]), int(found[1]))


def webp_size(data: bytes) -> tuple[int, int]:
    # WebPGetFeatures on the first 32 bytes, as OpenCV calls it: the VP8X canvas, or the size in
    # the VP8 / VP8L frame header. (libwebp also takes bare VP8/VP8L bitstreams: refused here.)
    if len(data) < 32 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise HeaderError
    riff_size = _unsigned(data, 4, 4, "<")
    if riff_size < 12 or riff_size > 0xFFFFFFFF - 10:
        raise HeaderError
    tag, chunk_size = data[12:16], _unsigned(data, 16, 4, "<")
    if tag == b"VP8X":
        if chunk_size != 10:
            raise HeaderError
        width, height = 1 + _unsigned(data, 24, 3, "<"), 1 + _unsigned(data, 27, 3, "<")
        if width * height >= 2**32:
            raise HeaderError
        return _positive(width, height)
    if tag not in (b"VP8 ", b"VP8L") or chunk_size > riff_size - 12:
        raise HeaderError
    frame = data[20:32]
    if tag == b"VP8L":
        bits = _unsigned(frame, 1, 4, "<")
        if frame[0] != 0x2F or frame[4] >> 5 != 0 or bits >> 29 != 0:
            raise HeaderError
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    tag_bits = _unsigned(frame, 0, 3, "<")
    key_frame, profile, shown = not tag_bits & 1, (tag_bits >> 1) & 7, (tag_bits >> 4) & 1
    if frame[3:6] != b"\x9d\x01\x2a" or not key_frame or profile > 3 or not shown:
        raise HeaderError
    if tag_bits >> 5 >= chunk_size:
        raise HeaderError
    return _positive(_u16le(frame, 6) & 0x3FFF, _u16le(frame, 8) & 0x3FFF)


def sun_raster_size(data: bytes) -> tuple[int, int]:
    return _positive(_i32(data, 4, ">"), _i32(data, 8, ">"))


class _CStream:
    """The byte stream OpenCV's text-header readers pull from: past the end is an error."""

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise HeaderError
        self.at += 1
        return self.data[self.at - 1]


def _is_space(code: int) -> bool:
    return code in C_SPACE


def _is_digit(code: int) -> bool:
    return 0x30 <= code <= 0x39


def _pxm_number(stream: _CStream) -> int:
    # grfmt_pxm.cpp ReadNumber: whitespace and '#' comments before the digits; any other byte is
    # an error; the byte after the digits is consumed.
    code = stream.byte()
    while not _is_digit(code):
        if code == ord("#"):
            while code not in (0x0A, 0x0D):
                code = stream.byte()
            code = stream.byte()
        elif _is_space(code):
            while _is_space(code):
                code = stream.byte()
        else:
            raise HeaderError
    value = 0
    while _is_digit(code):
        value = value * 10 + code - 0x30
        if value > _INT_MAX:
            raise HeaderError
        code = stream.byte()
    return value


def pxm_size(data: bytes) -> tuple[int, int]:
    stream = _CStream(data, 2)
    width = _pxm_number(stream)
    return _positive(width, _pxm_number(stream))


_PAM_FIELDS = {b"ENDHDR", b"HEIGHT", b"WIDTH", b"DEPTH", b"MAXVAL", b"TUPLTYPE"}


def _pam_line(stream: _CStream) -> tuple[bytes, bytes] | None:
    """One header line as grfmt_pam.cpp's ReadPAMHeaderLine reads it: ``None`` for a comment,
    else the field name and its value."""
    code = stream.byte()
    while _is_space(code):
        code = stream.byte()
    if code == ord("#"):
        while code not in (0x0A, 0x0D):
            code = stream.byte()
        return None
    name = bytearray()
    while len(name) < 8 and not _is_space(code):
        name.append(code)
        code = stream.byte()
    if not _is_space(code) or bytes(name) not in _PAM_FIELDS:
        raise HeaderError
    value = bytearray()
    if code not in (0x0A, 0x0D):
        code = stream.byte()
        while _is_space(code):
            code = stream.byte()
        while len(value) < 255 and code not in (0x0A, 0x0D):
            value.append(code)
            code = stream.byte()
        if code not in (0x0A, 0x0D):
            raise HeaderError
    return bytes(name), bytes(value).rstrip(C_SPACE)


def _pam_int(value: bytes) -> int:
    # ParseInt: digits, then the end of the C string.
    digits = len(value) - len(value.lstrip(b"0123456789"))
    if digits == 0 or (digits < len(value) and value[digits] != 0):
        raise HeaderError
    number = int(value[:digits])
    if number >= _INT_MAX:
        raise HeaderError
    return number


def pam_size(data: bytes) -> tuple[int, int]:
    if data[2:3] not in (b"\n", b"\r"):
        raise HeaderError
    stream = _CStream(data, 3)
    fields: dict[bytes, bytes] = {}
    while True:
        line = _pam_line(stream)
        if line is None:
            continue
        name, value = line
        if name == b"ENDHDR":
            break
        if name in fields and name != b"TUPLTYPE":
            raise HeaderError
        fields[name] = value
    if not {b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"} <= fields.keys():
        raise HeaderError
    # OpenCV's row buffer is width x DEPTH samples: more than 4 channels is no image it can show.
    if not 1 <= _pam_int(fields[b"DEPTH"]) <= 4:
        raise HeaderError("a PAM image has 1 to 4 channels (DEPTH)")
    return _positive(_pam_int(fields[b"WIDTH"]), _pam_int(fields[b"HEIGHT"]))


def _pfm_number(stream: _CStream) -> int:
    # grfmt_pfm.cpp read_number: up to 2048 bytes before a whitespace byte, then atoi.
    token = bytearray()
    while len(token) < 2048:
        code = stream.byte()
        if _is_space(code):
            break
        token.append(code)
    found = re.match(rb"[+-]?[0-9]+", bytes(token).split(b"\0", 1)[0])
    if found is None:
        raise HeaderError
    number = int(found[0])
    if not -_INT_MAX <= number <= _INT_MAX:
        raise HeaderError
    return number


def pfm_size(data: bytes) -> tuple[int, int]:
    if data[2:3] != b"\n":
        raise HeaderError
    stream = _CStream(data, 3)
    width = _pfm_number(stream)
    return _positive(width, _pfm_number(stream))


_TIFF_VALUE_BYTES = {3: 2, 4: 4}  # SHORT, LONG (and LONG8 in a BigTIFF)
_TIFF_WIDTH, _TIFF_LENGTH, _TIFF_TILE_WIDTH, _TIFF_TILE_LENGTH = 256, 257, 322, 323
# OpenCV decodes a tiled TIFF a whole tile at a time (as RGBA): a tile far larger than the image
# would cost far more than the image's pixels.
_TIFF_MAX_TILE_PIXELS = 1024 * 1024


def tiff_size(data: bytes) -> tuple[int, int]:
    # libtiff reads the first directory and, of a repeated tag, keeps the first occurrence.
    order = "<" if data[:2] == b"II" else ">"
    big = _unsigned(data, 2, 2, order) == 43
    if big and _unsigned(data, 4, 2, order) != 8:
        raise HeaderError
    # Classic: count u16, entries of tag u16, type u16, count u32, value 4 bytes. BigTIFF: count
    # u64, entries of tag u16, type u16, count u64, value 8 bytes.
    word = 8 if big else 4
    directory = _unsigned(data, 8 if big else 4, word, order)
    count = _unsigned(data, directory, 8 if big else 2, order)
    first, entry = directory + (8 if big else 2), 4 + 2 * word
    if first + count * entry > len(data):
        raise HeaderError
    value_bytes = {**_TIFF_VALUE_BYTES, **({16: 8} if big else {})}
    wanted = (_TIFF_WIDTH, _TIFF_LENGTH, _TIFF_TILE_WIDTH, _TIFF_TILE_LENGTH)
    tags: dict[int, int] = {}
    for at in range(first, first + count * entry, entry):
        tag = _unsigned(data, at, 2, order)
        if tag not in wanted or tag in tags:
            continue
        kind, values = _unsigned(data, at + 2, 2, order), _unsigned(data, at + 4, word, order)
        if values != 1 or kind not in value_bytes:
            raise HeaderError
        tags[tag] = _unsigned(data, at + 4 + word, value_bytes[kind], order)
    if _TIFF_WIDTH not in tags or _TIFF_LENGTH not in tags:
        raise HeaderError
    width, height = _positive(tags[_TIFF_WIDTH], tags[_TIFF_LENGTH])
    tile_wh = tags.get(_TIFF_TILE_WIDTH, 0), tags.get(_TIFF_TILE_LENGTH, 0)
    if tile_wh[0] * tile_wh[1] > max(width * height, _TIFF_MAX_TILE_PIXELS):
        raise HeaderError(
            f"the TIFF's {tile_wh[0]}x{tile_wh[1]} tiles are larger than its {width}x{height} "
            "image, and the decoder works a whole tile at a time"
        )
    return width, height


def png_size(data: bytes) -> tuple[int, int]:
    # libpng: the first chunk is a 13-byte IHDR.
    if data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise HeaderError
    return _positive(_unsigned(data, 16, 4, ">"), _unsigned(data, 20, 4, ">"))


def _j2k_codestream(data: bytes, at: int) -> tuple[int, int]:
    # OpenJPEG: SOC, then SIZ; the image is (Xsiz - XOsiz) x (Ysiz - YOsiz).
    if data[at : at + 4] != b"\xff\x4f\xff\x51":
        raise HeaderError
    x_size, y_size = _unsigned(data, at + 8, 4, ">"), _unsigned(data, at + 12, 4, ">")
    x_origin, y_origin = _unsigned(data, at + 16, 4, ">"), _unsigned(data, at + 20, 4, ">")
    return _positive(x_size - x_origin, y_size - y_origin)


def jp2_size(data: bytes) -> tuple[int, int]:
    # The codestream of the first top-level 'jp2c' box decides the size, not the 'ihdr' box.
    at = 0
    while at + 8 <= len(data):
        length, kind = _unsigned(data, at, 4, ">"), data[at + 4 : at + 8]
        header = 8
        if length == 1:
            length, header = _unsigned(data, at + 8, 8, ">"), 16
        elif length == 0:
            length = len(data) - at
        if length < header:
            raise HeaderError
        if kind == b"jp2c":
            return _j2k_codestream(data, at + header)
        at += length
    raise HeaderError


def j2k_size(data: bytes) -> tuple[int, int]:
    return _j2k_codestream(data, 0)


# libjpeg markers: frames whose SOF gives the size; segments skipped by their length; markers
# without a length. Any other marker is an error in libjpeg.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA}
_JPEG_SEGMENTS = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def jpeg_size(data: bytes) -> tuple[int, int]:
    # jdmarker.c read_markers up to the first SOS: bytes other than 0xFF between markers are
    # skipped, as are fill bytes and stuffed FF 00 pairs; a second SOF or SOI is an error.
    at, size = 2, None
    while True:
        while at < len(data) and data[at] != 0xFF:
            at += 1
        while at < len(data) and data[at] == 0xFF:
            at += 1
        if at >= len(data):
            raise HeaderError
        marker = data[at]
        at += 1
        if marker == 0x00 or marker in _JPEG_STANDALONE:
            continue
        if marker == 0xDA:  # SOS: the frame header must have come
            if size is None:
                raise HeaderError
            return size
        if marker not in _JPEG_SOF and marker not in _JPEG_SEGMENTS:
            raise HeaderError
        length = int.from_bytes(data[at : at + 2], "big") if at + 2 <= len(data) else 0
        if length < 2:
            raise HeaderError
        if marker in _JPEG_SOF:
            if size is not None or length < 8:
                raise HeaderError
            height, width = _unsigned(data, at + 3, 2, ">"), _unsigned(data, at + 5, 2, ">")
            size = _positive(width, height)
        at += length
