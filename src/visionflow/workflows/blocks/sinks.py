"""Sinks: ``webhook_sink`` (an HTTP request per element) and ``local_file_sink`` (content written
under a configured folder).

Side effects go through a ``Sinks`` object the layer above injects as ``context.sinks``: it sends
HTTP requests under the same URL rules as image URLs (http/https only, public addresses unless
configured, every redirect re-checked, the connection pinned to the checked address), says where
files may be written, and whether the request disabled sinks (``disable_sinks``). Workflows sit
below the service layer, so they cannot use its URL guard directly. Without a ``Sinks`` (or with
sinks disabled) the blocks do nothing and say so in ``message``.

Like other state, cooldowns and append logs last one run (see ``blocks.video``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from visionflow.core.visualization import encode_jpeg
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.expressions import apply_data_operations
from visionflow.workflows.blocks.sink_environment import HttpRequest, Sinks, sinks_of
from visionflow.workflows.limits import WEBHOOK_MAX_TIMEOUT_SETTING, RunBudget
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.manifest import (
    AnySelector,
    BooleanSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.query import Operation
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN
from visionflow.workflows.serialize import serialize_value

__all__ = [
    "SINK_BLOCKS",
    "THROTTLED_SINK_OUTPUTS",
    "LocalFileSinkV1",
    "WebhookSinkV1",
]

log = logging.getLogger("visionflow.workflows")


def _operated(
    inputs: StepInputs, field_name: str, values: dict[str, Any], budget: RunBudget
) -> dict[str, Any]:
    """``values`` after ``<field_name>_operations``; operations for absent entries are ignored."""
    where = f"{field_name}_operations"
    operations = {name: chain for name, chain in inputs[where].items() if name in values}
    return apply_data_operations(inputs, values, where, operations, budget)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, WorkflowImage):
        return encode_jpeg(value.pixels_bgr, 95)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(serialize_value(value)).encode()


def _as_text(value: Any) -> str:
    serialized = serialize_value(value)
    return serialized if isinstance(serialized, str) else json.dumps(serialized)


# -- webhook --------------------------------------------------------------------------------------

ParameterValue = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference(
        (
            k.STRING,
            k.INTEGER,
            k.FLOAT,
            k.ROBOFLOW_MODEL_ID,
            k.ROBOFLOW_PROJECT,
            k.ROBOFLOW_API_KEY,
            k.FLOAT_ZERO_TO_ONE,
            k.LIST_OF_VALUES,
            k.BOOLEAN,
            k.TOP_CLASS,
        )
    ),
]
HeaderValue = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference(
        (
            k.STRING,
            k.INTEGER,
            k.FLOAT,
            k.ROBOFLOW_MODEL_ID,
            k.ROBOFLOW_PROJECT,
            k.ROBOFLOW_API_KEY,
            k.FLOAT_ZERO_TO_ONE,
            k.BOOLEAN,
            k.TOP_CLASS,
        )
    ),
]
Scalar = str | float | bool | int
PayloadValue = AnySelector | str | float | bool | int | dict[str, Any] | list[Any]


class WebhookSinkManifest(StepManifest):
    url: StringSelector | str
    method: Literal["GET", "POST", "PUT"]
    query_parameters: dict[str, ParameterValue | Scalar | list[Scalar]] = Field(
        default_factory=dict
    )
    headers: dict[str, HeaderValue | Scalar] = Field(default_factory=dict)
    json_payload: dict[str, PayloadValue] = Field(default_factory=dict)
    json_payload_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    multi_part_encoded_files: dict[str, PayloadValue] = Field(default_factory=dict)
    multi_part_encoded_files_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    form_data: dict[str, PayloadValue] = Field(default_factory=dict)
    form_data_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    request_timeout: int | IntegerSelector = 2
    fire_and_forget: bool | BooleanSelector = True
    disable_sink: bool | BooleanSelector = False
    cooldown_seconds: int | IntegerSelector = 5


# The operator turned outbound calls off (``blocks.outbound.Outbound.allow_egress``).
EGRESS_OFF = (
    "Sink skipped: outbound calls from workflows are off on this server "
    "(VISIONFLOW_WORKFLOWS_ALLOW_EGRESS=false)"
)


def _outcome(error: bool, message: str, throttled: bool = False) -> StepResult:
    return {"error_status": error, "throttling_status": throttled, "message": message}


def _deliver(sinks: Sinks, request: HttpRequest) -> tuple[bool, str]:
    try:
        response = sinks.send(request)
    except Exception as exc:  # any refusal or transport error is reported, not raised
        log.warning("webhook sink to %s failed: %s", request.url, exc)
        return True, f"Failed to send notification. Internal error details: {exc}"
    if response.status_code >= 400:
        return True, f"Failed to send notification. The server answered HTTP {response.status_code}"
    return False, "Notification sent successfully"


# The outputs of sinks with a cooldown (the webhook, the notifications).
THROTTLED_SINK_OUTPUTS = (
    OutputDefinition("error_status", (k.BOOLEAN,)),
    OutputDefinition("throttling_status", (k.BOOLEAN,)),
    OutputDefinition("message", (k.STRING,)),
)


class WebhookSinkV1(Block):
    """Sends ``json_payload`` (or ``multi_part_encoded_files`` / ``form_data``) to ``url``, each
    value after its operations; detections and images are sent serialized as in workflow
    outputs (images as JPEG files in multipart). At most one request per ``cooldown_seconds``;
    ``fire_and_forget`` answers before the request completes; nothing is sent when the server
    turns outbound calls off. ``request_timeout`` may be at most
    ``WorkflowLimits.webhook_max_timeout_s``; a request the step waits for also ends with the
    run's time."""

    concurrent = True

    type = "roboflow_core/webhook_sink@v1"
    manifest = WebhookSinkManifest
    outputs = THROTTLED_SINK_OUTPUTS

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        sinks = sinks_of(context)
        last_sent: float | None = None
        results: list[StepResult] = []
        for inputs in batch:
            if inputs.as_bool("disable_sink"):
                results.append(_outcome(False, "Sink was disabled by parameter `disable_sink`"))
                continue
            if sinks is None or sinks.disabled:
                why = "this server has no sinks configured" if sinks is None else "disable_sinks"
                results.append(_outcome(False, f"Sink skipped: {why}"))
                continue
            if not getattr(sinks, "allow_egress", True):
                results.append(_outcome(True, EGRESS_OFF))
                continue
            now = time.monotonic()
            cooldown = inputs.as_int("cooldown_seconds", low=0)
            if last_sent is not None and now - last_sent < cooldown:
                results.append(_outcome(False, "Sink cooldown applies", throttled=True))
                continue
            request = self._request(inputs, context.budget)
            last_sent = now
            if inputs.as_bool("fire_and_forget"):
                sinks.submit(partial(_deliver, sinks, request))
                results.append(_outcome(False, "Notification sent in the background task"))
                continue
            waited = context.budget.webhook_timeout_s(request.timeout_s)
            request = dataclasses.replace(request, timeout_s=waited)
            results.append(_outcome(*_deliver(sinks, request)))
        return results

    def _request(self, inputs: StepInputs, budget: RunBudget) -> HttpRequest:
        timeout_s = inputs.as_int("request_timeout", low=1)
        longest_s = budget.limits.webhook_max_timeout_s
        if timeout_s > longest_s:
            raise inputs.fail(
                "request_timeout",
                f"{timeout_s} s is longer than the {longest_s:g} s a webhook may take "
                f"({WEBHOOK_MAX_TIMEOUT_SETTING})",
            )
        payload = _operated(inputs, "json_payload", inputs["json_payload"], budget)
        files = _operated(
            inputs, "multi_part_encoded_files", inputs["multi_part_encoded_files"], budget
        )
        form = _operated(inputs, "form_data", inputs["form_data"], budget)
        return HttpRequest(
            method=str(inputs["method"]),
            url=inputs.as_str("url"),
            params={key: serialize_value(v) for key, v in inputs["query_parameters"].items()},
            headers={key: str(serialize_value(v)) for key, v in inputs["headers"].items()},
            json=serialize_value(payload) if payload else None,
            files={key: _as_bytes(v) for key, v in files.items()} or None,
            data={key: _as_text(v) for key, v in form.items()} or None,
            timeout_s=float(timeout_s),
            purpose="webhook URL",
        )


# -- local file -----------------------------------------------------------------------------------

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class LocalFileSinkManifest(StepManifest):
    content: StringSelector
    file_type: Literal["csv", "json", "txt"] = "csv"
    output_mode: Literal["append_log", "separate_files"]
    target_directory: StringSelector | str
    file_name_prefix: StringSelector | str = "workflow_output"
    max_entries_per_file: int | StringSelector = 1024


def confined_directory(root: Path, target: str) -> Path:
    """``target`` (relative to ``root``, or absolute inside it) with symlinks resolved;
    ``ValueError`` if it lies outside ``root``."""
    base = root.resolve()
    candidate = (base / target).resolve() if target else base
    if not candidate.is_relative_to(base):
        raise ValueError(f"target_directory {target!r} is outside the sink folder")
    return candidate


def _new_file(directory: Path, prefix: str, extension: str) -> Path:
    stamp = datetime.now().strftime("%Y_%m_%d_%H_%M_%S_%f")
    return directory / f"{prefix}_{stamp}.{extension}"


def _write(path: Path, content: str, *, create: bool) -> None:
    """Write without following a symlink at ``path``; ``create``: the file must be new."""
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    if create:
        flags |= os.O_CREAT | os.O_EXCL
    descriptor = os.open(path, flags, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(content if content.endswith("\n") else f"{content}\n")


class _AppendLog:
    def __init__(self) -> None:
        self.path: Path | None = None
        self.entries = 0


class LocalFileSinkV1(Block):
    """Writes ``content`` under the server's sink folder (``target_directory`` is taken relative
    to it and may not leave it): a new file per element (``separate_files``) or appended to a
    log file started per run and rotated every ``max_entries_per_file`` entries
    (``append_log``; JSON content becomes JSON lines, CSV keeps one header)."""

    concurrent = True

    type = "roboflow_core/local_file_sink@v1"
    manifest = LocalFileSinkManifest
    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("message", (k.STRING,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        sinks = sinks_of(context)
        logs: dict[tuple[Path, str, str], _AppendLog] = {}
        results: list[StepResult] = []
        for inputs in batch:
            if sinks is None or sinks.disabled or sinks.file_root is None:
                why = "disable_sinks" if sinks is not None and sinks.disabled else "no sink folder"
                results.append({"error_status": False, "message": f"Sink skipped: {why}"})
                continue
            try:
                results.append(self._save(inputs, sinks.file_root, logs))
            except (OSError, ValueError) as exc:
                log.warning("local file sink failed: %s", exc)
                results.append({"error_status": True, "message": str(exc)})
        return results

    def _save(
        self, inputs: StepInputs, root: Path, logs: dict[tuple[Path, str, str], _AppendLog]
    ) -> StepResult:
        content = inputs.as_str("content")
        prefix = inputs.as_str("file_name_prefix")
        if not _PREFIX.match(prefix) or ".." in prefix:
            raise inputs.fail("file_name_prefix", "use letters, digits, '_', '-' and '.' only")
        directory = confined_directory(root, inputs.as_str("target_directory"))
        directory.mkdir(parents=True, exist_ok=True)
        directory = confined_directory(root, str(directory.relative_to(root.resolve())))
        file_type = str(inputs["file_type"])
        if inputs["output_mode"] == "separate_files":
            _write(_new_file(directory, prefix, file_type), content, create=True)
            return {"error_status": False, "message": "Data saved successfully"}
        limit = inputs["max_entries_per_file"]
        if isinstance(limit, str) and limit.isdigit():
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise inputs.fail("max_entries_per_file", "expected a positive integer")
        if file_type == "json":
            try:
                content = json.dumps(json.loads(content))
            except ValueError:
                return {"error_status": True, "message": "Invalid JSON content"}
        state = logs.setdefault((directory, prefix, file_type), _AppendLog())
        if state.path is None or state.entries >= limit:
            extension = "jsonl" if file_type == "json" else file_type
            state.path, state.entries = _new_file(directory, prefix, extension), 0
            _write(state.path, content, create=True)
        else:
            if file_type == "csv":
                content = "\n".join(content.split("\n")[1:])
            _write(state.path, content, create=False)
        state.entries += 1
        return {"error_status": False, "message": "Data saved successfully"}


SINK_BLOCKS: tuple[type[Block], ...] = (WebhookSinkV1, LocalFileSinkV1)
