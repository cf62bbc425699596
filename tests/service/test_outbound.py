"""The notification and storage sinks through the server (``POST /workflows/run``) with its
settings: Slack at VISIONFLOW_WORKFLOWS_SLACK_API_URL with its cooldown lasting across requests,
an e-mail to a real SMTPS server trusted through VISIONFLOW_WORKFLOWS_SMTP_CA_FILE,
``disable_sinks``; S3 at VISIONFLOW_WORKFLOWS_S3_ENDPOINT_URL (moto), PostgreSQL and Mosquitto on
loopback; and the mail connection itself: pinned to the checked address, refused for non-public
ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from tests.conftest import Tenant
from tests.http.test_workflow_blocks import DETECTOR, IMAGE, step
from tests.support.mqtt import subscriber
from tests.support.provider_server import ProviderServer, provider_server
from tests.support.s3 import s3_server
from tests.support.smtp import PASSWORD, USER, SmtpServer, smtp_server
from visionflow.config import EmailRelay, Settings
from visionflow.errors import UrlNotAllowedError
from visionflow.http.app import create_app
from visionflow.service.outbound import OutboundSettings, send_mail
from visionflow.service.services import Services
from visionflow.service.urls import UrlFetcher
from visionflow.workflows.blocks.outbound import MailDelivery

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


def _workflow(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "slack_token"},
            {"type": "WorkflowParameter", "name": "password"},
        ],
        "steps": [
            DETECTOR,
            step(
                "slack_notification@v1",
                "slack",
                slack_token="$inputs.slack_token",
                channel="C0123",
                message="{{ $parameters.count }} square(s) seen",
                message_parameters={"count": "$steps.det.predictions"},
                message_parameters_operations={"count": [{"type": "SequenceLength"}]},
                cooldown_session_key="camera-1",
                cooldown_seconds=60,
                fire_and_forget=False,
            ),
            step(
                "email_notification@v1",
                "mail",
                subject="Squares",
                sender_email=USER,
                receiver_email=["ops@example.com"],
                message="{{ $parameters.count }} square(s) seen",
                message_parameters={"count": "$steps.det.predictions"},
                message_parameters_operations={"count": [{"type": "SequenceLength"}]},
                smtp_server=smtp.host,
                smtp_port=smtp.port,
                sender_email_password="$inputs.password",
                fire_and_forget=False,
            ),
        ],
        "outputs": [
            {"type": "JsonField", "name": "slack", "selector": "$steps.slack.*"},
            {"type": "JsonField", "name": "mail", "selector": "$steps.mail.*"},
        ],
    }


def test_slack_and_email_through_the_server(
    services: Services, tenant: Tenant, smtp: SmtpServer, slack: ProviderServer
) -> None:
    settings = services.settings.with_overrides(
        url_allow_networks=("127.0.0.1/32",),
        workflows_slack_api_url=slack.url,
        workflows_smtp_ca_file=smtp.ca_file,
    )
    served = Services.build(settings)
    slack.reply_json({"ok": True})
    body = {
        "api_key": tenant.key,
        "inputs": {"image": IMAGE, "slack_token": "xoxb-1", "password": PASSWORD},
        "specification": _workflow(smtp),
    }
    try:
        with TestClient(create_app(served)) as client:
            first = client.post("/workflows/run", json=body)
            second = client.post("/workflows/run", json=body)
            disabled = client.post("/workflows/run", json={**body, "disable_sinks": True})
    finally:
        served.close()
    assert first.status_code == 200, first.text
    [result] = first.json()["outputs"]
    assert result["slack"]["error_status"] is False, result
    assert result["mail"]["error_status"] is False, result
    [request] = slack.requests
    assert request.json == {"channel": "C0123", "text": "1 square(s) seen"}
    assert smtp.received[0].message.get_body(("plain",)).get_content().strip() == (  # type: ignore[union-attr]
        "1 square(s) seen"
    )
    # Slack's cooldown lasts across requests (the reference's cache); the e-mail's one run.
    [again] = second.json()["outputs"]
    assert again["slack"] == {
        "error_status": False,
        "throttling_status": True,
        "message": "Sink cooldown applies",
    }
    assert again["mail"]["message"] == "Notification sent successfully"
    [off] = disabled.json()["outputs"]
    assert off["mail"]["message"] == "Sink was disabled by workflow execution policy"
    assert (len(slack.requests), len(smtp.received)) == (1, 2)


def test_settings_reach_the_sink_environment(settings: Settings) -> None:
    built = Services.build(
        settings.with_overrides(
            workflows_sink_timeout_s=3.0,
            workflows_slack_api_url="https://slack.internal/api/",
            workflows_s3_endpoint_url="http://minio.internal:9000",
            workflows_allow_egress=False,
            workflows_email_relay="smtps://relay%40example.com:pw@mail.internal?from=cams@example.com",
        )
    )
    try:
        environment = built.workflows._sinks(disabled=False)
        assert environment is not None
        assert (environment.timeout_s, environment.allow_egress) == (3.0, False)
        assert environment.api_url("slack") == "https://slack.internal/api"
        assert environment.api_url("twilio") == "https://api.twilio.com"
        assert environment.outbound.s3_endpoint_url == "http://minio.internal:9000"
        assert environment.email_relay == EmailRelay(
            "mail.internal", 465, "relay@example.com", "pw", "cams@example.com"
        )
    finally:
        built.close()


def _delivery(server: SmtpServer, host: str) -> MailDelivery:
    return MailDelivery(
        host, server.port, USER, PASSWORD, ("ops@example.com",), b"Subject: x\r\n\r\nhi\r\n"
    )


def test_the_mail_connection_goes_to_the_checked_address(smtp: SmtpServer) -> None:
    """The name is resolved once, by the guard; the connection goes to that address and the
    certificate is checked against the name (here both 127.0.0.1)."""
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    fetcher = UrlFetcher(Settings(url_allow_networks=("127.0.0.1/32",)), resolver=resolver)
    send_mail(fetcher, _delivery(smtp, "127.0.0.1"), smtp.ca_file)
    assert asked == ["127.0.0.1"]
    assert [r.recipients for r in smtp.received] == [["ops@example.com"]]
    with pytest.raises(UrlNotAllowedError, match=r"SMTP server host '127\.0\.0\.1'"):
        send_mail(UrlFetcher(Settings()), _delivery(smtp, "127.0.0.1"), smtp.ca_file)
    assert OutboundSettings().api_url("slack") == "https://slack.com/api"


def test_storage_sinks_through_the_server(
    services: Services, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3_sink at VISIONFLOW_WORKFLOWS_S3_ENDPOINT_URL (moto), postgresql_sink (PostgreSQL on
    127.0.0.1:5432) and mqtt_writer_sink (Mosquitto on 127.0.0.1:1883) fed by a detector."""
    table = f"sink_{uuid.uuid4().hex[:12]}"
    topic = f"visionflow/test/{uuid.uuid4().hex[:10]}"
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    count = {"count": "$steps.det.predictions"}
    to_count = {"count": [{"type": "SequenceLength"}]}
    workflow = {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "key_id"},
            {"type": "WorkflowParameter", "name": "secret"},
            {"type": "WorkflowParameter", "name": "row"},
        ],
        "steps": [
            DETECTOR,
            step(
                "csv_formatter@v1",
                "csv",
                columns_data=count,
                columns_operations=to_count,
            ),
            step(
                "s3_sink@v1",
                "s3",
                content="$steps.csv.csv_content",
                output_mode="separate_files",
                bucket_name=bucket,
                aws_access_key_id="$inputs.key_id",
                aws_secret_access_key="$inputs.secret",
                aws_region="us-east-1",
            ),
            step(
                "postgresql_sink@v1",
                "pg",
                host="127.0.0.1",
                database="test",
                username="postgres",
                table_name=table,
                # a literal dictionary is data as written (selectors inside it are not resolved,
                # as in the reference): rows from other steps come through a selector
                data="$inputs.row",
                sslmode="disable",
                fire_and_forget=False,
            ),
            {
                "type": "roboflow_enterprise/mqtt_writer_sink@v1",
                "name": "mqtt",
                "host": "127.0.0.1",
                "port": 1883,
                "topic": topic,
                "message": "$steps.csv.csv_content",
                "qos": 1,
                "timeout": 2.0,
            },
        ],
        "outputs": [
            {"type": "JsonField", "name": name, "selector": f"$steps.{name}.*"}
            for name in ("s3", "pg", "mqtt")
        ],
    }
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE TABLE {} (camera text, note text)").format(sql.Identifier(table))
        )
    try:
        with s3_server(monkeypatch) as s3, subscriber(topic) as seen:
            s3.create_bucket(bucket)
            served = Services.build(
                services.settings.with_overrides(
                    url_allow_networks=("127.0.0.1/32",), workflows_s3_endpoint_url=s3.endpoint_url
                )
            )
            try:
                with TestClient(create_app(served)) as client:
                    response = client.post(
                        "/workflows/run",
                        json={
                            "api_key": tenant.key,
                            "inputs": {
                                "image": IMAGE,
                                "key_id": "k",
                                "secret": "s",
                                "row": {"camera": "north", "note": "gate 3"},
                            },
                            "specification": workflow,
                        },
                    )
            finally:
                served.close()
            assert response.status_code == 200, response.text
            [result] = response.json()["outputs"]
            assert [result[n]["error_status"] for n in ("s3", "pg", "mqtt")] == [False] * 3, result
            objects: Any = s3.client()
            [entry] = objects.list_objects_v2(Bucket=bucket)["Contents"]
            body = objects.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            assert body.decode().splitlines()[1].startswith("1,")  # one detection, then time
            assert seen.wait(1)
            assert seen.received[0][1] == body
        with psycopg.connect(POSTGRES) as connection:
            rows = connection.execute(
                sql.SQL("SELECT camera, note FROM {}").format(sql.Identifier(table))
            ).fetchall()
        assert rows == [("north", "gate 3")]
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
