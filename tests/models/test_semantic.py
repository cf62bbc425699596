"""Semantic segmentation end to end through ONNX Runtime on graphs with known outputs.

Logits model: 320x320 letterboxed input, logits ``(1, 3, 80, 80)`` (4 input px per cell):
class 1 = 5 on grid columns 0..39, class 2 = 9 on grid rows 0..9, 0 elsewhere. A 640x480 image
sits in input rows 40..279 = grid rows 10..69, so the class-2 band lies wholly in the padding and
must never show up; the image's left half is class 1 with softmax e^5 / (e^5 + 2), the right half
class 0 with 1/3.

Probability model (MediaPipe selfie style): NHWC input ``(1, 256, 256, 3)``, output
``(1, 256, 256, 1)`` = 0.9 on the left half, 0.2 on the right; stretch resize.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fixtures.onnx_graphs import (
    probability_map,
    region_planes,
    write_roboflow_task_folder,
    write_visionflow_package,
)
from visionflow.core.results import SemanticSegmentationResult
from visionflow.errors import ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.importers import import_model, import_roboflow_folder
from visionflow.models.params import SemanticParams
from visionflow.models.semantic import SemanticSegmentationModel
from visionflow.runtime import OnnxSession

NAMES = ("background", "person", "sky")
LOGITS = region_planes(3, (80, 80), [(1, (0, 0, 40, 80), 5.0), (2, (0, 0, 80, 10), 9.0)])
CLASS_1_CONFIDENCE = math.exp(5) / (math.exp(5) + 2)
SELFIE = probability_map((256, 256), [((0, 0, 128, 256), 0.9)], background=0.2, layout="nhwc")
LETTERBOX = {"width": 320, "height": 320, "resize_mode": "letterbox"}
# Every pixel keeps its class: the maps as the graph gives them.
NO_THRESHOLD = SemanticParams(confidence=0.0)


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _package(
    tmp_path: Path,
    output: np.ndarray,
    extra: dict[str, Any],
    *,
    names: tuple[str, ...] = NAMES,
    input_spec: dict[str, Any] = LETTERBOX,
    dynamic_batch: bool = False,
) -> SemanticSegmentationModel:
    folder = write_visionflow_package(
        tmp_path / "vf",
        {"output": output},
        names,
        task="semantic-segmentation",
        architecture="semantic",
        input_spec=input_spec,
        extra=extra,
        dynamic_batch=dynamic_batch,
    )
    model = ArchitectureRegistry().load(import_model(folder), OnnxSession)
    assert isinstance(model, SemanticSegmentationModel)
    return model


def _selfie(tmp_path: Path) -> SemanticSegmentationModel:
    return _package(
        tmp_path,
        SELFIE,
        {"output": "probability"},
        names=("background", "person"),
        input_spec={"width": 256, "height": 256, "resize_mode": "stretch", "layout": "nhwc"},
    )


def _softmax_of_class_1(logit: float) -> float:
    return math.exp(logit) / (math.exp(logit) + 2)


@pytest.mark.parametrize(
    ("xy", "class_id", "confidence"),
    [
        pytest.param((100, 240), 1, CLASS_1_CONFIDENCE, id="left-class-1"),
        pytest.param((600, 240), 0, 1 / 3, id="right-class-0"),
        pytest.param((100, 0), 1, CLASS_1_CONFIDENCE, id="top-row-not-padding-class"),
        # Logits are resized (bilinear) before the softmax: image x → grid x = (x + 0.5) / 8 - 0.5,
        # class 1's logit = 5 x (40 - grid x) across the last cell, 0 from grid x 40 on.
        pytest.param((319, 479), 1, _softmax_of_class_1(5 * 0.5625), id="x319-interpolated"),
        pytest.param((323, 479), 1, _softmax_of_class_1(5 * 0.0625), id="x323-last-class-1"),
        pytest.param((324, 479), 0, 1 / 3, id="x324-first-class-0"),
    ],
)
def test_logits_letterbox(
    tmp_path: Path, xy: tuple[int, int], class_id: int, confidence: float
) -> None:
    model = _package(tmp_path, LOGITS, {"output": "logits"})

    (result,) = model.infer([_image()], NO_THRESHOLD)

    assert model.task == "semantic-segmentation"
    assert isinstance(result, SemanticSegmentationResult)
    assert result.class_names == NAMES
    assert result.class_ids.shape == result.confidence.shape == (480, 640)
    assert result.class_ids.dtype == np.int32
    x, y = xy
    assert result.class_ids[y, x] == class_id
    assert result.confidence[y, x] == pytest.approx(confidence, rel=1e-5)
    # The class-2 band lies in the letterbox padding only.
    assert np.unique(result.class_ids).tolist() == [0, 1]


def test_logits_stretch_keeps_every_row(tmp_path: Path) -> None:
    spec = {"width": 320, "height": 320, "resize_mode": "stretch"}
    model = _package(tmp_path, LOGITS, {"output": "logits"}, input_spec=spec)

    (result,) = model.infer([_image()], NO_THRESHOLD)

    # Stretched, grid rows 0..9 are image rows 0..59: class 2 (logit 9) wins on the left too.
    assert result.class_ids[10, 600] == 2
    assert result.class_ids[10, 100] == 2
    assert result.class_ids[240, 100] == 1
    assert result.class_ids[240, 600] == 0


@pytest.mark.parametrize(
    ("threshold", "left_class"),
    [
        pytest.param(0.0, 1, id="no-threshold"),
        pytest.param(0.98, 1, id="below-class-1-confidence"),
        pytest.param(0.99, 0, id="above-class-1-confidence-falls-back-to-0"),
    ],
)
def test_confidence_threshold_falls_back_to_class_0(
    tmp_path: Path, threshold: float, left_class: int
) -> None:
    model = _package(tmp_path, LOGITS, {"output": "logits"})

    (result,) = model.infer([_image()], SemanticParams(confidence=threshold))

    assert result.class_ids[240, 100] == left_class
    assert result.class_ids[240, 600] == 0
    # A pixel that falls back gets confidence 0, as on the reference.
    expected = CLASS_1_CONFIDENCE if left_class == 1 else 0.0
    assert result.confidence[240, 100] == pytest.approx(expected, rel=1e-5)


def test_no_foreground(tmp_path: Path) -> None:
    model = _package(tmp_path, np.zeros((1, 3, 80, 80), np.float32), {"output": "logits"})

    (result,) = model.infer([_image()], NO_THRESHOLD)

    # All logits equal: argmax is class 0 everywhere, each class 1/3.
    assert np.unique(result.class_ids).tolist() == [0]
    np.testing.assert_allclose(result.confidence, 1 / 3, rtol=1e-6)


@pytest.mark.parametrize(
    ("threshold", "left", "right"),
    [
        pytest.param(0.0, (1, 0.9), (0, 0.8), id="no-threshold"),
        # Below the threshold: the background class with confidence 0, as on the reference.
        pytest.param(0.85, (1, 0.9), (0, 0.0), id="right-below-threshold"),
        pytest.param(0.95, (0, 0.0), (0, 0.0), id="both-fall-back"),
    ],
)
def test_probability_nhwc_selfie(
    tmp_path: Path, threshold: float, left: tuple[int, float], right: tuple[int, float]
) -> None:
    model = _selfie(tmp_path)

    (result,) = model.infer([_image()], SemanticParams(confidence=threshold))

    assert model.manifest.input.layout == "nhwc"
    assert result.class_ids.shape == (480, 640)
    assert (result.class_ids[240, 100], result.confidence[240, 100]) == (
        left[0],
        pytest.approx(left[1], rel=1e-6),
    )
    assert (result.class_ids[240, 600], result.confidence[240, 600]) == (
        right[0],
        pytest.approx(right[1], rel=1e-6),
    )


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param("nchw", id="b-1-h-w"),
        pytest.param("hw", id="b-h-w"),
    ],
)
def test_probability_map_layouts(tmp_path: Path, layout: str) -> None:
    plane = probability_map((80, 80), [((0, 0, 40, 80), 0.7)], background=0.1, layout=layout)
    model = _package(tmp_path, plane, {"output": "probability"}, names=("background", "person"))

    (result,) = model.infer([_image()], NO_THRESHOLD)

    assert (result.class_ids[240, 100], result.class_ids[240, 600]) == (1, 0)
    assert result.confidence[240, 100] == pytest.approx(0.7)
    assert result.confidence[240, 600] == pytest.approx(0.9)


def test_class_map_output(tmp_path: Path) -> None:
    # Class ids on an 80x80 grid: 2 on grid columns 40..79 = input x 160..320 = image x 320..640.
    ids = probability_map((80, 80), [((40, 0, 80, 80), 2.0)], layout="hw")
    model = _package(tmp_path, ids, {"output": "class_map"})

    (result,) = model.infer([_image()], NO_THRESHOLD)

    assert (result.class_ids[240, 319], result.class_ids[240, 320]) == (0, 2)
    assert np.unique(result.class_ids).tolist() == [0, 2]
    np.testing.assert_array_equal(result.confidence, 1.0)


SIZES = [(640, 480), (100, 50), (320, 320)]
# Unpadded (320x320), the class-2 band on grid rows 0..9 is the image's top 40 rows.
PRESENT = {(640, 480): [0, 1], (100, 50): [0, 1], (320, 320): [0, 1, 2]}


@pytest.mark.parametrize(
    ("dynamic_batch", "count"),
    [
        pytest.param(False, 0, id="static-1-no-images"),
        pytest.param(False, 3, id="static-1-three-images"),
        pytest.param(True, 3, id="dynamic-three-images"),
    ],
)
def test_each_image_at_its_own_size(tmp_path: Path, dynamic_batch: bool, count: int) -> None:
    model = _package(tmp_path, LOGITS, {"output": "logits"}, dynamic_batch=dynamic_batch)
    sizes = SIZES[:count]

    results = model.infer([_image(*wh) for wh in sizes], NO_THRESHOLD)

    assert [r.class_ids.shape for r in results] == [(h, w) for w, h in sizes]
    for result, (width, height) in zip(results, sizes, strict=True):
        # Left half class 1, right half class 0; the band shows only where it is not padding.
        assert result.class_ids[height - 1, width // 4] == 1
        assert result.class_ids[height - 1, 3 * width // 4] == 0
        assert np.unique(result.class_ids).tolist() == PRESENT[(width, height)]


def test_roboflow_semantic_segmentation_folder(tmp_path: Path) -> None:
    folder = write_roboflow_task_folder(
        tmp_path / "rf",
        {"output": LOGITS},
        NAMES,
        task="semantic-segmentation",
        model_type="segformer",
        resize_format="Fit (black edges) in",
    )

    package = import_roboflow_folder(folder)
    model = ArchitectureRegistry().load(package, OnnxSession)
    (result,) = model.infer([_image()], NO_THRESHOLD)

    assert (package.manifest.task, package.manifest.architecture) == (
        "semantic-segmentation",
        "semantic",
    )
    assert result.class_ids[240, 100] == 1


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        pytest.param(LOGITS, {"output": "heatmap"}, "must be one of", id="unknown-output-kind"),
        pytest.param(
            np.zeros((1, 4, 80, 80), np.float32),
            {"output": "logits"},
            r"expected logits \(K, H, W\) with K = 3 classes .* got \(4, 80, 80\)",
            id="channel-mismatch",
        ),
    ],
)
def test_bad_outputs_are_load_errors(
    tmp_path: Path, output: np.ndarray, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelLoadError, match=message):
        _package(tmp_path, output, extra).infer([_image()], NO_THRESHOLD)


def test_logits_without_a_background_channel_map_to_the_other_classes(tmp_path: Path) -> None:
    # Two channels for ("person", "background", "sky"): channel 0 is "person" (id 0), channel 1
    # is "sky" (id 2) — the background (id 1, wherever it is named) has no channel.
    logits = region_planes(2, (80, 80), [(1, (0, 0, 40, 80), 5.0)])
    model = _package(tmp_path, logits, {"output": "logits"}, names=("person", "background", "sky"))

    (result,) = model.infer([_image()], SemanticParams(confidence=0.6))

    assert result.class_ids[240, 100] == 2  # channel 1 → "sky"
    assert result.confidence[240, 100] == pytest.approx(math.exp(5) / (math.exp(5) + 1), rel=1e-5)
    # Equal logits: 0.5 < 0.6 → the background class (id 1) with confidence 0.
    assert (result.class_ids[240, 600], result.confidence[240, 600]) == (1, 0.0)


def test_logits_are_resized_with_the_antialiased_filter_before_the_softmax(
    tmp_path: Path,
) -> None:
    # A 40x30 image: the 80x60 content grid shrinks 2x. Class 1 holds a 1-cell stripe (logit 8)
    # on grid column 41; each image pixel weighs 4 cells (1/8, 3/8, 3/8, 1/8), so image column
    # 20 (cells 39..42) sees logit 8 x 3/8 = 3 and column 21 (cells 41..44) sees 8 x 1/8 = 1.
    # Plain bilinear would sample cells 40.5 and 42.5 (logit 4 and 0) instead.
    logits = region_planes(3, (80, 80), [(1, (41, 0, 42, 80), 8.0)])
    model = _package(tmp_path, logits, {"output": "logits"})

    (result,) = model.infer([_image(40, 30)], NO_THRESHOLD)

    assert result.class_ids.shape == (30, 40)
    assert result.confidence[15, 20] == pytest.approx(_softmax_of_class_1(3.0), rel=1e-5)
    assert result.confidence[15, 21] == pytest.approx(_softmax_of_class_1(1.0), rel=1e-5)
    assert result.class_ids[15, 20] == result.class_ids[15, 21] == 1
