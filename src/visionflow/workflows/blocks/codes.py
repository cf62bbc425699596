"""``qr_code_detector`` (OpenCV's QR detector) and ``barcode_detector`` (zxing-cpp, as the
reference): one detection per code found (class ``qr_code`` / ``barcode``, confidence 1.0), its
decoded text in ``data["data"]``; and ``qr_code_generator``, a QR code image of a text (encoded
with the ``qrcode`` package, as the reference).

Like the reference, the barcode detector reads every symbology zxing-cpp knows (EAN/UPC, Code 39/93/
128, ITF, Codabar, DataBar, and 2D codes such as QR, Data Matrix, Aztec, PDF417); codes it finds
but cannot decode are left out. Boxes span all four corners zxing reports, so rotated codes get a
valid box (the reference takes the top-left and bottom-right corners only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import numpy.typing as npt
import qrcode
import supervision as sv
import zxingcpp
from PIL import ImageColor
from qrcode.exceptions import DataOverflowError

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.colors import parse_color
from visionflow.workflows.limits import MAX_IMAGE_PIXELS_SETTING
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import (
    ImageSelector,
    IntegerSelector,
    StepManifest,
    StringSelector,
)

__all__ = [
    "CODE_BLOCKS",
    "DETECTED_CODE",
    "BarcodeDetectorV1",
    "QRCodeDetectorV1",
    "QRCodeGeneratorV1",
    "qr_code_modules",
]

# Where the decoded text of each code lives in ``Detections.data`` (the reference's key).
DETECTED_CODE = "data"
PREDICTION_TYPE = "prediction_type"


class CodeDetectorManifest(StepManifest):
    images: ImageSelector


def code_detections(
    image: WorkflowImage,
    found: Sequence[tuple[str, npt.NDArray[np.floating[Any]]]],
    class_name: str,
    prediction_type: str,
) -> sv.Detections:
    """Detections of decoded codes: ``found`` is (text, corner points) per code."""
    count = len(found)
    xyxy = np.array(
        [[*points.min(axis=0), *points.max(axis=0)] for _text, points in found], dtype=np.float32
    ).reshape(count, 4)
    detections = sv.Detections(
        xyxy=xyxy,
        confidence=np.ones(count, dtype=np.float32),
        class_id=np.zeros(count, dtype=np.int64),
        data={
            CLASS_NAME: np.array([class_name] * count, dtype=object).reshape(count),
            DETECTION_ID: np.array([str(uuid.uuid4()) for _ in found], dtype=object),
            DETECTED_CODE: np.array([text for text, _points in found], dtype=object).reshape(count),
            PREDICTION_TYPE: np.array([prediction_type] * count, dtype=object).reshape(count),
        },
    )
    return attach_lineage(detections, image.lineage)


class _CodeDetector(Block):
    manifest = CodeDetectorManifest
    class_name: ClassVar[str]
    prediction_type: ClassVar[str]

    def find(
        self, pixels: npt.NDArray[np.uint8]
    ) -> list[tuple[str, npt.NDArray[np.floating[Any]]]]:
        raise NotImplementedError

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("images")
        found = self.find(image.pixels_bgr)
        return {"predictions": code_detections(image, found, self.class_name, self.prediction_type)}


class QRCodeDetectorV1(_CodeDetector):
    type = "roboflow_core/qr_code_detector@v1"
    aliases = ("QRCodeDetector", "QRCodeDetection")
    outputs = (OutputDefinition("predictions", (k.QR_CODE_DETECTION,)),)
    class_name = "qr_code"
    prediction_type = "qrcode-detection"

    def find(
        self, pixels: npt.NDArray[np.uint8]
    ) -> list[tuple[str, npt.NDArray[np.floating[Any]]]]:
        ok, texts, points, _straight = cv2.QRCodeDetector().detectAndDecodeMulti(pixels)
        if not ok or points is None:
            return []
        return [
            (str(text), np.asarray(corners, dtype=np.float32).reshape(-1, 2))
            for text, corners in zip(texts, points, strict=True)
            if text
        ]


class BarcodeDetectorV1(_CodeDetector):
    type = "roboflow_core/barcode_detector@v1"
    aliases = ("BarcodeDetector", "BarcodeDetection")
    outputs = (OutputDefinition("predictions", (k.BAR_CODE_DETECTION,)),)
    class_name = "barcode"
    prediction_type = "barcode-detection"

    def find(
        self, pixels: npt.NDArray[np.uint8]
    ) -> list[tuple[str, npt.NDArray[np.floating[Any]]]]:
        found: list[tuple[str, npt.NDArray[np.floating[Any]]]] = []
        for code in zxingcpp.read_barcodes(np.ascontiguousarray(pixels)):
            if not code.valid or not code.text:
                continue
            position = code.position
            corners = (
                position.top_left,
                position.top_right,
                position.bottom_right,
                position.bottom_left,
            )
            points = np.array([[point.x, point.y] for point in corners], dtype=np.float32)
            found.append((str(code.text), points))
        return found


ErrorCorrection = Literal[
    "Low (~7% word recovery / highest data capacity)",
    "Medium (~15% word recovery)",
    "Quartile (~25% word recovery)",
    "High (~30% word recovery / lowest data capacity)",
]
_LEVELS: dict[str, int] = {
    "Low (~7% word recovery / highest data capacity)": qrcode.constants.ERROR_CORRECT_L,
    "Medium (~15% word recovery)": qrcode.constants.ERROR_CORRECT_M,
    "Quartile (~25% word recovery)": qrcode.constants.ERROR_CORRECT_Q,
    "High (~30% word recovery / lowest data capacity)": qrcode.constants.ERROR_CORRECT_H,
}
# What the largest QR code (version 40) holds at each level: bytes of UTF-8 text, characters of
# the alphanumeric set (0-9, A-Z, space and $%*+-./:), digits (ISO/IEC 18004, table 7).
_CAPACITY: dict[int, tuple[int, int, int]] = {
    qrcode.constants.ERROR_CORRECT_L: (2953, 4296, 7089),
    qrcode.constants.ERROR_CORRECT_M: (2331, 3391, 5596),
    qrcode.constants.ERROR_CORRECT_Q: (1663, 2420, 3993),
    qrcode.constants.ERROR_CORRECT_H: (1273, 1852, 3057),
}
_MAX_TEXT_BYTES = 7089  # digits at level L: no QR code holds more, whatever the text
# Pixels per module, fixed in the reference (not a manifest field).
QR_BOX_SIZE_PX = 10


class QRCodeGeneratorManifest(StepManifest):
    text: str | StringSelector
    error_correct: ErrorCorrection = "Medium (~15% word recovery)"
    border: int | IntegerSelector = 4
    fill_color: str | StringSelector = "BLACK"
    back_color: str | StringSelector = "WHITE"


@lru_cache(maxsize=100)
def qr_code_modules(text: str, level: int) -> npt.NDArray[np.bool_]:
    """The dark modules of the smallest QR code that holds ``text`` at error-correction ``level``
    (a ``qrcode.constants.ERROR_CORRECT_*``): ``(N, N) bool``, N = 21..177, no quiet zone.

    The encoding is the ``qrcode`` package's with its defaults, as the reference calls it (mode
    segments chosen by ``add_data``'s optimizer, smallest version, best mask), so the modules are
    the reference's. Cached (read-only arrays): workflows over video encode the same text every
    frame. ``DataOverflowError`` when no version holds the text."""
    code = qrcode.QRCode(version=None, error_correction=level, border=0)
    code.add_data(text)
    try:
        code.make(fit=True)
    except ValueError as exc:
        # Past version 40 the package's version setter raises ValueError before its own check.
        raise DataOverflowError(str(exc)) from None
    modules = np.array(code.modules, dtype=bool)
    modules.flags.writeable = False
    return modules


def _qr_color(inputs: StepInputs, field: str) -> tuple[int, int, int]:
    """``(b, g, r)``: a colour as visualization blocks spell it (``#RRGGBB``, ``rgb(...)``,
    ``bgr(...)``, ``WHITE``), else a CSS / PIL colour name such as ``navy`` (the reference's
    fallback when its own parsing fails)."""
    text = inputs.as_str(field)
    try:
        return parse_color(text).as_bgr()
    except ValueError:
        pass
    try:
        red, green, blue = ImageColor.getrgb(text)[:3]
    except ValueError:
        raise inputs.fail(
            field,
            f"unknown colour {text!r}: use #RRGGBB, rgb(R, G, B), bgr(B, G, R), a name like "
            "WHITE or a CSS colour name like navy",
        ) from None
    return int(blue), int(green), int(red)


class QRCodeGeneratorV1(Block):
    """``qr_code``: a QR code of ``text`` as a new image, 10 px per module, with a quiet zone of
    ``border`` modules, dark modules in ``fill_color`` on ``back_color``. The version is the
    smallest that holds the text at ``error_correct``. Pixel for pixel the reference's image; its
    ``parent_id`` (and so its video id) is ``qr_code.<uuid>``, new on every run.

    A text longer than the largest QR code holds, a negative border, an image past
    ``VISIONFLOW_MAX_IMAGE_PIXELS`` or an unknown colour is a 400 naming the field."""

    type = "roboflow_core/qr_code_generator@v1"
    aliases = ("QRCodeGenerator",)
    manifest = QRCodeGeneratorManifest
    outputs = (OutputDefinition("qr_code", (k.IMAGE,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        text = inputs.as_str("text")
        label = inputs.as_str("error_correct")
        level = _LEVELS[label]
        border = inputs.as_int("border", low=0)
        fill_bgr = _qr_color(inputs, "fill_color")
        back_bgr = _qr_color(inputs, "back_color")
        size = len(text.encode("utf-8"))
        try:
            if size > _MAX_TEXT_BYTES:
                raise DataOverflowError
            modules = qr_code_modules(text, level)
        except DataOverflowError:
            text_bytes, alphanumeric, digits = _CAPACITY[level]
            raise inputs.fail(
                "text",
                f"{size} bytes are too many for a QR code at error_correct {label!r}: the largest "
                f"holds {text_bytes} bytes of UTF-8 text ({alphanumeric} characters of "
                f"0-9 A-Z space $%*+-./: or {digits} digits); shorten the text or lower the "
                "error correction",
            ) from None
        side_px = (modules.shape[0] + 2 * border) * QR_BOX_SIZE_PX
        max_pixels = context.budget.limits.max_image_pixels
        if side_px * side_px > max_pixels:
            raise inputs.fail(
                "border",
                f"a border of {border} modules makes a {side_px} x {side_px} px image, more than "
                f"the {max_pixels} pixels an image may have ({MAX_IMAGE_PIXELS_SETTING})",
            )
        dark = np.pad(modules, border).repeat(QR_BOX_SIZE_PX, axis=0).repeat(QR_BOX_SIZE_PX, axis=1)
        pixels = np.where(
            dark[..., None], np.array(fill_bgr, np.uint8), np.array(back_bgr, np.uint8)
        )
        image = WorkflowImage.from_input(np.ascontiguousarray(pixels), f"qr_code.{uuid.uuid4()}")
        return {"qr_code": image}


CODE_BLOCKS: tuple[type[Block], ...] = (QRCodeDetectorV1, BarcodeDetectorV1, QRCodeGeneratorV1)
