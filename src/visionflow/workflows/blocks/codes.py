"""``qr_code_detector`` (OpenCV's QR detector) and ``barcode_detector`` (zxing-cpp, as the
reference): one detection per code found (class ``qr_code`` / ``barcode``, confidence 1.0), its
decoded text in ``data["data"]``.

Like the reference, the barcode detector reads every symbology zxing-cpp knows (EAN/UPC, Code 39/93/
128, ITF, Codabar, DataBar, and 2D codes such as QR, Data Matrix, Aztec, PDF417); codes it finds
but cannot decode are left out. Boxes span all four corners zxing reports, so rotated codes get a
valid box (the reference takes the top-left and bottom-right corners only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv
import zxingcpp

from visionflow.core.detections import CLASS_NAME, DETECTION_ID
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.lineage import WorkflowImage, attach_lineage
from visionflow.workflows.manifest import ImageSelector, StepManifest

__all__ = ["CODE_BLOCKS", "DETECTED_CODE", "BarcodeDetectorV1", "QRCodeDetectorV1"]

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


CODE_BLOCKS: tuple[type[Block], ...] = (QRCodeDetectorV1, BarcodeDetectorV1)
