"""``twilio_sms_notification`` v1 / v2 against a local HTTP server speaking Twilio's REST API:
the Messages request (path, basic auth, form fields, media URLs), truncation, Twilio's error
answers, v2's managed relay and image media, the URL rules and the switches."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.provider_server import ProviderServer, provider_server
from tests.support.sink_environment import environment
from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.config import SmsRelay
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunContext
from visionflow.workflows.errors import InvalidInputTypeError, WorkflowDefinitionError

MODELS = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 10, 10], [5, 5, 20, 20]])})
SID, TOKEN = "AC0123456789abcdef", "auth-token"
CREATED = {"sid": "SM1", "status": "queued"}


@pytest.fixture
def twilio() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


def _sms(sinks: SinkEnvironment | None, version: str = "v1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "twilio_account_sid": SID,
        "twilio_auth_token": "$inputs.token",
        "sender_number": "+15550001111",
        "receiver_number": "+15552223333",
        "message": "Seen {{ $parameters.count }} objects",
        "message_parameters": {"count": "$steps.det.predictions"},
        "message_parameters_operations": {"count": [{"type": "SequenceLength"}]},
        "fire_and_forget": False,
    }
    if version == "v1":
        base["cooldown_session_key"] = "session-1"
    else:
        base["sms_provider"] = "Custom Twilio"
    [result] = run(
        [
            model_step("det", "m/1"),
            step(f"twilio_sms_notification@{version}", "sms", **{**base, **fields}),
        ],
        {
            "error": "$steps.sms.error_status",
            "throttled": "$steps.sms.throttling_status",
            "message": "$steps.sms.message",
        },
        {"a": canvas()},
        {"image": "a", "token": TOKEN},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "token"},
        ],
        context=RunContext(models=MODELS, sinks=sinks),
    )
    return result


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode(), keep_blank_values=True)


def test_v1_creates_a_message(twilio: ProviderServer) -> None:
    twilio.reply_json(CREATED, status=201)
    result = _sms(environment(twilio_api_url=twilio.url))
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent successfully",
    }
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Authorization"] == (
        "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert _form(request.body) == {
        "To": ["+15552223333"],
        "From": ["+15550001111"],
        "Body": ["Seen 2 objects"],
    }


def test_v1_truncates_to_the_length_limit(twilio: ProviderServer) -> None:
    twilio.reply_json(CREATED, status=201)
    result = _sms(environment(twilio_api_url=twilio.url), message="x" * 40, length_limit=20)
    assert result["error"] is False
    body = _form(twilio.requests[0].body)["Body"][0]
    assert body == "x" * 14 + " [...]"
    assert len(body) == 20


def test_twilio_errors_are_reported(twilio: ProviderServer) -> None:
    twilio.reply_json(
        {
            "code": 21211,
            "message": "The 'To' number +1555 is not a valid phone number.",
            "status": 400,
        },
        status=400,
    )
    result = _sms(environment(twilio_api_url=twilio.url))
    assert result == {
        "error": True,
        "throttled": False,
        "message": "Failed to send Twilio SMS notification. Internal error details: HTTP 400 "
        "error: Unable to create record: The 'To' number +1555 is not a valid phone number.",
    }
    guarded = _sms(environment(twilio_api_url=twilio.url, loopback=False))
    assert "Twilio API URL host '127.0.0.1' resolves to a non-public address" in guarded["message"]
    assert len(twilio.requests) == 1


def test_v2_custom_twilio_sends_media_urls(twilio: ProviderServer) -> None:
    twilio.reply_json(CREATED, status=201)
    media = ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    result = _sms(environment(twilio_api_url=twilio.url), "v2", media_url=media)
    assert result["error"] is False, result
    form = _form(twilio.requests[0].body)
    assert form["MediaUrl"] == media
    assert form["Body"] == ["Seen 2 objects"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"sms_provider": "Roboflow Managed API Key"}, "Roboflow platform", id="managed"
        ),
        pytest.param(
            {"sender_number": None},
            "Custom Twilio requires twilio_account_sid, twilio_auth_token, and sender_number",
            id="incomplete",
        ),
        pytest.param({"media_url": "$inputs.image"}, "public file host", id="image-media"),
    ],
)
def test_v2_what_a_self_hosted_server_cannot_send(
    twilio: ProviderServer, fields: dict[str, Any], expected: str
) -> None:
    result = _sms(environment(twilio_api_url=twilio.url), "v2", **fields)
    assert result["error"] is True
    assert expected in result["message"]
    assert twilio.requests == []


def test_switches_and_bad_fields(twilio: ProviderServer) -> None:
    off = environment(twilio_api_url=twilio.url, disabled=True)
    assert _sms(off)["message"] == "Sink was disabled by workflow execution policy"
    assert _sms(environment(twilio_api_url=twilio.url), disable_sink=True)["error"] is False
    with pytest.raises(InvalidInputTypeError, match="letters and digits"):
        _sms(environment(twilio_api_url=twilio.url), twilio_account_sid="AC1/../../x")
    with pytest.raises(WorkflowDefinitionError, match="Length limit"):
        _sms(environment(twilio_api_url=twilio.url), length_limit=0)
    assert twilio.requests == []


def test_v2_managed_mode_uses_the_operators_twilio_account(twilio: ProviderServer) -> None:
    twilio.reply_json(CREATED, status=201)
    relay = SmsRelay("ACrelay42", "relay-token", "+15559990000")
    result = _sms(
        environment(twilio_api_url=twilio.url, sms_relay=relay),
        "v2",
        sms_provider="Roboflow Managed API Key",
        twilio_account_sid=None,
        twilio_auth_token=None,
        sender_number=None,
    )
    assert result["error"] is False, result
    [request] = twilio.requests
    assert request.path == "/2010-04-01/Accounts/ACrelay42/Messages.json"
    assert request.headers["Authorization"] == (
        "Basic " + base64.b64encode(b"ACrelay42:relay-token").decode()
    )
    assert _form(request.body)["From"] == ["+15559990000"]
