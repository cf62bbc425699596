"""The OCR blocks end to end through ``POST /workflows/run``: real PP-OCR on rendered text, OCR
over the crops of a real detector (the known fixture model: one "square" over the centre fifth of
the letterboxed image), serialized boxes, and images without text."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from tests.conftest import Tenant
from tests.support.ocr_images import cer, font, render
from tests.workflows.fakes import definition

PAGE_LINES = (
    "Shipping manifest 2025",
    "Container MSKU 4402178",
    "Gross weight 21450 kg",
    "Port of loading Rotterdam",
    "Seal number 88731",
    "Vessel Northern Star",
    "Voyage 117W departure",
    "Consignee Acme Imports",
)


def image_object(pixels: np.ndarray) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


PAGE = render(PAGE_LINES, 26)
BLANK = np.full((200, 300, 3), 255, dtype=np.uint8)


def scene() -> np.ndarray:
    """1000x500: the known detector's box is x 400..600, y 150..350; "INSIDE 42" sits in it,
    two more lines outside it."""
    image = Image.new("RGB", (1000, 500), "white")
    draw = ImageDraw.Draw(image)
    draw.text((425, 232), "INSIDE 42", font=font(28), fill="black")
    draw.text((40, 40), "outside words", font=font(28), fill="black")
    draw.text((620, 430), "far corner", font=font(28), fill="black")
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


def run(
    client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any
) -> list[dict[str, Any]]:
    response = client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )
    assert response.status_code == 200, response.text
    outputs: list[dict[str, Any]] = response.json()["outputs"]
    return outputs


def _check_boxes(predictions: dict[str, Any], width: int, height: int) -> None:
    assert predictions["image"] == {"width": width, "height": height}
    for item in predictions["predictions"]:
        assert item["class_id"] == 0
        assert 0 < item["confidence"] <= 1
        assert item["x"] - item["width"] / 2 > 0
        assert item["x"] + item["width"] / 2 <= width
        assert item["y"] - item["height"] / 2 > 0
        assert item["y"] + item["height"] / 2 <= height
        assert isinstance(item["detection_id"], str)


def test_a_page_is_read_as_lines_and_words(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [
            step("pp_ocr@v1", "lines", images="$inputs.image"),
            step("ocr_model@v1", "words", images="$inputs.image"),
        ],
        {"lines": "$steps.lines.*", "words": "$steps.words.*"},
    )
    [outputs] = run(client, tenant, workflow, image_object(PAGE))
    height, width = PAGE.shape[:2]
    text = " ".join(PAGE_LINES)
    lines, words = outputs["lines"], outputs["words"]
    assert set(lines) == {"result", "predictions", "parent_id", "root_parent_id", "prediction_type"}
    for out in (lines, words):
        assert cer(text, out["result"]) <= 0.02, out["result"]
        assert (out["parent_id"], out["root_parent_id"]) == ("image", "image")
        assert out["prediction_type"] == "ocr"
        _check_boxes(out["predictions"], width, height)
    line_names = [p["class"] for p in lines["predictions"]["predictions"]]
    assert len(line_names) == len(PAGE_LINES)
    assert " ".join(line_names) == lines["result"]
    ys = [p["y"] for p in lines["predictions"]["predictions"]]
    assert ys == sorted(ys)
    assert [p["class"] for p in words["predictions"]["predictions"]] == words["result"].split()


def _crop_workflow(coordinates_system: str) -> dict[str, Any]:
    return definition(
        [
            step(
                "roboflow_object_detection_model@v2",
                "det",
                images="$inputs.image",
                model_id="known/1",
            ),
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.image",
                predictions="$steps.det.predictions",
            ),
            step("ocr_model@v1", "ocr", images="$steps.crop.crops"),
            step("pp_ocr@v1", "page", images="$inputs.image"),
        ],
        [
            {"type": "JsonField", "name": "det", "selector": "$steps.det.predictions"},
            {"type": "JsonField", "name": "crop_text", "selector": "$steps.ocr.result"},
            {
                "type": "JsonField",
                "name": "crop_words",
                "selector": "$steps.ocr.predictions",
                "coordinates_system": coordinates_system,
            },
            {"type": "JsonField", "name": "crop_parent", "selector": "$steps.ocr.parent_id"},
            {"type": "JsonField", "name": "page_text", "selector": "$steps.page.result"},
        ],
    )


def test_ocr_over_detector_crops(client: TestClient, tenant: Tenant) -> None:
    image = image_object(scene())
    [parent] = run(client, tenant, _crop_workflow("parent"), image)
    [own] = run(client, tenant, _crop_workflow("own"), image)
    [box] = parent["det"]["predictions"]
    [own_box] = own["det"]["predictions"]
    assert (box["x"], box["y"], box["width"], box["height"]) == (500, 250, 200, 200)
    # One crop per detection: every crop output is a list nested in the image's element.
    assert parent["crop_text"] == ["INSIDE 42"]
    assert parent["crop_parent"] == [box["detection_id"]]
    assert parent["page_text"] == "outside words INSIDE 42 far corner"
    [in_image] = parent["crop_words"]
    [in_crop] = own["crop_words"]
    assert [p["class"] for p in in_image["predictions"]] == ["INSIDE", "42"]
    assert in_image["image"] == {"width": 1000, "height": 500}
    assert in_crop["image"] == {"width": 200, "height": 200}
    for word, local in zip(in_image["predictions"], in_crop["predictions"], strict=True):
        assert 400 < word["x"] < 600
        assert 150 < word["y"] < 350
        assert abs(word["x"] - local["x"] - 400) <= 1
        assert abs(word["y"] - local["y"] - 150) <= 1
        assert local["parent_id"] == own_box["detection_id"]
        assert local["root_parent_id"] == "image"
        assert local["parent_origin"] == {
            "offset_x": 400,
            "offset_y": 150,
            "width": 1000,
            "height": 500,
        }


def test_images_without_text_and_batches(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [step("pp_ocr@v1", "ocr", images="$inputs.image")],
        {"text": "$steps.ocr.result", "boxes": "$steps.ocr.predictions"},
    )
    other = render(("second image",), 30)
    outputs = run(
        client, tenant, workflow, [image_object(BLANK), image_object(other), image_object(BLANK)]
    )
    assert [o["text"] for o in outputs] == ["", "second image", ""]
    assert outputs[0]["boxes"] == {"image": {"width": 300, "height": 200}, "predictions": []}
    [line] = outputs[1]["boxes"]["predictions"]
    assert line["class"] == "second image"
    assert line["parent_id"] == "image.[1]"


def test_ocr_words_feed_visualization_and_filters(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [
            step("ocr_model@v1", "ocr", images="$inputs.image"),
            step(
                "detections_filter@v1",
                "numbers",
                predictions="$steps.ocr.predictions",
                operations=[
                    {
                        "type": "DetectionsFilter",
                        "filter_operation": {
                            "type": "StatementGroup",
                            "operator": "and",
                            "statements": [
                                {
                                    "type": "BinaryStatement",
                                    "left_operand": {
                                        "type": "DynamicOperand",
                                        "operations": [
                                            {
                                                "type": "ExtractDetectionProperty",
                                                "property_name": "class_name",
                                            }
                                        ],
                                    },
                                    "comparator": {"type": "in (Sequence)"},
                                    "right_operand": {
                                        "type": "StaticOperand",
                                        "value": ["2025", "21450", "88731"],
                                    },
                                }
                            ],
                        },
                    }
                ],
            ),
            step(
                "label_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.numbers.predictions",
            ),
        ],
        {"numbers": "$steps.numbers.predictions", "viz": "$steps.viz.image"},
    )
    [outputs] = run(client, tenant, workflow, image_object(PAGE))
    assert [p["class"] for p in outputs["numbers"]["predictions"]] == ["2025", "21450", "88731"]
    assert outputs["viz"]["type"] == "base64"
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(outputs["viz"]["value"]), np.uint8), 1)
    assert drawn.shape == PAGE.shape


def _post(client: TestClient, tenant: Tenant, workflow: dict[str, Any], image: Any) -> Any:
    return client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "inputs": {"image": image}, "specification": workflow},
    )


def test_unsupported_easy_ocr_language_is_a_400_naming_the_supported_ones(
    client: TestClient, tenant: Tenant
) -> None:
    workflow = definition(
        [step("easy_ocr@v1", "ocr", images="$inputs.image", language="Korean")],
        {"text": "$steps.ocr.result"},
    )
    response = _post(client, tenant, workflow, image_object(BLANK))
    assert response.status_code == 400, response.text
    body = response.json()
    assert "supported are English" in body["message"]
    [error] = body["blocks_errors"]
    assert (error["block_id"], error["property_name"]) == ("ocr", "language")


def test_pp_ocr_with_both_stages_none_is_a_400(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [
            step(
                "pp_ocr@v1",
                "ocr",
                images="$inputs.image",
                text_detection="none",
                text_recognition="none",
            )
        ],
        {"text": "$steps.ocr.result"},
    )
    response = _post(client, tenant, workflow, image_object(BLANK))
    assert response.status_code == 400, response.text
    assert "cannot both be 'none'" in response.json()["message"]


def test_pp_ocr_single_stages_and_easy_ocr(client: TestClient, tenant: Tenant) -> None:
    workflow = definition(
        [
            step("pp_ocr@v1", "boxes", images="$inputs.image", text_recognition="none"),
            step("pp_ocr@v1", "line", images="$inputs.image", text_detection="none"),
            step("easy_ocr@v1", "easy", images="$inputs.image"),
        ],
        {"boxes": "$steps.boxes.*", "line": "$steps.line.*", "easy": "$steps.easy.*"},
    )
    # A line cut as a detector would box it: a few pixels around the ink.
    rendered = render(("Container MSKU 4402178",), 30)
    rows = np.flatnonzero(rendered.min(axis=(1, 2)) < 128)
    single = np.ascontiguousarray(rendered[rows[0] - 6 : rows[-1] + 7])
    [page, line] = run(client, tenant, workflow, [image_object(PAGE), image_object(single)])
    height, width = PAGE.shape[:2]
    # Detection only: one box per line, no text.
    assert page["boxes"]["result"] == ""
    boxes = page["boxes"]["predictions"]
    _check_boxes(boxes, width, height)
    assert [p["class"] for p in boxes["predictions"]] == [""] * len(PAGE_LINES)
    # EasyOCR reads the lines.
    assert cer(" ".join(PAGE_LINES), page["easy"]["result"]) <= 0.02
    easy_lines = [p["class"] for p in page["easy"]["predictions"]["predictions"]]
    assert len(easy_lines) == len(PAGE_LINES)
    # Recognition only: the single-line image is one line spanning the whole image.
    assert cer("Container MSKU 4402178", line["line"]["result"]) <= 0.02
    [whole] = line["line"]["predictions"]["predictions"]
    line_height, line_width = single.shape[:2]
    assert (whole["width"], whole["height"]) == (line_width, line_height)
    assert whole["class"] == line["line"]["result"]


def test_ocr_words_stitched_back_into_lines(client: TestClient, tenant: Tenant) -> None:
    lines = PAGE_LINES[:4]
    workflow = definition(
        [
            step("ocr_model@v1", "words", images="$inputs.image"),
            step(
                "stitch_ocr_detections@v1",
                "v1",
                predictions="$steps.words.predictions",
                reading_direction="left_to_right",
                delimiter=" ",
            ),
            step(
                "stitch_ocr_detections@v2",
                "v2",
                predictions="$steps.words.predictions",
                stitching_algorithm="collimate",
                reading_direction="auto",
                delimiter=" ",
            ),
            step(
                "stitch_ocr_detections@v2",
                "backwards",
                predictions="$steps.words.predictions",
                stitching_algorithm="tolerance",
                reading_direction="right_to_left",
                tolerance="$inputs.tolerance",
                delimiter=" ",
            ),
        ],
        {"v1": "$steps.v1.ocr_text", "v2": "$steps.v2.ocr_text", "rtl": "$steps.backwards.*"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "tolerance", "default_value": 8},
        ],
    )
    images = [image_object(render(lines, 28)), image_object(BLANK)]
    outputs = run(client, tenant, workflow, images)
    assert outputs[0]["v1"] == "\n".join(lines)
    assert outputs[0]["v2"] == "\n".join(lines)
    assert outputs[0]["rtl"] == {
        "ocr_text": "\n".join(" ".join(reversed(line.split())) for line in lines)
    }
    assert outputs[1] == {"v1": "", "v2": "", "rtl": {"ocr_text": ""}}
