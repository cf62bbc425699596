"""``mqtt_writer_sink`` v1 / v2 against real Mosquitto brokers: the machine's on 127.0.0.1:1883
(what a subscriber receives: topic, payload, retain, QoS 1 acknowledged), and a private one the
test starts with a password listener (refused CONNACK) and a TLS listener (certificate from the
sink folder, untrusted certificate refused); the reference's input checks, the URL rules,
``fail_fast``, v2's ``fire_and_forget``, and the manifests as the reference's source declares."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mqtt import PASSWORD, USER, Broker, private_broker, subscriber
from tests.support.server import free_port
from tests.support.sink_environment import environment
from tests.workflows.blocks.helpers import ScriptedModels, canvas, run
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunBudget, RunContext
from visionflow.workflows.block import StepInputs
from visionflow.workflows.blocks.mqtt_writer import MqttWriterSinkV1, MqttWriterSinkV2
from visionflow.workflows.errors import StepExecutionError, WorkflowDefinitionError
from visionflow.workflows.manifest import field_references


@pytest.fixture
def topic() -> str:
    return f"visionflow/test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with private_broker(tmp_path) as started:
        yield started


def _publish(
    sinks: SinkEnvironment | None, topic: str, version: str = "v1", **fields: Any
) -> dict[str, Any]:
    [result] = run(
        [
            {
                "type": f"roboflow_enterprise/mqtt_writer_sink@{version}",
                "name": "mqtt",
                "host": "127.0.0.1",
                "port": 1883,
                "topic": topic,
                "message": "$inputs.payload",
                "timeout": 2.0,
                **fields,
            }
        ],
        {"error": "$steps.mqtt.error_status", "message": "$steps.mqtt.message"},
        {"x": canvas()},
        {"image": "x", "payload": '{"count": 2}'},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "payload"},
        ],
        context=RunContext(models=ScriptedModels(), sinks=sinks),
    )
    return result


@pytest.mark.parametrize(
    ("qos", "retain"), [pytest.param(0, False, id="qos0"), pytest.param(1, True, id="qos1-retain")]
)
def test_publishes_to_the_local_mosquitto(topic: str, qos: int, retain: bool) -> None:
    with subscriber(topic) as seen:
        result = _publish(environment(), topic, qos=qos, retain=retain)
        assert result == {"error": False, "message": "Message published successfully"}
        assert seen.wait(1)
    assert seen.received[0][:2] == (topic, b'{"count": 2}')
    if retain:  # clear the retained message again
        _publish(environment(), topic, message="", retain=True)


def test_the_alias_and_v2_publish_too(topic: str) -> None:
    with subscriber(topic) as seen:
        assert _publish(environment(), topic, "v2")["error"] is False
        [aliased] = run(
            [
                {
                    "type": "mqtt_writer_sink@v1",
                    "name": "mqtt",
                    "host": "127.0.0.1",
                    "port": 1883,
                    "topic": topic,
                    "message": "hi",
                }
            ],
            {"error": "$steps.mqtt.error_status"},
            {"image": canvas()},
            context=RunContext(models=ScriptedModels(), sinks=environment()),
        )
        assert aliased == {"error": False}
        assert seen.wait(2)
    assert [payload for _topic, payload, _retain in seen.received] == [b'{"count": 2}', b"hi"]


def test_credentials_are_checked_by_the_broker(broker: Broker, topic: str) -> None:
    refused = _publish(environment(), topic, port=broker.auth_port, username=USER, password="no")
    assert refused["error"] is True
    assert refused["message"] == (
        "MQTT broker refused the connection: Connection Refused: not authorised. (code 5). "
        "Check username and password."
    )
    with subscriber(topic, broker.auth_port, username=USER, password=PASSWORD) as seen:
        ok = _publish(environment(), topic, port=broker.auth_port, username=USER, password=PASSWORD)
        assert ok["error"] is False, ok
        assert seen.wait(1)


def test_tls_with_a_certificate_from_the_sink_folder(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    folder = tmp_path / "sinks"
    (folder / "certs").mkdir(parents=True)
    shutil.copy(broker.ca_file, folder / "certs" / "broker-ca.pem")
    sinks = environment(file_root=folder)
    tls = {"port": broker.tls_port, "encryption": "tls"}
    trusted = _publish(sinks, topic, ca_certificate_path="certs/broker-ca.pem", **tls)
    assert trusted == {"error": False, "message": "Message published successfully"}
    untrusted = _publish(sinks, topic, **tls)
    assert untrusted["error"] is True
    assert "TLS is enabled" in untrusted["message"]
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted["message"]
    outside = _publish(sinks, topic, ca_certificate_path=str(broker.ca_file), **tls)
    assert outside == {
        "error": True,
        "message": "ca_certificate_path must lie under the sink folder "
        "(VISIONFLOW_WORKFLOWS_SINK_FOLDER)",
    }
    no_folder = _publish(environment(), topic, ca_certificate_path="certs/broker-ca.pem", **tls)
    assert "VISIONFLOW_WORKFLOWS_SINK_FOLDER" in no_folder["message"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"port": "$inputs.payload"},
            "Invalid port: '{\"count\": 2}'. Port must be an integer between 1 and 65535.",
            id="port",
        ),
        pytest.param({"qos": 3}, "Invalid qos: 3. QoS must be 0, 1 or 2.", id="qos"),
        pytest.param(
            {"password": "x"},
            "Password provided without username. Set username to enable MQTT authentication.",
            id="password-alone",
        ),
    ],
)
def test_inputs_are_checked(topic: str, fields: dict[str, Any], expected: str) -> None:
    assert _publish(environment(), topic, **fields) == {"error": True, "message": expected}


def test_unreachable_guarded_and_fail_fast(topic: str) -> None:
    closed = _publish(environment(), topic, port=free_port(), timeout=0.5)
    assert closed["error"] is True
    assert closed["message"].startswith("MQTT broker not connected (")
    guarded = _publish(environment(loopback=False), topic)
    assert "MQTT broker host '127.0.0.1' resolves to a non-public address" in guarded["message"]
    with pytest.raises(StepExecutionError, match="MQTT broker not connected"):
        _publish(environment(), topic, port=free_port(), timeout=0.5, fail_fast=True)


def test_v2_fire_and_forget_and_switches(topic: str) -> None:
    with subscriber(topic) as seen:
        queued = _publish(environment(), topic, "v2", fire_and_forget=True)
        assert queued == {
            "error": False,
            "message": "Message queued for publishing; delivery is not confirmed "
            "(fire_and_forget).",
        }
        assert seen.wait(1)
    off = _publish(environment(disabled=True), topic)
    assert off == {"error": False, "message": "Sink was disabled by workflow execution policy"}
    assert _publish(environment(allow_egress=False), topic)["error"] is True
    with pytest.raises(WorkflowDefinitionError):
        _publish(environment(), topic, "v2", qos=3)


def test_manifests_are_the_references() -> None:
    v1_fields = [
        "host",
        "port",
        "topic",
        "message",
        "qos",
        "retain",
        "timeout",
        "username",
        "password",
        "fail_fast",
        "encryption",
        "ca_certificate_path",
    ]
    v2_fields = [*v1_fields[:10], "fire_and_forget", *v1_fields[10:]]
    for block, fields in ((MqttWriterSinkV1, v1_fields), (MqttWriterSinkV2, v2_fields)):
        manifest = block.manifest
        assert [n for n in manifest.model_fields if n not in ("type", "name")] == fields
        required = {n for n, info in manifest.model_fields.items() if info.is_required()}
        assert required == {"type", "name", "host", "port", "topic", "message"}
        defaults = {n: manifest.model_fields[n].default for n in fields if n not in required}
        assert defaults == {
            "qos": 0,
            "retain": False,
            "timeout": 0.5,
            "username": None,
            "password": None,
            "fail_fast": False,
            "encryption": "none",
            "ca_certificate_path": None,
            **({"fire_and_forget": False} if block is MqttWriterSinkV2 else {}),
        }
        kinds = {n: set(r.kinds or ()) for n, r in field_references(manifest).items()}
        assert kinds == {
            "host": {"string"},
            "port": {"integer"},
            "topic": {"string"},
            "message": {"string"},
            "qos": {"integer"},
            "retain": {"boolean"},
            "timeout": {"float"},
            "username": {"string"},
            "password": {"string"},
            "fail_fast": {"boolean"},
            "ca_certificate_path": {"string"},
            **({"fire_and_forget": {"boolean"}} if block is MqttWriterSinkV2 else {}),
        }
        assert [(o.name, o.kinds) for o in block.outputs] == [
            ("error_status", ("boolean",)),
            ("message", ("string",)),
        ]
    assert MqttWriterSinkV1.aliases == ("mqtt_writer_sink@v1",)
    assert MqttWriterSinkV2.aliases == ()


def test_a_publish_the_step_waits_for_ends_with_the_run(topic: str) -> None:
    """A broker that accepts the connection but never answers: the step gives up when the run's
    time is up, not after ``timeout``."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    accept = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    accept.start()
    step_fields = {"type": MqttWriterSinkV1.type, "name": "mqtt", "host": "127.0.0.1"}
    manifest = MqttWriterSinkV1.manifest.model_validate(
        {
            **step_fields,
            "port": silent.getsockname()[1],
            "topic": topic,
            "message": "x",
            "timeout": 30,
        }
    )
    inputs = StepInputs("mqtt", MqttWriterSinkV1.type, manifest.model_dump())
    context = RunContext(
        models=ScriptedModels(),
        sinks=environment(),
        budget=RunBudget(deadline=time.monotonic() + 0.5),
    )
    started = time.monotonic()
    try:
        result = MqttWriterSinkV1().run(inputs, context)
    finally:
        silent.close()
        for connection in held:
            connection.close()
    assert time.monotonic() - started < 5
    assert result == {
        "error_status": True,
        "message": "MQTT broker not connected (connection was not established within timeout). "
        "Raise 'timeout' if the broker needs longer to connect.",
    }
