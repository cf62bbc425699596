"""Hostile inputs on the foundation-model, workflow and legacy routes: each answered a 500 before
(found by schemathesis and hand-written cases) and must now get a 4xx whose message says what was
wrong — or, where the input is valid after all, a 200."""

from __future__ import annotations

import base64
import json
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.support.ocr_images import render
from tests.workflows.fakes import definition
from visionflow.service.services import Services


def png(pixels: np.ndarray) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return {"type": "base64", "value": base64.b64encode(buffer.tobytes()).decode()}


def post_raw(client: TestClient, path: str, body: dict[str, Any], **raw: str) -> Any:
    """POST ``body`` with each ``raw`` field's JSON text spliced in as is (``NaN``, huge
    integers, lone surrogate escapes: what ``json.dumps`` will not write)."""
    text = json.dumps({**body, **{name: f"__{name}__" for name in raw}})
    for name, value in raw.items():
        text = text.replace(f'"__{name}__"', value)
    return client.post(path, content=text, headers={"content-type": "application/json"})


def assert_4xx(response: Any, *fragments: str, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


def parameter_workflow(steps: list[dict[str, Any]], output: str, *names: str) -> dict[str, Any]:
    inputs = [{"type": "WorkflowParameter", "name": name} for name in names]
    return definition(steps, {"out": output}, inputs=inputs)


def run(client: TestClient, tenant: Tenant, workflow: dict[str, Any], **inputs: Any) -> Any:
    return client.post(
        "/workflows/run",
        json={"api_key": tenant.key, "specification": workflow, "inputs": inputs},
    )


# -- integers past 64 bits ------------------------------------------------------------------------


def test_a_huge_integer_in_a_refused_body_is_echoed_not_a_500(
    client: TestClient, tenant: Tenant
) -> None:
    """The 422 body echoes the request's values; orjson cannot write integers past 64 bits."""
    response = post_raw(
        client,
        "/infer/classification",
        {"api_key": tenant.key, "model_id": tenant.model_id},
        image="[1180591620717411303424]",
    )
    body = assert_4xx(response, "Invalid request", "image", status=422)
    assert "1180591620717411303424" in response.text
    assert body["error_type"] == "validation_error"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(2**64, id="2^64"),
        pytest.param(-(2**63) - 1, id="below-int64"),
        pytest.param(10**30, id="10^30"),
    ],
)
def test_a_huge_integer_echoed_by_a_workflow_keeps_every_digit(
    client: TestClient, tenant: Tenant, value: int
) -> None:
    response = run(client, tenant, parameter_workflow([], "$inputs.p", "p"), p=[value, 1])
    assert response.status_code == 200, response.text
    assert f"[{value},1]" in response.text
    assert response.json()["outputs"] == [{"out": [value, 1]}]


# -- strings that are not Unicode -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field", "where"),
    [
        pytest.param("/clip/embed_text", {}, "text", "text", id="clip-text"),
        pytest.param("/clip/compare", {"subject_type": "text"}, "subject", "subject", id="compare"),
        pytest.param("/yolo_world/infer", {"image": {}}, "text", "text", id="yolo-world"),
        pytest.param("/infer/object_detection", {}, "model_id", "model_id", id="model-id"),
        pytest.param(
            "/workflows/run", {"specification": {}}, "inputs", "inputs.p", id="workflow-input"
        ),
    ],
)
def test_unpaired_surrogates_are_refused_at_the_door(
    client: TestClient, clip_tenant: Tenant, path: str, body: dict[str, Any], field: str, where: str
) -> None:
    raw = '{"p": ["ok", "a\\ud800b"]}' if field == "inputs" else '["a\\udc00"]'
    if field in ("model_id", "subject"):
        raw = '"a\\ud800"'
    response = post_raw(client, path, {"api_key": clip_tenant.key, **body}, **{field: raw})
    message = assert_4xx(response, where, "unpaired UTF-16 surrogate")["message"]
    assert "\\ud800" in message or "\\udc00" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('"party \\ud83c\\udf89"', id="surrogate-pair"),
        pytest.param('"a \\\\ud800 written out"', id="escaped-backslash"),
        pytest.param('""', id="empty"),
    ],
)
def test_valid_unicode_passes_the_door(client: TestClient, tenant: Tenant, text: str) -> None:
    """An astral character written as a surrogate pair (🎉 = \\ud83c\\udf89) and the text
    ``\\ud800`` behind an escaped backslash are valid Unicode: echoed unchanged."""
    workflow = parameter_workflow([], "$inputs.p", "p")
    response = post_raw(
        client,
        "/workflows/run",
        {"api_key": tenant.key, "specification": workflow},
        inputs=f'{{"p": {text}}}',
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == [{"out": json.loads(text)}]


def test_a_surrogate_made_inside_a_workflow_is_a_400_for_clip(
    client: TestClient, clip_tenant: Tenant
) -> None:
    """``{x:c}`` with 0xD800 builds a lone surrogate: CLIP's tokenizer refuses it by name and a
    plain output of it is written with U+FFFD instead of failing the response."""
    template = {
        "type": "roboflow_core/string_template@v1",
        "name": "t",
        "template": "{x:c}",
        "data": {"x": "$inputs.x"},
    }
    embed = {"type": "roboflow_core/clip@v1", "name": "e", "data": "$steps.t.output"}
    shown = run(
        client, clip_tenant, parameter_workflow([template], "$steps.t.output", "x"), x=55296
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["outputs"] == [{"out": "\ufffd"}]
    embedded = run(
        client,
        clip_tenant,
        parameter_workflow([template, embed], "$steps.e.embedding", "x"),
        x=55296,
    )
    assert_4xx(embedded, "unpaired UTF-16 surrogate", "\\ud800")


# -- OCR on extreme aspect ratios -----------------------------------------------------------------

OCR_ROUTES = [
    pytest.param("/doctr/ocr", {"generate_bounding_boxes": True}, id="doctr"),
    pytest.param("/ocr/pp-ocr", {"generate_bounding_boxes": True}, id="pp-ocr"),
    pytest.param("/ocr/pp-ocr", {"pp_ocr_version_id": "none-small"}, id="pp-ocr-no-detection"),
    pytest.param("/ocr/pp-ocr", {"pp_ocr_version_id": "small-none"}, id="pp-ocr-no-recognition"),
    pytest.param("/easy_ocr/ocr", {}, id="easy-ocr"),
    pytest.param("/ocr/trocr", {}, id="trocr"),
]


@pytest.mark.parametrize(("route", "extra"), OCR_ROUTES)
@pytest.mark.parametrize("size_hw", [(1, 10_000), (10_000, 1), (1, 1), (3, 3000)])
def test_ocr_reads_images_of_any_aspect_ratio(
    client: TestClient, tenant: Tenant, route: str, extra: dict[str, Any], size_hw: tuple[int, int]
) -> None:
    """rapidocr fails on images longer than ~125:1 (its resize rounds the short side to 0)."""
    image = png(np.full((*size_hw, 3), 255, dtype=np.uint8))
    response = client.post(route, json={"api_key": tenant.key, "image": image, **extra})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == ""


def test_ocr_reads_a_padded_strip_and_keeps_boxes_inside_it(
    client: TestClient, tenant: Tenant
) -> None:
    """A 12×1320 line of text (110:1) is padded before reading; boxes stay on the image."""
    line = render(("Hello OCR world 42",), 12)
    rows = np.flatnonzero(line.min(axis=(1, 2)) < 128)
    text = line[rows[0] - 1 : rows[-1] + 2]
    height = text.shape[0]
    strip = np.full((height, height * 110, 3), 255, dtype=np.uint8)
    strip[:, : text.shape[1]] = text
    response = client.post(
        "/ocr/pp-ocr",
        json={"api_key": tenant.key, "image": png(strip), "generate_bounding_boxes": True},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "Hello OCR world 42"
    assert body["image"] == {"width": strip.shape[1], "height": height}
    assert body["predictions"]
    for box in body["predictions"]:
        assert box["y"] - box["height"] / 2 >= 0
        assert box["y"] + box["height"] / 2 <= height


# -- workflow operations and templates that do not fit their values -------------------------------


@pytest.mark.parametrize(
    ("operation", "value", "fragment"),
    [
        pytest.param(
            {"type": "ToNumber", "cast_to": "int"}, "Infinity", "ToNumber", id="int-of-infinity"
        ),
        pytest.param(
            {"type": "SequenceElementsCount"}, "[[1], [1]]", "unhashable", id="count-lists"
        ),
        pytest.param(
            {"type": "SequenceAggregate", "mode": "most_common"},
            '[{"a": 1}]',
            "unhashable",
            id="most-common-dicts",
        ),
        pytest.param(
            {"type": "LookupTable", "lookup_table": {"a": 1}}, "[1]", "unhashable", id="lookup-list"
        ),
        pytest.param(
            {"type": "SequenceMap", "lookup_table": {"a": 1}},
            "[[1]]",
            "unhashable",
            id="map-list-items",
        ),
    ],
)
def test_an_operation_that_does_not_fit_its_value_is_a_400(
    client: TestClient, tenant: Tenant, operation: dict[str, Any], value: str, fragment: str
) -> None:
    step = {
        "type": "roboflow_core/property_definition@v1",
        "name": "s",
        "data": "$inputs.v",
        "operations": [operation],
    }
    response = post_raw(
        client,
        "/workflows/run",
        {
            "api_key": tenant.key,
            "specification": parameter_workflow([step], "$steps.s.output", "v"),
        },
        inputs=f'{{"v": {value}}}',
    )
    body = assert_4xx(response, operation["type"], fragment)
    assert body["blocks_errors"][0]["property_name"] == "operations"


@pytest.mark.parametrize("value", [pytest.param(-1, id="negative"), pytest.param(10**9, id="huge")])
def test_a_character_format_out_of_range_is_a_400(
    client: TestClient, tenant: Tenant, value: int
) -> None:
    step = {
        "type": "roboflow_core/string_template@v1",
        "name": "s",
        "template": "{x:c}",
        "data": {"x": "$inputs.x"},
    }
    response = run(client, tenant, parameter_workflow([step], "$steps.s.output", "x"), x=value)
    body = assert_4xx(response, "range", "format spec")
    assert body["blocks_errors"][0]["property_name"] == "template"


def test_nan_confidence_for_yolo_world_in_a_workflow_is_a_400(
    client: TestClient, world: Tenant
) -> None:
    step = {
        "type": "roboflow_core/yolo_world_model@v1",
        "name": "s",
        "images": "$inputs.image",
        "class_names": ["cat"],
        "confidence": "$inputs.c",
    }
    workflow = definition(
        [step],
        {"out": "$steps.s.predictions"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "c"},
        ],
    )
    image = png(np.zeros((32, 32, 3), dtype=np.uint8))
    response = post_raw(
        client,
        "/workflows/run",
        {"api_key": world.key, "specification": workflow},
        inputs=json.dumps({"image": image, "c": "__NAN__"}).replace('"__NAN__"', "NaN"),
    )
    body = assert_4xx(response, "confidence", "nan")
    assert body["blocks_errors"][0]["property_name"] == "confidence"


# -- stored workflow versions and the legacy route ------------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("99999999999999999999999999", id="past-sqlite-integers"),
        pytest.param("\u00b2", id="superscript-two"),
    ],
)
def test_a_version_that_cannot_exist_is_a_400(
    client: TestClient, services: Services, tenant: Tenant, version: str
) -> None:
    services.workflows.save(tenant.workspace, "echo", parameter_workflow([], "$inputs.p", "p"))
    shown = client.get(
        f"/{tenant.workspace}/workflows/echo", params={"version": version, "api_key": tenant.key}
    )
    assert_4xx(shown, "workflow_version_id", "positive integers")
    ran = client.post(
        f"/{tenant.workspace}/workflows/echo",
        json={"api_key": tenant.key, "workflow_version_id": version, "inputs": {"p": 1}},
    )
    assert_4xx(ran, "workflow_version_id", "positive integers")
    assert services.registry.find_workflow(tenant.workspace, "echo", None) is not None


@pytest.mark.parametrize("response_format", ["json", "image", "image_and_json"])
def test_the_legacy_route_names_the_clip_routes_for_an_embedding_model(
    client: TestClient, clip_tenant: Tenant, response_format: str
) -> None:
    image = png(np.zeros((32, 32, 3), dtype=np.uint8))["value"]
    response = client.post(
        f"/clip/1?api_key={clip_tenant.key}&format={response_format}",
        content=image,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = assert_4xx(response, "embedding (CLIP) model", "/clip/embed_image")
    assert body["model_task"] == "embedding"
