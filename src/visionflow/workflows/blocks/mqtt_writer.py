"""``mqtt_writer_sink`` v1 and v2: ``message`` published to ``topic`` on an MQTT broker, the
reference's enterprise sink (``roboflow_enterprise/...``; not in inference 1.8.3's block list,
its manifests follow the reference's source). The broker passes the server's URL rules (see
``service.mqtt``); each run connects, publishes and disconnects within ``timeout`` per wait.

Failures are ``error_status`` with the reference's messages, or with ``fail_fast`` the step's
error. ``ca_certificate_path`` (TLS) is a server-side file: the reference reads it only with
file-system access allowed; here it must lie under the sink folder
(``VISIONFLOW_WORKFLOWS_SINK_FOLDER``). v2 adds ``fire_and_forget`` (publish from the sink pool,
answer at once) and bounds ``qos`` in its manifest."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.outbound import MqttPublish, Outbound, outbound_of
from visionflow.workflows.blocks.sinks import EGRESS_OFF, confined_directory
from visionflow.workflows.manifest import (
    BooleanSelector,
    FloatSelector,
    IntegerSelector,
    StepManifest,
    StringSelector,
)

__all__ = ["MQTT_BLOCKS", "MqttWriterSinkV1", "MqttWriterSinkV2"]

log = logging.getLogger("visionflow.workflows")

Port = Annotated[int, Field(ge=1, le=65535)]
Timeout = Annotated[float, Field(gt=0, allow_inf_nan=False)]
QUEUED = "Message queued for publishing; delivery is not confirmed (fire_and_forget)."


class MqttWriterV1Manifest(StepManifest):
    host: StringSelector | str
    port: Port | IntegerSelector
    topic: StringSelector | str
    message: StringSelector | str
    qos: int | IntegerSelector = 0
    retain: bool | BooleanSelector = False
    timeout: Timeout | FloatSelector = 0.5
    username: StringSelector | str = None  # type: ignore[assignment]  # the reference's
    password: StringSelector | str = None  # type: ignore[assignment]
    fail_fast: bool | BooleanSelector = False
    encryption: Literal["none", "tls"] = "none"
    ca_certificate_path: StringSelector | str | None = None


class MqttWriterV2Manifest(StepManifest):
    host: StringSelector | str
    port: Port | IntegerSelector
    topic: StringSelector | str
    message: StringSelector | str
    qos: Annotated[int, Field(ge=0, le=2)] | IntegerSelector = 0
    retain: bool | BooleanSelector = False
    timeout: Timeout | FloatSelector = 0.5
    username: StringSelector | str | None = None
    password: StringSelector | str | None = None
    fail_fast: bool | BooleanSelector = False
    fire_and_forget: bool | BooleanSelector = False
    encryption: Literal["none", "tls"] = "none"
    ca_certificate_path: StringSelector | str | None = None


def _integer(value: Any) -> int | None:
    """A whole number from a selector's value (JSON may give ``3.0`` or ``"3"``), else None."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _message(inputs: StepInputs, sinks: Outbound) -> MqttPublish:
    """The publish the inputs ask for; ``ValueError`` with the reference's message."""
    timeout = inputs.get("timeout")
    try:
        seconds = float(timeout)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 < seconds <= 3600:
        raise ValueError(
            f"Invalid timeout: {timeout!r}. Timeout must be a positive finite number of seconds "
            "within the platform limit."
        )
    port = _integer(inputs.get("port"))
    if port is None or not 1 <= port <= 65535:
        raise ValueError(
            f"Invalid port: {inputs.get('port')!r}. Port must be an integer between 1 and 65535."
        )
    qos = _integer(inputs.get("qos"))
    if qos not in (0, 1, 2):
        raise ValueError(f"Invalid qos: {inputs.get('qos')!r}. QoS must be 0, 1 or 2.")
    username, password = inputs.get("username"), inputs.get("password")
    if password is not None and username is None:
        raise ValueError(
            "Password provided without username. Set username to enable MQTT authentication."
        )
    for name in ("host", "topic", "message"):
        if not isinstance(inputs.get(name), str):
            raise ValueError(f"Invalid {name}: {inputs.get(name)!r}. Must be a string.")
    tls = inputs["encryption"] == "tls"
    return MqttPublish(
        host=inputs.as_str("host"),
        port=port,
        topic=inputs.as_str("topic"),
        payload=inputs.as_str("message"),
        qos=qos,
        retain=bool(inputs.get("retain")),
        username=None if username is None else str(username),
        password=None if password is None else str(password),
        tls=tls,
        ca_file=_ca_file(inputs, sinks) if tls else None,
        timeout_s=seconds,
    )


def _ca_file(inputs: StepInputs, sinks: Outbound) -> str | None:
    path = inputs.get("ca_certificate_path") or None
    if path is None:
        return None
    if not isinstance(path, str):
        raise ValueError(f"Invalid ca_certificate_path: {path!r}. Must be a path.")
    if sinks.file_root is None:
        raise ValueError(
            "ca_certificate_path needs access to the local file system: set "
            "VISIONFLOW_WORKFLOWS_SINK_FOLDER and keep the certificate under it."
        )
    try:
        folder = confined_directory(sinks.file_root, str(Path(path).parent))
    except ValueError:
        raise ValueError(
            "ca_certificate_path must lie under the sink folder (VISIONFLOW_WORKFLOWS_SINK_FOLDER)"
        ) from None
    found = folder / Path(path).name
    if not found.is_file() or found.is_symlink():
        raise ValueError(
            f"TLS could not be configured: ca_certificate_path {path!r} is not a readable file."
        )
    return str(found)


def _failed(message: str, fail_fast: bool) -> StepResult:
    log.warning("MQTT Writer failure: %s", message)
    if fail_fast:
        raise RuntimeError(message)
    return {"error_status": True, "message": message}


def _publish(sinks: Outbound, message: MqttPublish, fail_fast: bool) -> StepResult:
    try:
        sinks.publish_mqtt(message)
    except Exception as exc:  # the broker's, the guard's or the transport's refusal
        return _failed(str(exc), fail_fast)
    return {"error_status": False, "message": "Message published successfully"}


class _MqttWriter(Block):
    concurrent = True

    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("message", (k.STRING,)),
    )
    _v2 = False

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        sinks = outbound_of(context)
        return [self._one(sinks, inputs, context) for inputs in batch]

    def _one(self, sinks: Outbound | None, inputs: StepInputs, context: RunContext) -> StepResult:
        if sinks is not None and sinks.disabled:
            return {
                "error_status": False,
                "message": "Sink was disabled by workflow execution policy",
            }
        if sinks is None:
            return {
                "error_status": False,
                "message": "Sink skipped: this server has no sinks configured",
            }
        fail_fast = inputs.get("fail_fast") is True
        if not sinks.allow_egress:
            return _failed(EGRESS_OFF, fail_fast)
        try:
            message = _message(inputs, sinks)
        except ValueError as exc:
            return _failed(str(exc), fail_fast)
        if self._v2:
            background = inputs.get("fire_and_forget")
            if not isinstance(background, bool):
                return _failed(
                    f"Invalid fire_and_forget: {background!r}. Must be a boolean.", fail_fast
                )
            if background:
                sinks.submit(lambda: _publish(sinks, message, fail_fast=False))
                return {"error_status": False, "message": QUEUED}
        # a publish the step waits for ends with the run, whatever ``timeout`` says
        remaining = context.budget.remaining_s()
        if remaining is not None and remaining < message.timeout_s:
            message = replace(message, timeout_s=max(remaining, 1e-3))
        return _publish(sinks, message, fail_fast)


class MqttWriterSinkV1(_MqttWriter):
    """Publishes ``message`` and waits for the acknowledgement ``qos`` asks."""

    type = "roboflow_enterprise/mqtt_writer_sink@v1"
    aliases = ("mqtt_writer_sink@v1",)
    manifest = MqttWriterV1Manifest


class MqttWriterSinkV2(_MqttWriter):
    """v1 with ``fire_and_forget``."""

    type = "roboflow_enterprise/mqtt_writer_sink@v2"
    manifest = MqttWriterV2Manifest
    _v2 = True


MQTT_BLOCKS: tuple[type[Block], ...] = (MqttWriterSinkV1, MqttWriterSinkV2)
