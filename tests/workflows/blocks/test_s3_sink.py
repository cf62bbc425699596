"""``s3_sink`` against a real S3-compatible server (moto in server mode on 127.0.0.1): objects
read back with their keys and content types, append logs with rotation, S3's refusals and
transport faults reported (the latter after retries), credentials required from the workflow."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.support.s3 import S3Server, s3_server
from tests.support.server import free_port
from tests.support.sink_environment import environment
from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.s3_sink import S3SinkV1
from visionflow.workflows.errors import InvalidInputTypeError

# moto keeps buckets per process, so each test has its own.
BUCKET = f"sink-{uuid.uuid4().hex[:12]}"
CREDENTIALS = {"aws_access_key_id": "$inputs.key_id", "aws_secret_access_key": "$inputs.secret"}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    global BUCKET
    BUCKET = f"sink-{uuid.uuid4().hex[:12]}"
    with s3_server(monkeypatch) as server:
        server.create_bucket(BUCKET)
        yield server


def _sink(sinks: SinkEnvironment | None, content: list[str], **fields: Any) -> list[Any]:
    return run(
        [
            step(
                "s3_sink@v1",
                "s3",
                content="$inputs.content",
                **{
                    "bucket_name": BUCKET,
                    "output_mode": "separate_files",
                    "s3_prefix": "reports/",
                    "file_name_prefix": "counts",
                    "aws_region": "us-east-1",
                    **CREDENTIALS,
                    **fields,
                },
            )
        ],
        {"error": "$steps.s3.error_status", "message": "$steps.s3.message"},
        {"x": canvas()},
        {
            "image": ["x"] * len(content),
            "content": content,
            "key_id": "visionflow-test",
            "secret": "visionflow-test-secret",
        },
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowBatchInput", "name": "content", "kind": ["string"]},
            {"type": "WorkflowParameter", "name": "key_id"},
            {"type": "WorkflowParameter", "name": "secret"},
        ],
        context=RunContext(models=ScriptedModels(), sinks=sinks),
    )


def _objects(server: S3Server) -> dict[str, tuple[str, bytes]]:
    client: Any = server.client()
    found = {}
    for entry in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        item = client.get_object(Bucket=BUCKET, Key=entry["Key"])
        found[entry["Key"]] = (item["ContentType"], item["Body"].read())
    return found


@pytest.mark.parametrize(
    ("file_type", "content_type"),
    [
        pytest.param("csv", "text/csv", id="csv"),
        pytest.param("json", "application/json", id="json"),
    ],
)
def test_separate_files_are_read_back(s3: S3Server, file_type: str, content_type: str) -> None:
    sinks = environment(s3_endpoint_url=s3.endpoint_url)
    results = _sink(sinks, ['{"a": 1}', ""], file_type=file_type)
    assert [r["error"] for r in results] == [False, False]
    objects = _objects(s3)
    assert len(objects) == 2
    for key in objects:
        assert key.startswith("reports/counts_")
        assert key.endswith(f".{file_type}")
        assert f"Data saved successfully to s3://{BUCKET}/{key}" in [r["message"] for r in results]
    assert sorted(body for _type, body in objects.values()) == [b"", b'{"a": 1}']
    assert {kind for kind, _body in objects.values()} == {content_type}


def test_append_log_keeps_one_csv_header_and_rotates(s3: S3Server) -> None:
    sinks = environment(s3_endpoint_url=s3.endpoint_url)
    rows = ["a,b\n1,2\n", "a,b\n3,4\n", "a,b\n5,6"]
    results = _sink(sinks, rows, output_mode="append_log", max_entries_per_file=2)
    assert [r["error"] for r in results] == [False, False, False]
    objects = _objects(s3)
    assert sorted(body for _type, body in objects.values()) == [b"a,b\n1,2\n3,4\n", b"a,b\n5,6\n"]


def test_append_log_of_json_is_json_lines(s3: S3Server) -> None:
    sinks = environment(s3_endpoint_url=s3.endpoint_url)
    results = _sink(
        sinks, ['{"a": 1}', '{ "b" : 2 }', "{broken"], output_mode="append_log", file_type="json"
    )
    assert results[2] == {"error": True, "message": "Invalid JSON content"}
    [(key, (kind, body))] = _objects(s3).items()
    assert key.endswith(".jsonl")
    assert kind == "application/x-ndjson"
    assert [json.loads(line) for line in body.decode().splitlines()] == [{"a": 1}, {"b": 2}]


def test_refusals_and_unreachable_servers_are_reported(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    [missing] = _sink(environment(s3_endpoint_url=s3.endpoint_url), ["x"], bucket_name="nope")
    assert missing["error"] is True
    assert "NoSuchBucket" in missing["message"]
    monkeypatch.setattr(S3SinkV1, "retry_delay_s", 0.01)
    closed = environment(s3_endpoint_url=f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    [down] = _sink(closed, ["x"])
    assert down["error"] is True
    assert "Could not connect to the endpoint URL" in down["message"]


def test_credentials_come_from_the_workflow(s3: S3Server) -> None:
    with pytest.raises(InvalidInputTypeError, match="ambient AWS credentials are not used"):
        _sink(environment(s3_endpoint_url=s3.endpoint_url), ["x"], aws_secret_access_key=None)
    assert _objects(s3) == {}


def test_switches_and_no_sinks(s3: S3Server) -> None:
    off = environment(s3_endpoint_url=s3.endpoint_url, disabled=True)
    assert _sink(off, ["x"])[0] == {
        "error": False,
        "message": "Sink was disabled by workflow execution policy",
    }
    no_egress = _sink(environment(s3_endpoint_url=s3.endpoint_url, allow_egress=False), ["x"])[0]
    assert no_egress["error"] is True
    assert "VISIONFLOW_WORKFLOWS_ALLOW_EGRESS" in no_egress["message"]
    assert "no sinks configured" in _sink(None, ["x"])[0]["message"]
    assert _objects(s3) == {}


class _Flaky(BaseHTTPRequestHandler):
    """An S3 endpoint that answers PutObject with 503 SlowDown ``failures`` times, then 200."""

    failures = 2
    puts: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Flaky.puts.append(self.path)
        if len(_Flaky.puts) <= _Flaky.failures:
            body = (
                b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            )
            self.send_response(503)
        else:
            body = b""
            self.send_response(200)
            self.send_header("ETag", '"0"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("failures", "error", "attempts"),
    [
        pytest.param(2, False, 3, id="recovers"),
        pytest.param(9, True, 4, id="gives-up-after-3-retries"),
    ],
)
def test_transient_failures_are_retried_three_times(
    monkeypatch: pytest.MonkeyPatch, failures: int, error: bool, attempts: int
) -> None:
    monkeypatch.setattr(S3SinkV1, "retry_delay_s", 0.01)
    monkeypatch.setattr(_Flaky, "failures", failures)
    monkeypatch.setattr(_Flaky, "puts", [])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        [result] = _sink(environment(s3_endpoint_url=endpoint), ["a,b\n1,2\n"])
    finally:
        server.shutdown()
        server.server_close()
    assert result["error"] is error, result
    assert len(_Flaky.puts) == attempts
    if error:
        assert "SlowDown" in result["message"]
