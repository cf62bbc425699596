"""/metrics, request ids, the redacted access log, JSON log lines, and the KServe-v2 health
routes."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, jpeg_bytes
from visionflow.http.logs import JsonFormatter, configure_logging, redact_query, request_id

IMAGE = {"type": "base64", "value": base64.b64encode(jpeg_bytes(64, 48)).decode()}


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/info", headers={"X-Request-Id": "abc-123.x"})
    assert given.headers["X-Request-Id"] == "abc-123.x"
    made = client.get("/info", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32
    assert made.headers["X-Request-Id"] != client.get("/info").headers["X-Request-Id"]
    # Error responses carry it too.
    assert "X-Request-Id" in client.post("/infer/object_detection", json={}).headers


def test_metrics_count_requests_models_and_rejections(client: TestClient, tenant: Tenant) -> None:
    body = {"model_id": tenant.model_id, "image": IMAGE, "api_key": tenant.key}
    assert client.post("/infer/object_detection", json=body).status_code == 200
    assert client.post("/infer/object_detection", json=body).status_code == 200
    huge = {**body, "image": [IMAGE] * 1000}
    assert client.post("/infer/object_detection", json=huge).status_code == 413
    text = client.get("/metrics").text
    model = f'model="{tenant.workspace}/{tenant.model_id}"'
    assert f"visionflow_model_loads_total{{{model}}} 1.0" in text
    assert f"visionflow_model_inference_seconds_count{{{model}}} 2.0" in text
    assert (
        'visionflow_requests_total{method="POST",route="/infer/object_detection",status="200"} 2.0'
        in text
    )
    assert 'visionflow_rejections_total{reason="' in text
    assert "visionflow_request_duration_seconds_bucket" in text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_unmatched_routes_do_not_grow_metric_labels(client: TestClient) -> None:
    for index in range(5):
        client.get(f"/no/such/route/{index}")
    text = client.get("/metrics").text
    assert "/no/such" not in text


def test_access_log_redacts_keys(
    client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="visionflow.access"):
        client.get(f"/model/registry?api_key={tenant.key}&x=1")
    lines = [r.getMessage() for r in caplog.records if r.name == "visionflow.access"]
    assert any("/model/registry?api_key=***&x=1" in line for line in lines), lines
    assert all(tenant.key not in line for line in lines)


@pytest.mark.parametrize(
    ("query", "redacted"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("api_key=vf_secret", "api_key=***", id="key"),
        pytest.param("a=1&API_KEY=x&token=t&b=2", "a=1&API_KEY=***&token=***&b=2", id="mixed"),
        pytest.param("image=https://x/y.jpg", "image=https://x/y.jpg", id="kept"),
    ],
)
def test_redact_query(query: str, redacted: str) -> None:
    assert redact_query(query) == redacted


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("json")
        token = request_id.set("rid-1")
        logging.getLogger("visionflow.test").info("hello %s", "there", extra={"status": 200})
        request_id.reset(token)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert line["request_id"] == "rid-1"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


def test_kserve_v2_health(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
