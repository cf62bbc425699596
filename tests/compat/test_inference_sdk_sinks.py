"""The official ``inference-sdk`` 1.8.3, unchanged, runs a workflow with notification sinks on a
visionflow server in a subprocess configured from the environment
(``VISIONFLOW_WORKFLOWS_SLACK_API_URL``, ``VISIONFLOW_WORKFLOWS_TWILIO_API_URL``,
``VISIONFLOW_WORKFLOWS_SMTP_CA_FILE``, ``VISIONFLOW_URL_ALLOW_NETWORKS``): the Slack, Twilio and
SMTPS servers on loopback receive what the workflow sent."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.conftest import jpeg_bytes
from tests.support.provider_server import provider_server
from tests.support.sdk import run_sdk
from tests.support.server import serve
from tests.support.smtp import PASSWORD, USER, smtp_server
from visionflow.config import Settings
from visionflow.service.services import Services

pytestmark = pytest.mark.slow

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
api_url, api_key, spec_path, image_path, password = sys.argv[1:6]
client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
with open(spec_path) as spec:
    specification = json.load(spec)
outputs = client.run_workflow(
    specification=specification,
    images={"image": image_path},
    parameters={"site": "north gate", "password": password},
)
print(json.dumps(outputs))
"""


def _specification(smtp_host: str, smtp_port: int) -> dict[str, object]:
    message = "Motion at {{ $parameters.site }}"
    parameters = {"site": "$inputs.site"}
    return {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "site"},
            {"type": "WorkflowParameter", "name": "password"},
        ],
        "steps": [
            {
                "type": "roboflow_core/slack_notification@v1",
                "name": "slack",
                "slack_token": "xoxb-sdk",
                "channel": "C42",
                "message": message,
                "message_parameters": parameters,
                "cooldown_session_key": "sdk",
                "fire_and_forget": False,
            },
            {
                "type": "roboflow_core/twilio_sms_notification@v2",
                "name": "sms",
                "sms_provider": "Custom Twilio",
                "twilio_account_sid": "AC42",
                "twilio_auth_token": "token",
                "sender_number": "+15550001111",
                "receiver_number": "+15552223333",
                "message": message,
                "message_parameters": parameters,
                "fire_and_forget": False,
            },
            {
                "type": "roboflow_core/email_notification@v2",
                "name": "mail",
                "email_provider": "Custom SMTP",
                "subject": "Motion",
                "receiver_email": "ops@example.com",
                "message": message,
                "message_parameters": parameters,
                "attachments": {"frame.jpg": "$inputs.image"},
                "smtp_server": smtp_host,
                "smtp_port": smtp_port,
                "sender_email": USER,
                "sender_email_password": "$inputs.password",
                "fire_and_forget": False,
            },
        ],
        "outputs": [
            {"type": "JsonField", "name": "slack", "selector": "$steps.slack.message"},
            {"type": "JsonField", "name": "sms", "selector": "$steps.sms.message"},
            {"type": "JsonField", "name": "mail", "selector": "$steps.mail.message"},
        ],
    }


def test_the_sdk_runs_a_workflow_with_sinks(sdk_python: Path, tmp_path: Path) -> None:
    image = tmp_path / "frame.jpg"
    image.write_bytes(jpeg_bytes())
    with (
        provider_server() as slack,
        provider_server() as twilio,
        smtp_server(tmp_path) as smtp,
    ):
        slack.reply_json({"ok": True})
        twilio.reply_json({"sid": "SM1"}, status=201)
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps(_specification(smtp.host, smtp.port)))
        env = {
            "VISIONFLOW_URL_ALLOW_NETWORKS": "127.0.0.1/32",
            "VISIONFLOW_WORKFLOWS_SLACK_API_URL": slack.url,
            "VISIONFLOW_WORKFLOWS_TWILIO_API_URL": twilio.url,
            "VISIONFLOW_WORKFLOWS_SMTP_CA_FILE": str(smtp.ca_file),
        }
        home = tmp_path / "home"
        services = Services.build(Settings(home=home, register_demo_models=False))
        try:
            services.registry.create_workspace("acme")
            _record, key = services.registry.create_api_key("acme", "sdk")
        finally:
            services.close()
        with serve(home, env) as server:
            [outputs] = run_sdk(sdk_python, DRIVER, server.url, key, spec, image, PASSWORD)
    assert outputs == {
        "slack": "Notification sent successfully",
        "sms": "Notification sent successfully",
        "mail": "Notification sent successfully",
    }
    assert slack.requests[0].json == {"channel": "C42", "text": "Motion at north gate"}
    sms = parse_qs(twilio.requests[0].body.decode())
    assert (twilio.requests[0].path, sms["Body"]) == (
        "/2010-04-01/Accounts/AC42/Messages.json",
        ["Motion at north gate"],
    )
    mail = smtp.received[0].message
    html = mail.get_body(("html",))
    assert html is not None
    assert "Motion at north gate" in html.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "frame.jpg"
    assert attachment.get_content()[:2] == b"\xff\xd8"
