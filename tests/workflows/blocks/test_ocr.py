"""OCR blocks on the real PP-OCR engine: words (``ocr_model``) and lines (``pp_ocr``,
``easy_ocr``) as detections named by their text, lineage, batching, crops, the sizes and skipped
stages ``pp_ocr`` accepts, and the languages ``easy_ocr`` accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import supervision as sv
from PIL import Image, ImageDraw

from tests.support.ocr_images import cer, font, render
from tests.workflows.blocks.helpers import Pixels, ScriptedModels, boxes, canvas, run, step
from visionflow.core.detections import CLASS_NAME, DETECTION_ID, PARENT_ID
from visionflow.models.ocr import OcrOptions, OcrResult, read_text
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.ocr import EasyOcrManifest, PpOcrManifest
from visionflow.workflows.errors import WorkflowDefinitionError
from visionflow.workflows.lineage import lineage_of

LINES = ("Invoice 2041 total", "Paid by card 17.50")
PAGE = render(LINES, 30)
BLANK = canvas(160, 80, 255)


@dataclass
class EngineModels(ScriptedModels):
    """Scripted detectors plus the real OCR engine; records each OCR batch's size and
    options."""

    ocr_batches: list[int] = field(default_factory=list)
    ocr_options: list[OcrOptions] = field(default_factory=list)

    def ocr(self, images_bgr: Sequence[Pixels], options: OcrOptions) -> Sequence[OcrResult]:
        self.ocr_batches.append(len(images_bgr))
        self.ocr_options.append(options)
        return [read_text(image, options) for image in images_bgr]


def ocr_run(
    block: str, images: dict[str, Pixels], models: EngineModels | None = None, **fields: Any
) -> dict[str, Any]:
    declared = step(block, "ocr", images="$inputs.image", **fields)
    if "@" not in block:  # an alias, used as is
        declared["type"] = block
    [outputs] = run(
        [declared],
        {"out": "$steps.ocr.*"},
        images,
        context=RunContext(models=models or EngineModels()),
    )
    found: dict[str, Any] = outputs["out"]
    return found


@pytest.mark.parametrize(
    ("block", "expected_names"),
    [
        pytest.param("ocr_model@v1", " ".join(LINES).split(), id="ocr_model-words"),
        pytest.param("pp_ocr@v1", list(LINES), id="pp_ocr-lines"),
        pytest.param("easy_ocr@v1", list(LINES), id="easy_ocr-lines"),
        pytest.param("EasyOCR", list(LINES), id="easy_ocr-alias"),
    ],
)
def test_detections_are_named_by_their_text(block: str, expected_names: list[str]) -> None:
    out = ocr_run(block, {"image": PAGE})
    assert cer(" ".join(LINES), out["result"]) <= 0.02, out["result"]
    predictions = out["predictions"]
    assert isinstance(predictions, sv.Detections)
    names = [str(name) for name in predictions.data[CLASS_NAME]]
    assert len(names) == len(expected_names)
    assert cer(" ".join(expected_names), " ".join(names)) <= 0.02, names
    assert " ".join(names) == out["result"]
    assert predictions.class_id is not None
    assert set(predictions.class_id.tolist()) == {0}
    assert predictions.confidence is not None
    assert np.all((predictions.confidence > 0.5) & (predictions.confidence <= 1))
    height, width = PAGE.shape[:2]
    assert np.all(predictions.xyxy[:, :2] >= 0)
    assert np.all(predictions.xyxy[:, 2] <= width)
    assert np.all(predictions.xyxy[:, 3] <= height)
    assert len(set(predictions.data[DETECTION_ID].tolist())) == len(predictions)
    assert predictions.data[PARENT_ID].tolist() == ["image"] * len(predictions)
    lineage = lineage_of(predictions)
    assert lineage is not None
    assert lineage.size_wh == (width, height)
    assert out["parent_id"] == "image"
    assert out["root_parent_id"] == "image"
    assert out["prediction_type"] == "ocr"


@pytest.mark.parametrize("block", ["ocr_model@v1", "pp_ocr@v1", "easy_ocr@v1"])
def test_an_image_without_text_gives_an_empty_result(block: str) -> None:
    out = ocr_run(block, {"image": BLANK})
    assert out["result"] == ""
    assert len(out["predictions"]) == 0
    assert out["prediction_type"] == "ocr"


def test_a_batch_is_read_in_one_call_in_order() -> None:
    models = EngineModels()
    outputs = run(
        [step("pp_ocr@v1", "ocr", images="$inputs.image")],
        {"text": "$steps.ocr.result"},
        {"page": PAGE, "blank": BLANK},
        {"image": ["page", "blank", "page"]},
        context=RunContext(models=models),
    )
    assert [cer(" ".join(LINES), o["text"]) <= 0.02 for o in outputs] == [True, False, True]
    assert outputs[1]["text"] == ""
    assert models.ocr_batches == [3]


def _scene() -> tuple[Pixels, list[float]]:
    """A 600x300 white image with "LOT 7731" inside the box returned (xyxy) and other text
    outside it."""
    image = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.text((30, 20), "header text", font=font(26), fill="black")
    draw.text((330, 150), "LOT 7731", font=font(26), fill="black")
    pixels = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    return pixels, [310.0, 130.0, 500.0, 200.0]


def _over_crops(ocr: dict[str, Any]) -> list[dict[str, Any]]:
    """Detect with the scripted model "lots", crop each detection, then ``ocr`` the crops."""
    return [
        step("roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="lots"),
        step(
            "dynamic_crop@v1", "crop", images="$inputs.image", predictions="$steps.det.predictions"
        ),
        ocr,
    ]


def test_ocr_over_crops_keeps_the_nesting_and_maps_words_to_the_input() -> None:
    scene, box = _scene()
    models = EngineModels(answers={"lots": lambda _image: boxes([box])})
    steps = _over_crops(step("ocr_model@v1", "ocr", images="$steps.crop.crops"))
    wanted = {
        "text": "$steps.ocr.result",
        "words": "$steps.ocr.predictions",
        "parents": "$steps.ocr.parent_id",
        "roots": "$steps.ocr.root_parent_id",
        "det": "$steps.det.predictions",
    }
    [parent] = run(steps, wanted, {"image": scene}, context=RunContext(models=models))
    [own] = run(
        steps,
        wanted,
        {"image": scene},
        context=RunContext(models=models),
        coordinates_system="own",
    )
    assert parent["text"] == ["LOT 7731"]
    [detection_id] = parent["det"].data[DETECTION_ID].tolist()
    assert parent["parents"] == [detection_id]
    assert parent["roots"] == ["image"]
    [words_in_input] = parent["words"]
    [words_in_crop] = own["words"]
    assert words_in_input.data[CLASS_NAME].tolist() == ["LOT", "7731"]
    x1, y1, x2, y2 = box
    assert np.all(words_in_input.xyxy[:, [0, 2]] >= x1)
    assert np.all(words_in_input.xyxy[:, [0, 2]] <= x2)
    assert np.all(words_in_input.xyxy[:, [1, 3]] >= y1)
    assert np.all(words_in_input.xyxy[:, [1, 3]] <= y2)
    assert np.all(words_in_crop.xyxy[:, [0, 2]] <= x2 - x1)
    np.testing.assert_allclose(
        words_in_input.xyxy - words_in_crop.xyxy, [[x1, y1, x1, y1]] * 2, atol=1
    )
    assert models.ocr_batches == [1, 1]


def test_words_feed_detection_blocks_downstream() -> None:
    [outputs] = run(
        [
            step("ocr_model@v1", "ocr", images="$inputs.image"),
            step(
                "property_definition@v1",
                "names",
                data="$steps.ocr.predictions",
                operations=[{"type": "DetectionsPropertyExtract", "property_name": "class_name"}],
            ),
            step(
                "bounding_box_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.ocr.predictions",
            ),
        ],
        {"names": "$steps.names.output", "viz": "$steps.viz.image"},
        {"image": PAGE},
        context=RunContext(models=EngineModels()),
    )
    assert cer(" ".join(LINES), " ".join(outputs["names"])) <= 0.02
    assert not np.array_equal(outputs["viz"].pixels_bgr, PAGE)


def test_pp_ocr_defaults_to_small_models() -> None:
    manifest = PpOcrManifest.model_validate(
        {"type": "roboflow_core/pp_ocr@v1", "name": "ocr", "images": "$inputs.image"}
    )
    assert (manifest.text_detection, manifest.text_recognition) == ("small", "small")


@pytest.mark.parametrize(
    ("block", "words"),
    [
        pytest.param("ocr_model@v1", True, id="ocr_model-needs-words"),
        pytest.param("pp_ocr@v1", False, id="pp_ocr-lines-only"),
        pytest.param("easy_ocr@v1", False, id="easy_ocr-lines-only"),
    ],
)
def test_word_boxes_are_computed_only_for_word_blocks(block: str, words: bool) -> None:
    models = EngineModels()
    ocr_run(block, {"image": PAGE}, models)
    assert models.ocr_options == [OcrOptions(words=words)]


def test_pp_ocr_without_recognition_gives_line_boxes_without_text() -> None:
    models = EngineModels()
    out = ocr_run("pp_ocr@v1", {"image": PAGE}, models, text_recognition="none")
    full = ocr_run("pp_ocr@v1", {"image": PAGE})
    assert models.ocr_options == [OcrOptions(recognize=False)]
    assert out["result"] == ""
    predictions = out["predictions"]
    assert predictions.data[CLASS_NAME].tolist() == ["", ""]
    np.testing.assert_allclose(predictions.xyxy, full["predictions"].xyxy, atol=1)
    assert predictions.data[PARENT_ID].tolist() == ["image", "image"]
    assert out["prediction_type"] == "ocr"


def test_pp_ocr_without_detection_reads_each_crop_as_one_line() -> None:
    scene, box = _scene()
    models = EngineModels(answers={"lots": lambda _image: boxes([box])})
    steps = _over_crops(step("pp_ocr@v1", "ocr", images="$steps.crop.crops", text_detection="none"))
    [out] = run(
        steps,
        {"text": "$steps.ocr.result", "lines": "$steps.ocr.predictions"},
        {"image": scene},
        context=RunContext(models=models),
    )
    assert out["text"] == ["LOT 7731"]
    [lines] = out["lines"]
    # The one line is the whole crop, mapped back into the input image.
    np.testing.assert_allclose(lines.xyxy, [box], atol=1)
    assert lines.data[CLASS_NAME].tolist() == ["LOT 7731"]
    assert models.ocr_options == [OcrOptions(detect=False)]


@pytest.mark.parametrize(
    ("block", "fields", "field_name", "named"),
    [
        pytest.param(
            "pp_ocr@v1",
            {"text_detection": "none", "text_recognition": "none"},
            "",
            "cannot both be 'none'",
            id="pp_ocr-no-stage",
        ),
        pytest.param(
            "pp_ocr@v1", {"text_detection": "huge"}, "text_detection", "small", id="unknown-size"
        ),
        pytest.param(
            "easy_ocr@v1", {"language": "Japanese"}, "language", "English", id="easy_ocr-japanese"
        ),
        pytest.param(
            "easy_ocr@v1", {"language": "Klingon"}, "language", "English", id="easy_ocr-unknown"
        ),
    ],
)
def test_unsupported_fields_fail_compilation_naming_them(
    block: str, fields: dict[str, str], field_name: str, named: str
) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        ocr_run(block, {"image": BLANK}, **fields)
    assert field_name in str(caught.value)
    assert named in str(caught.value)


def test_easy_ocr_defaults_to_english_and_accepts_quantize() -> None:
    models = EngineModels()
    out = ocr_run("easy_ocr@v1", {"image": PAGE}, models, language="English", quantize=True)
    assert cer(" ".join(LINES), out["result"]) <= 0.02
    manifest = EasyOcrManifest.model_validate(
        {"type": "EasyOCR", "name": "ocr", "images": "$inputs.image"}
    )
    assert (manifest.language, manifest.quantize) == ("English", False)


@pytest.mark.parametrize("size", ["tiny", "small", "medium"])
def test_pp_ocr_accepts_every_supported_size(size: str) -> None:
    out = ocr_run("pp_ocr@v1", {"image": PAGE}, text_detection=size, text_recognition=size)
    assert cer(" ".join(LINES), out["result"]) <= 0.02
