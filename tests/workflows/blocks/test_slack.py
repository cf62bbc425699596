"""``slack_notification`` against a local HTTP server speaking the Slack Web API: the
``chat.postMessage`` request (path, bearer token, JSON body), the three-call external upload of
attachments, Slack's ``ok: false`` answers, the URL rules and the switches."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.provider_server import ProviderServer, provider_server
from tests.support.sink_environment import environment, wait_for
from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunContext
from visionflow.workflows.errors import WorkflowDefinitionError

MODELS = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 10, 10], [5, 5, 20, 20]])})
TOKEN = "xoxb-test-token"


@pytest.fixture
def slack() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode(), keep_blank_values=True)


def _notify(
    sinks: SinkEnvironment | None, images: list[str] | str = "a", **fields: Any
) -> list[dict[str, Any]]:
    return run(
        [
            model_step("det", "m/1"),
            step(
                "slack_notification@v1",
                "slack",
                **{
                    "slack_token": "$inputs.token",
                    "channel": "C0123",
                    "message": "Seen {{ $parameters.count }} objects",
                    "message_parameters": {"count": "$steps.det.predictions"},
                    "message_parameters_operations": {"count": [{"type": "SequenceLength"}]},
                    "cooldown_session_key": "session-1",
                    "fire_and_forget": False,
                    **fields,
                },
            ),
        ],
        {
            "error": "$steps.slack.error_status",
            "throttled": "$steps.slack.throttling_status",
            "message": "$steps.slack.message",
        },
        {"a": canvas(), "b": canvas()},
        {"image": images, "token": TOKEN, "report": "a,b\n1,2\n"},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "token"},
            {"type": "WorkflowParameter", "name": "report"},
        ],
        context=RunContext(models=MODELS, sinks=sinks),
    )


def test_posts_the_message(slack: ProviderServer) -> None:
    slack.reply_json({"ok": True, "channel": "C0123", "ts": "1700000000.0001"})
    [result] = _notify(environment(slack_api_url=f"{slack.url}/api/"))
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent successfully",
    }
    [request] = slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"channel": "C0123", "text": "Seen 2 objects"}


def test_attachments_go_through_the_external_upload(slack: ProviderServer) -> None:
    slack.reply_json({"ok": True, "upload_url": f"{slack.url}/upload/F1", "file_id": "F1"})
    slack.replies.append((200, "text/plain", b"OK - 8"))
    slack.reply_json({"ok": True, "files": [{"id": "F1"}]})
    [result] = _notify(
        environment(slack_api_url=slack.url), attachments={"report.csv": "$inputs.report"}
    )
    assert result["error"] is False, result
    ask, upload, complete = slack.requests
    assert ask.path == "/files.getUploadURLExternal"
    assert _form(ask.body) == {"filename": ["report.csv"], "length": ["8"]}
    assert (upload.path, upload.body) == ("/upload/F1", b"a,b\n1,2\n")
    assert complete.path == "/files.completeUploadExternal"
    form = _form(complete.body)
    assert json.loads(form["files"][0]) == [{"id": "F1", "title": "report.csv"}]
    assert (form["channel_id"], form["initial_comment"]) == (["C0123"], ["Seen 2 objects"])
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in (ask, complete))


def test_slack_refusals_and_the_url_rules_are_reported(slack: ProviderServer) -> None:
    slack.reply_json({"ok": False, "error": "channel_not_found"})
    [refused] = _notify(environment(slack_api_url=slack.url))
    assert refused == {
        "error": True,
        "throttled": False,
        "message": "Failed to send Slack notification. Internal error details: channel_not_found",
    }
    [guarded] = _notify(environment(slack_api_url=slack.url, loopback=False))
    assert guarded["error"] is True
    assert "Slack API URL host '127.0.0.1' resolves to a non-public address" in guarded["message"]
    assert len(slack.requests) == 1


def test_cooldown_switches_and_background(slack: ProviderServer) -> None:
    sinks = environment(slack_api_url=slack.url)
    for _ in range(3):
        slack.reply_json({"ok": True})
    results = _notify(sinks, ["a", "b"])
    assert [(r["error"], r["throttled"]) for r in results] == [(False, False), (False, True)]
    assert _notify(sinks, disable_sink=True)[0]["message"] == (
        "Sink was disabled by parameter `disable_sink`"
    )
    off = environment(slack_api_url=slack.url, disabled=True)
    assert _notify(off)[0]["message"] == "Sink was disabled by workflow execution policy"
    assert _notify(environment(slack_api_url=slack.url, allow_egress=False))[0]["error"] is True
    assert len(slack.requests) == 1
    [background] = _notify(sinks, fire_and_forget=True)
    assert background["message"] == "Notification sent in the background task"
    assert wait_for(lambda: len(slack.requests) == 2)


@pytest.mark.parametrize(
    "cooldown",
    [pytest.param(-1, id="negative"), pytest.param(901, id="past-the-cache")],
)
def test_cooldown_is_bounded_as_in_the_reference(slack: ProviderServer, cooldown: int) -> None:
    with pytest.raises(WorkflowDefinitionError, match="cooldown_seconds"):
        _notify(environment(slack_api_url=slack.url), cooldown_seconds=cooldown)
    assert slack.requests == []


def test_a_dropped_connection_is_tried_once_more() -> None:
    """As slack_sdk's default client: the first connection is closed without an answer, the
    second gets Slack's; a third drop in a row is reported."""
    listener = socket.create_server(("127.0.0.1", 0))
    answer = json.dumps({"ok": True}).encode()
    seen: list[bytes] = []

    def serve(drops: int, answers: int) -> None:
        for _ in range(drops):
            connection, _address = listener.accept()
            connection.recv(65536)
            connection.close()
        for _ in range(answers):
            connection, _address = listener.accept()
            seen.append(connection.recv(65536))
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            connection.close()

    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        thread = threading.Thread(target=serve, args=(1, 1), daemon=True)
        thread.start()
        assert _notify(environment(slack_api_url=url))[0]["error"] is False
        thread.join(5)
        assert len(seen) == 1
        assert seen[0].startswith(b"POST /chat.postMessage")
        thread = threading.Thread(target=serve, args=(2, 0), daemon=True)
        thread.start()
        failed = _notify(environment(slack_api_url=url))[0]
        thread.join(5)
        assert failed["error"] is True
        assert failed["message"].startswith("Failed to send Slack notification.")
    finally:
        listener.close()
