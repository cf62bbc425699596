"""Image headers: which format OpenCV will decode a file as, and its width and height, read
before any pixel is decoded.

``cv2.imdecode`` picks its decoder by signature, trying its decoders in a fixed order (BMP, GIF,
AVIF, Radiance HDR, JPEG, WebP, Sun raster, PxM, PAM, PFM, TIFF, PNG, JPEG 2000, OpenEXR) and
taking the first that claims the bytes. :func:`read_image_header` follows the same order, so the
format it sizes is the format OpenCV decodes, and reads the size the way that decoder does
(its own header rules, first occurrence of a repeated field, the same integer limits). Bytes whose
size cannot be read this way are refused: nothing is decoded without a known size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from visionflow.core import _header_readers as readers
from visionflow.errors import ImageDecodeError

__all__ = ["ACCEPTED_FORMATS", "ImageHeader", "read_image_header"]

ACCEPTED_FORMATS = (
    "JPEG, PNG, WebP, BMP, TIFF, GIF, AVIF, JPEG 2000, Radiance HDR, PFM, PBM/PGM/PPM, PAM, "
    "Sun raster"
)


@dataclass(frozen=True)
class ImageHeader:
    """The format OpenCV will decode the bytes as, and the decoded ``(width, height)``."""

    format: str
    size_wh: tuple[int, int]

    @property
    def pixels(self) -> int:
        return self.size_wh[0] * self.size_wh[1]


@dataclass(frozen=True)
class _Decoder:
    name: str
    claims: Callable[[bytes], bool]
    size_wh: Callable[[bytes], tuple[int, int]] | None  # None: OpenCV has it, we refuse it


def _pxm_signature(data: bytes, codes: bytes) -> bool:
    return (
        len(data) >= 3 and data[0] == ord("P") and data[1] in codes and data[2] in readers.C_SPACE
    )


_DECODERS = (
    _Decoder("BMP", lambda d: d[:2] == b"BM", readers.bmp_size),
    _Decoder("GIF", lambda d: d[:3] == b"GIF", readers.gif_size),
    _Decoder("AVIF", lambda d: d[4:8] == b"ftyp", readers.avif_size),
    _Decoder(
        "Radiance HDR",
        lambda d: d[:6] == b"#?RGBE" or d[:10] == b"#?RADIANCE",
        readers.radiance_hdr_size,
    ),
    _Decoder("JPEG", lambda d: d[:3] == b"\xff\xd8\xff", readers.jpeg_size),
    _Decoder("WebP", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", readers.webp_size),
    _Decoder("Sun raster", lambda d: d[:4] == b"\x59\xa6\x6a\x95", readers.sun_raster_size),
    _Decoder("PBM/PGM/PPM", lambda d: _pxm_signature(d, b"123456"), readers.pxm_size),
    _Decoder("PAM", lambda d: _pxm_signature(d, b"7"), readers.pam_size),
    _Decoder("PFM", lambda d: _pxm_signature(d, b"fF"), readers.pfm_size),
    _Decoder(
        "TIFF", lambda d: d[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), readers.tiff_size
    ),
    _Decoder("PNG", lambda d: d[:8] == b"\x89PNG\r\n\x1a\n", readers.png_size),
    _Decoder("JPEG 2000", lambda d: d[:12] == b"\0\0\0\x0cjP  \r\n\x87\n", readers.jp2_size),
    _Decoder("JPEG 2000", lambda d: d[:4] == b"\xff\x4f\xff\x51", readers.j2k_size),
    _Decoder("OpenEXR", lambda d: d[:4] == b"\x76\x2f\x31\x01", None),
)


def read_image_header(data: bytes) -> ImageHeader:
    """The format OpenCV will decode ``data`` as and the decoded size, from the header only.

    Raises ``ImageDecodeError`` (400) when no accepted format claims the bytes or the claimed
    format's header does not give a size (truncated, malformed, or beyond its decoder's limits).
    """
    if not data:
        raise ImageDecodeError("Could not load input image. Cause: the image payload is empty.")
    for decoder in _DECODERS:
        if not decoder.claims(data):
            continue
        if decoder.size_wh is None:
            raise ImageDecodeError(
                f"Could not load input image. Cause: {decoder.name} images are not accepted "
                f"(supported formats: {ACCEPTED_FORMATS})."
            )
        try:
            return ImageHeader(decoder.name, decoder.size_wh(data))
        except readers.HeaderError as exc:
            cause = exc.cause or (
                f"the {decoder.name} header is truncated or malformed, so the image size cannot "
                "be read before decoding"
            )
            raise ImageDecodeError(
                f"Could not load input image. Cause: {cause} (supported formats: "
                f"{ACCEPTED_FORMATS})."
            ) from None
    raise ImageDecodeError(
        "Could not load input image. Cause: the bytes are not an image in a supported format "
        f"({ACCEPTED_FORMATS})."
    )
