"""``s3_sink``: ``content`` uploaded to an S3 bucket with the workflow's own credentials (the
server's are never used, as in the reference), to AWS or the operator's S3-compatible endpoint
(``VISIONFLOW_WORKFLOWS_S3_ENDPOINT_URL``).

``separate_files`` puts one object per element; ``append_log`` collects entries in one object
(JSON content as JSON lines, CSV with one header) and uploads the whole object again after each
entry, so every run checks the credentials; after ``max_entries_per_file`` entries the next
starts a new object. As the reference's, the log lasts one run (its block lives one request).
Transient failures (transport errors, throttling, 5xx) are retried 3 times after 1, 2 and 4 s,
within the run's time."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.outbound import ObjectUpload, Outbound, OutboundError, outbound_of
from visionflow.workflows.blocks.sinks import EGRESS_OFF
from visionflow.workflows.manifest import Reference, StepManifest, StringSelector
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["S3_BLOCKS", "S3SinkV1"]

log = logging.getLogger("visionflow.workflows")

CONTENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "txt": "text/plain",
}
CredentialSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.SECRET, k.STRING))
]


class S3SinkManifest(StepManifest):
    content: StringSelector
    file_type: Literal["csv", "json", "txt"] = "csv"
    output_mode: Literal["append_log", "separate_files"]
    bucket_name: StringSelector | str
    s3_prefix: StringSelector | str = ""
    file_name_prefix: StringSelector | str = "workflow_output"
    max_entries_per_file: int | StringSelector = 1024
    aws_access_key_id: CredentialSelector | str | None = None
    aws_secret_access_key: CredentialSelector | str | None = None
    aws_region: StringSelector | str | None = None

    @field_validator("max_entries_per_file")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("`max_entries_per_file` cannot be lower than 1.")
        return value


@dataclass
class _Log:
    key: str | None = None
    entries: list[str] = field(default_factory=list)


def _key(prefix: str, name_prefix: str, extension: str) -> str:
    stamp = datetime.now().strftime("%Y_%m_%d_%H_%M_%S_%f")
    name = f"{name_prefix.rstrip('/')}_{stamp}.{extension}"
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


class S3SinkV1(Block):
    """Uploads ``content`` to ``s3://<bucket_name>/<s3_prefix>/<file_name_prefix>_<time>.<ext>``;
    ``message`` says where, or what S3 answered."""

    concurrent = True

    type = "roboflow_core/s3_sink@v1"
    manifest = S3SinkManifest
    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("message", (k.STRING,)),
    )
    # Seconds before the first retry of a transient failure (doubling after each).
    retry_delay_s = 1.0
    retries = 3

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        sinks = outbound_of(context)
        logs: dict[tuple[str, str, str, str], _Log] = {}
        results: list[StepResult] = []
        for inputs in batch:
            if sinks is None or sinks.disabled or not sinks.allow_egress:
                results.append(_skipped(sinks))
                continue
            results.append(self._save(sinks, inputs, context, logs))
        return results

    def _save(
        self,
        sinks: Outbound,
        inputs: StepInputs,
        context: RunContext,
        logs: dict[tuple[str, str, str, str], _Log],
    ) -> StepResult:
        content = inputs.as_str("content")
        bucket = inputs.as_str("bucket_name")
        prefix, name_prefix = inputs.as_str("s3_prefix"), inputs.as_str("file_name_prefix")
        file_type = str(inputs["file_type"])
        if inputs["output_mode"] == "separate_files":
            key = _key(prefix, name_prefix, file_type)
            return self._upload(sinks, inputs, context, bucket, key, content, file_type)
        limit = _entries_limit(inputs)
        extension = "jsonl" if file_type == "json" else file_type
        if file_type == "json":
            try:
                content = json.dumps(json.loads(content))
            except ValueError as exc:
                log.warning("s3_sink: invalid JSON content in append mode: %s", exc)
                return {"error_status": True, "message": "Invalid JSON content"}
        state = logs.setdefault((bucket, prefix, name_prefix, file_type), _Log())
        if state.key is None or len(state.entries) >= limit:
            state.key, state.entries = _key(prefix, name_prefix, extension), []
        elif file_type == "csv":
            content = "\n".join(content.split("\n")[1:])
        state.entries.append(content if content.endswith("\n") else f"{content}\n")
        body = "".join(state.entries)
        return self._upload(sinks, inputs, context, bucket, state.key, body, extension)

    def _upload(
        self,
        sinks: Outbound,
        inputs: StepInputs,
        context: RunContext,
        bucket: str,
        key: str,
        content: str,
        extension: str,
    ) -> StepResult:
        key_id, secret = inputs.get("aws_access_key_id"), inputs.get("aws_secret_access_key")
        if not key_id or not secret or not isinstance(key_id, str) or not isinstance(secret, str):
            raise inputs.fail(
                "aws_access_key_id",
                "S3 sink requires `aws_access_key_id` and `aws_secret_access_key` to be provided "
                "by the workflow. The server's ambient AWS credentials are not used.",
            )
        region = inputs.get("aws_region")
        upload = ObjectUpload(
            bucket=bucket,
            key=key,
            body=content.encode(),
            content_type=CONTENT_TYPES.get(extension, "text/plain"),
            access_key_id=key_id,
            secret_access_key=secret,
            region=region if isinstance(region, str) and region else None,
            timeout_s=sinks.timeout_s,
        )
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.retry_delay_s * 2 ** (attempt - 1)
                remaining = context.budget.remaining_s()
                if remaining is not None and remaining < delay + upload.timeout_s:
                    break
                log.warning("retrying the S3 upload to s3://%s/%s in %g s", bucket, key, delay)
                time.sleep(delay)
            try:
                sinks.put_object(upload)
            except OutboundError as exc:
                log.warning("S3 upload to s3://%s/%s failed: %s", bucket, key, exc)
                if not exc.retryable:
                    return {"error_status": True, "message": str(exc)}
                failure = str(exc)
                continue
            except Exception as exc:  # a refusal or an unexpected fault: reported, not raised
                log.warning("S3 upload to s3://%s/%s failed: %s", bucket, key, exc)
                return {"error_status": True, "message": str(exc)}
            return {
                "error_status": False,
                "message": f"Data saved successfully to s3://{bucket}/{key}",
            }
        return {"error_status": True, "message": failure}


def _skipped(sinks: Outbound | None) -> StepResult:
    if sinks is not None and sinks.disabled:
        return {"error_status": False, "message": "Sink was disabled by workflow execution policy"}
    if sinks is None:
        return {
            "error_status": False,
            "message": "Sink skipped: this server has no sinks configured",
        }
    return {"error_status": True, "message": EGRESS_OFF}


def _entries_limit(inputs: StepInputs) -> int:
    limit = inputs["max_entries_per_file"]
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise inputs.fail("max_entries_per_file", "expected a positive integer")
    return limit


S3_BLOCKS: tuple[type[Block], ...] = (S3SinkV1,)
