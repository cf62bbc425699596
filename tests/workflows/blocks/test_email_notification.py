"""``email_notification`` v1 / v2 against a real SMTPS server (aiosmtpd on 127.0.0.1, TLS with
a test certificate): what arrives (headers, envelope, body, attachments, inline images), login
and certificate failures, the URL rules for the mail server, v2's managed relay, cooldowns and
the sink switches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sink_environment import environment, wait_for
from tests.support.smtp import PASSWORD, USER, SmtpServer, smtp_server
from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.config import EmailRelay
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunContext
from visionflow.workflows.errors import WorkflowDefinitionError

MODELS = ScriptedModels({"m/1": lambda image: boxes([[0, 0, 10, 10], [5, 5, 20, 20]])})
IMAGES = {"a": canvas(value=40), "b": canvas(value=80)}
OUTPUTS = {
    "error": "$steps.mail.error_status",
    "throttled": "$steps.mail.throttling_status",
    "message": "$steps.mail.message",
}
DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "report"},
    {"type": "WorkflowParameter", "name": "password"},
]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as server:
        yield server


def _email(
    sinks: SinkEnvironment | None,
    server: SmtpServer,
    version: str = "v1",
    images: list[str] | str = "a",
    **fields: Any,
) -> list[dict[str, Any]]:
    smtp_fields = {
        "smtp_server": server.host,
        "smtp_port": server.port,
        "sender_email": USER,
        "sender_email_password": "$inputs.password",
    }
    if version == "v2":
        smtp_fields["email_provider"] = "Custom SMTP"
    return run(
        [
            model_step("det", "m/1"),
            step(
                f"email_notification@{version}",
                "mail",
                **{
                    "subject": "Workflow alert",
                    "receiver_email": "ops@example.com",
                    "message": "Detected {{ $parameters.count }} objects: {{$parameters.classes}}",
                    "message_parameters": {
                        "count": "$steps.det.predictions",
                        "classes": "$steps.det.predictions",
                    },
                    "message_parameters_operations": {
                        "count": [{"type": "SequenceLength"}],
                        "classes": [
                            {"type": "DetectionsPropertyExtract", "property_name": "class_name"}
                        ],
                    },
                    **smtp_fields,
                    "fire_and_forget": False,
                    **fields,
                },
            ),
        ],
        OUTPUTS,
        IMAGES,
        {"image": images, "report": "a,b\n1,2\n", "password": PASSWORD},
        declared=DECLARED,
        context=RunContext(models=MODELS, sinks=sinks),
    )


def test_v1_delivers_text_with_attachments_to_every_recipient(smtp: SmtpServer) -> None:
    [result] = _email(
        environment(smtp_ca_file=smtp.ca_file),
        smtp,
        cc_receiver_email=["lead@example.com"],
        bcc_receiver_email="audit@example.com",
        attachments={"report.csv": "$inputs.report"},
    )
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent successfully",
    }
    [received] = smtp.received
    assert received.sender == USER
    assert received.recipients == ["ops@example.com", "lead@example.com", "audit@example.com"]
    mail = received.message
    assert (mail["Subject"], mail["From"], mail["To"], mail["Cc"]) == (
        "Workflow alert",
        USER,
        "ops@example.com",
        "lead@example.com",
    )
    assert mail["Bcc"] is None  # the envelope has it; the headers do not show it
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Detected 2 objects: ['a', 'a']"
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_content() == b"a,b\n1,2\n"


def test_v2_custom_smtp_sends_html_with_inline_and_attached_images(smtp: SmtpServer) -> None:
    [result] = _email(
        environment(smtp_ca_file=smtp.ca_file),
        smtp,
        "v2",
        message="<b>{{ $parameters.count }}</b> seen\n{{ $parameters.frame }}",
        message_parameters={"count": "<none>", "frame": "$inputs.image"},
        message_parameters_operations={},
        attachments={"snapshot": "$inputs.image", "report.csv": "$inputs.report"},
    )
    assert result["error"] is False, result
    mail = smtp.received[0].message
    html = mail.get_body(("html",))
    assert html is not None
    text = html.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert "<b>&lt;none&gt;</b> seen<br>\n" in text  # parameters escaped, the template not
    assert '<img src="cid:image_frame" alt="frame"' in text
    inline = [p for p in mail.walk() if p["Content-ID"] == "<image_frame>"]
    assert len(inline) == 1
    assert inline[0].get_content_type() == "image/jpeg"
    assert inline[0].get_content()[:2] == b"\xff\xd8"
    files = {p.get_filename(): p.get_content() for p in mail.iter_attachments()}
    assert set(files) == {"snapshot.jpg", "report.csv"}
    assert files["snapshot.jpg"][:2] == b"\xff\xd8"
    assert files["report.csv"] == b"a,b\n1,2\n"


def test_v2_managed_relay_cannot_work_self_hosted(smtp: SmtpServer) -> None:
    managed = {"email_provider": "Roboflow Managed API Key"}
    [result] = _email(environment(smtp_ca_file=smtp.ca_file), smtp, "v2", **managed)
    assert result["error"] is True
    assert "Roboflow platform" in result["message"]
    assert "'Custom SMTP'" in result["message"]
    [missing] = _email(
        environment(smtp_ca_file=smtp.ca_file), smtp, "v2", sender_email_password=None
    )
    assert missing == {
        "error": True,
        "throttled": False,
        "message": "Custom SMTP requires sender_email, smtp_server, and sender_email_password",
    }
    assert smtp.received == []


@pytest.mark.parametrize(
    ("sinks_options", "fields", "expected"),
    [
        pytest.param({}, {"sender_email_password": "wrong"}, "535", id="wrong-password"),
        pytest.param({"smtp_ca_file": None}, {}, "CERTIFICATE_VERIFY_FAILED", id="untrusted-cert"),
        pytest.param(
            {"loopback": False},
            {},
            "SMTP server host '127.0.0.1' resolves to a non-public address",
            id="loopback-refused",
        ),
    ],
)
def test_failures_are_reported_in_the_outputs(
    smtp: SmtpServer, sinks_options: dict[str, Any], fields: dict[str, Any], expected: str
) -> None:
    options = {"smtp_ca_file": smtp.ca_file, **sinks_options}
    [result] = _email(environment(**options), smtp, **fields)
    assert result["error"] is True
    assert result["message"].startswith("Failed to send e-mail. Internal error details: ")
    assert expected in result["message"]
    assert smtp.received == []


def test_cooldown_within_a_run_and_the_switches(smtp: SmtpServer) -> None:
    sinks = environment(smtp_ca_file=smtp.ca_file)
    results = _email(sinks, smtp, images=["a", "b"])
    assert [(r["error"], r["throttled"]) for r in results] == [(False, False), (False, True)]
    assert results[1]["message"] == "Sink cooldown applies"
    assert len(smtp.received) == 1
    assert [r["throttled"] for r in _email(sinks, smtp, images=["a", "b"], cooldown_seconds=0)] == [
        False,
        False,
    ]
    assert len(smtp.received) == 3
    assert _email(sinks, smtp, disable_sink=True)[0]["message"] == (
        "Sink was disabled by parameter `disable_sink`"
    )
    off = environment(smtp_ca_file=smtp.ca_file, disabled=True)
    assert _email(off, smtp)[0]["message"] == "Sink was disabled by workflow execution policy"
    no_egress = _email(environment(smtp_ca_file=smtp.ca_file, allow_egress=False), smtp)[0]
    assert no_egress["error"] is True
    assert "VISIONFLOW_WORKFLOWS_ALLOW_EGRESS=false" in no_egress["message"]
    assert "no sinks configured" in _email(None, smtp)[0]["message"]
    assert len(smtp.received) == 3


def test_fire_and_forget_delivers_in_the_background(smtp: SmtpServer) -> None:
    [result] = _email(environment(smtp_ca_file=smtp.ca_file), smtp, fire_and_forget=True)
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent in the background task",
    }
    assert wait_for(lambda: len(smtp.received) == 1)


@pytest.mark.parametrize(
    "receivers",
    [pytest.param([], id="empty"), pytest.param(["a@example.com", 3], id="not-an-address")],
)
def test_receivers_must_be_addresses(smtp: SmtpServer, receivers: list[Any]) -> None:
    with pytest.raises(WorkflowDefinitionError):
        _email(environment(smtp_ca_file=smtp.ca_file), smtp, receiver_email=receivers)
    assert smtp.received == []


def test_v2_managed_mode_goes_through_the_operators_relay(smtp: SmtpServer) -> None:
    """VISIONFLOW_WORKFLOWS_EMAIL_RELAY stands in for the Roboflow relay; the operator's server is
    trusted (loopback refused for workflow-named servers here, yet the relay is reached)."""
    relay = EmailRelay(smtp.host, smtp.port, USER, PASSWORD, "alerts@relay.example")
    sinks = environment(smtp_ca_file=smtp.ca_file, email_relay=relay, loopback=False)
    [result] = _email(
        sinks,
        smtp,
        "v2",
        email_provider="Roboflow Managed API Key",
        smtp_server=None,
        sender_email=None,
        sender_email_password=None,
    )
    assert result == {
        "error": False,
        "throttled": False,
        "message": "Notification sent successfully",
    }
    [received] = smtp.received
    assert (received.sender, received.message["From"]) == (USER, "alerts@relay.example")
    html = received.message.get_body(("html",))
    assert html is not None
    assert "Detected 2 objects: [&#x27;a&#x27;, &#x27;a&#x27;]" in html.get_content()
    custom = _email(sinks, smtp, "v2")[0]  # the workflow's own server still passes the guard
    assert "non-public address" in custom["message"]
