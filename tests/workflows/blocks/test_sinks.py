"""Sinks through the executor with an injected ``Sinks``: what is sent, cooldowns, disabling,
URL refusals reported, and files confined to the sink folder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.provider_server import provider_server
from tests.support.sink_environment import environment
from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows import RunBudget, RunContext, WorkflowLimits
from visionflow.workflows.blocks.sink_environment import HttpRequest, HttpResponse
from visionflow.workflows.blocks.sinks import confined_directory
from visionflow.workflows.errors import InvalidInputTypeError


@dataclass
class FakeSinks:
    disabled: bool = False
    file_root: Path | None = None
    status: int = 200
    refuse: str | None = None
    sent: list[HttpRequest] = field(default_factory=list)
    background: list[Callable[[], object]] = field(default_factory=list)

    def send(self, request: HttpRequest) -> HttpResponse:
        if self.refuse and self.refuse in request.url:
            raise ValueError(f"URL {request.url!r} resolves to a non-public address")
        self.sent.append(request)
        return HttpResponse(self.status)

    def submit(self, task: Callable[[], object]) -> None:
        self.background.append(task)


@dataclass(frozen=True)
class SinkContext(RunContext):
    sinks: FakeSinks | None = None


MODELS = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 10, 10]])})
IMAGES = {"a": canvas(), "b": canvas()}


def _webhook(sinks: FakeSinks | None, images: list[str] | str = "a", **fields: Any) -> list[Any]:
    return run(
        [
            model_step("det", "m/1"),
            step(
                "webhook_sink@v1",
                "hook",
                url="https://hooks.example.com/in",
                method="POST",
                **{"fire_and_forget": False, **fields},
            ),
        ],
        {
            "error": "$steps.hook.error_status",
            "throttled": "$steps.hook.throttling_status",
            "message": "$steps.hook.message",
        },
        IMAGES,
        {"image": images},
        context=SinkContext(models=MODELS, sinks=sinks),
    )


def test_webhook_sends_the_payload_after_its_operations() -> None:
    sinks = FakeSinks()
    [result] = _webhook(
        sinks,
        json_payload={
            "count": "$steps.det.predictions",
            "site": "north",
            "raw": "$steps.det.predictions",
        },
        json_payload_operations={"count": [{"type": "SequenceLength"}]},
        query_parameters={"camera": 3},
        headers={"X-Token": "abc"},
    )
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent successfully",
    }
    [request] = sinks.sent
    assert (request.method, request.url, request.params, request.headers, request.purpose) == (
        "POST",
        "https://hooks.example.com/in",
        {"camera": 3},
        {"X-Token": "abc"},
        "webhook URL",
    )
    assert request.json["count"] == 1
    assert request.json["site"] == "north"
    assert request.json["raw"]["predictions"][0]["width"] == 10
    json.dumps(request.json)  # serializable as sent


def test_webhook_files_and_form_data() -> None:
    sinks = FakeSinks()
    _webhook(
        sinks,
        multi_part_encoded_files={"image": "$inputs.image"},
        form_data={"count": "$steps.det.predictions"},
        form_data_operations={"count": [{"type": "SequenceLength"}]},
    )
    [request] = sinks.sent
    assert request.files is not None
    assert request.files["image"][:2] == b"\xff\xd8"
    assert request.data == {"count": "1"}
    assert request.json is None


def test_webhook_cooldown_disable_and_missing_sinks() -> None:
    sinks = FakeSinks()
    per_image = {"json_payload": {"detections": "$steps.det.predictions"}}
    results = _webhook(sinks, ["a", "b"], **per_image)
    assert [r["throttled"] for r in results] == [False, True]
    assert len(sinks.sent) == 1
    assert _webhook(sinks, ["a", "b"], cooldown_seconds=0, **per_image)[1]["throttled"] is False
    off = FakeSinks(disabled=True)
    assert "disable_sinks" in _webhook(off)[0]["message"]
    assert off.sent == []
    assert "disabled by parameter" in _webhook(sinks, disable_sink=True)[0]["message"]
    assert "no sinks configured" in _webhook(None)[0]["message"]


def test_webhook_refusals_and_http_errors_are_reported_not_raised() -> None:
    refused = _webhook(FakeSinks(refuse="example.com"))[0]
    assert refused["error"] is True
    assert "non-public address" in refused["message"]
    failing = _webhook(FakeSinks(status=503))[0]
    assert failing["error"] is True
    assert "503" in failing["message"]


def test_fire_and_forget_sends_in_the_background() -> None:
    sinks = FakeSinks()
    [result] = _webhook(sinks, fire_and_forget=True)
    assert result["message"] == "Notification sent in the background task"
    assert sinks.sent == []
    [task] = sinks.background
    task()
    assert len(sinks.sent) == 1


def _file_sink(root: Path | None, content: list[str], **fields: Any) -> list[Any]:
    return run(
        [
            step(
                "local_file_sink@v1",
                "file",
                content="$inputs.content",
                **{"output_mode": "append_log", "target_directory": "logs", **fields},
            )
        ],
        {"error": "$steps.file.error_status", "message": "$steps.file.message"},
        {"x": canvas()},
        {"image": ["x"] * len(content), "content": content},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowBatchInput", "name": "content", "kind": ["string"]},
        ],
        context=SinkContext(models=MODELS, sinks=FakeSinks(file_root=root)),
    )


def test_local_file_sink_appends_csv_with_one_header_and_rotates(tmp_path: Path) -> None:
    rows = ["a,b\n1,2\n", "a,b\n3,4\n", "a,b\n5,6\n"]
    results = _file_sink(tmp_path, rows, max_entries_per_file=2)
    assert [r["error"] for r in results] == [False, False, False]
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.read_text() for f in files] == ["a,b\n1,2\n3,4\n", "a,b\n5,6\n"]
    assert all(f.name.startswith("workflow_output_") and f.suffix == ".csv" for f in files)


def test_local_file_sink_separate_json_files(tmp_path: Path) -> None:
    _file_sink(tmp_path, ['{"a": 1}', '{"a": 2}'], output_mode="separate_files", file_type="json")
    files = sorted((tmp_path / "logs").glob("*.json"))
    assert [json.loads(f.read_text()) for f in files] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("target", ["../outside", "/etc", "logs/../../x"])
def test_local_file_sink_cannot_leave_its_folder(tmp_path: Path, target: str) -> None:
    root = tmp_path / "sinks"
    root.mkdir()
    [result] = _file_sink(root, ["x"], target_directory=target)
    assert result["error"] is True
    assert "outside the sink folder" in result["message"]
    assert list(tmp_path.iterdir()) == [root]


def test_local_file_sink_does_not_follow_symlinks_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "sinks", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "logs").symlink_to(outside)
    [result] = _file_sink(root, ["x"])
    assert result["error"] is True
    assert list(outside.iterdir()) == []
    with pytest.raises(ValueError, match="outside"):
        confined_directory(root, "logs")


def test_local_file_sink_needs_a_folder_and_a_plain_prefix(tmp_path: Path) -> None:
    assert "no sink folder" in _file_sink(None, ["x"])[0]["message"]
    with pytest.raises(InvalidInputTypeError, match="file_name_prefix"):
        _file_sink(tmp_path, ["x"], file_name_prefix="../evil")


def _within(limits: WorkflowLimits, seconds_left: float = 60.0) -> RunBudget:
    return RunBudget(limits, deadline=time.monotonic() + seconds_left)


@pytest.mark.parametrize(
    ("request_timeout", "fire_and_forget"),
    [
        pytest.param(30, False, id="one-past-the-limit"),
        pytest.param(31, False, id="past-the-limit"),
        pytest.param(10**9, True, id="background-past-the-limit"),
    ],
)
def test_a_webhook_timeout_past_the_limit_is_refused_naming_the_setting(
    request_timeout: int, fire_and_forget: bool
) -> None:
    sinks = FakeSinks()
    limits = WorkflowLimits(webhook_max_timeout_s=29.0)
    with pytest.raises(InvalidInputTypeError) as raised:
        run(
            [
                model_step("det", "m/1"),
                step(
                    "webhook_sink@v1",
                    "hook",
                    url="https://hooks.example.com/in",
                    method="POST",
                    request_timeout=request_timeout,
                    fire_and_forget=fire_and_forget,
                ),
            ],
            {"message": "$steps.hook.message"},
            IMAGES,
            {"image": "a"},
            context=SinkContext(models=MODELS, sinks=sinks, budget=_within(limits)),
        )
    assert raised.value.message == (
        f"Step 'hook' (roboflow_core/webhook_sink@v1): field 'request_timeout': "
        f"{request_timeout} s is longer than the 29 s a webhook may take "
        "(VISIONFLOW_WORKFLOWS_WEBHOOK_MAX_TIMEOUT_S)"
    )
    assert sinks.sent == []
    assert sinks.background == []


def test_a_webhook_at_the_limit_is_sent_with_its_timeout() -> None:
    sinks = FakeSinks()
    [result] = _webhook(sinks, request_timeout=30)
    assert result["error"] is False
    assert sinks.sent[0].timeout_s == pytest.approx(30.0, abs=1.0)


def test_a_waited_webhook_ends_with_the_run() -> None:
    sinks = FakeSinks()
    limits = WorkflowLimits(webhook_max_timeout_s=30.0)
    run(
        [
            model_step("det", "m/1"),
            step(
                "webhook_sink@v1",
                "hook",
                url="https://hooks.example.com/in",
                method="POST",
                request_timeout=20,
                fire_and_forget=False,
            ),
        ],
        {"message": "$steps.hook.message"},
        IMAGES,
        {"image": "a"},
        context=SinkContext(models=MODELS, sinks=sinks, budget=_within(limits, 2.0)),
    )
    assert 0 < sinks.sent[0].timeout_s <= 2.0


def test_webhook_sends_nothing_when_the_server_turns_egress_off() -> None:
    """VISIONFLOW_WORKFLOWS_ALLOW_EGRESS=false: no block sends a request, the webhook neither."""
    with provider_server() as server:
        results = run(
            [step("webhook_sink@v1", "hook", url=server.url, method="POST", fire_and_forget=False)],
            {"error": "$steps.hook.error_status", "message": "$steps.hook.message"},
            IMAGES,
            {"image": "a"},
            context=RunContext(models=MODELS, sinks=environment(allow_egress=False)),
        )
        assert results == [
            {
                "error": True,
                "message": "Sink skipped: outbound calls from workflows are off on this server "
                "(VISIONFLOW_WORKFLOWS_ALLOW_EGRESS=false)",
            }
        ]
        assert server.requests == []
        server.replies.append((200, "application/json", b"{}"))
        sent = run(
            [step("webhook_sink@v1", "hook", url=server.url, method="POST", fire_and_forget=False)],
            {"error": "$steps.hook.error_status"},
            IMAGES,
            {"image": "a"},
            context=RunContext(models=MODELS, sinks=environment()),
        )
        assert sent == [{"error": False}]
        assert len(server.requests) == 1
