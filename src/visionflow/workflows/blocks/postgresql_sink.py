"""``postgresql_sink``: rows (``data``, one dictionary or a list of them, all with the same
columns) inserted into ``schema_name.table_name`` in one transaction, as the reference's
enterprise sink does (``roboflow_core/postgresql_sink@v1``; not in inference 1.8.3's block
list, its manifest follows the reference's source).

Inputs are checked before anything is sent, so a bad request is reported even when the insert
would run in the background (``fire_and_forget``, the default, answers "Data processing
scheduled"). The database host passes the server's URL rules (public addresses unless
``VISIONFLOW_ALLOW_PRIVATE_URLS`` / ``VISIONFLOW_URL_ALLOW_NETWORKS``) and the connection is
pinned to the checked address; as in the reference with its address policy on, the host must be
one TCP host name or address. Errors name the phase and the driver's error class and SQLSTATE,
never the server's text (it may quote row contents)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.outbound import Outbound, RowsInsert, outbound_of
from visionflow.workflows.blocks.sinks import EGRESS_OFF
from visionflow.workflows.manifest import (
    BooleanSelector,
    IntegerSelector,
    Reference,
    StepManifest,
    StringSelector,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["POSTGRESQL_BLOCKS", "PostgreSqlSinkV1"]

log = logging.getLogger("visionflow.workflows")

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
_INT_MAX = 2147483647
SecretSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.SECRET,))]
RowsSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.DICTIONARY, k.LIST_OF_VALUES))
]


def _integer_within(value: Any, name: str, maximum: int) -> None:
    if type(value) is not int or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an integer between 1 and {maximum}")


class PostgreSqlSinkManifest(StepManifest):
    host: StringSelector | str
    database: StringSelector | str
    username: StringSelector | str
    password: SecretSelector | str | None = None
    port: IntegerSelector | int = 5432
    schema_name: StringSelector | str = "public"
    table_name: StringSelector | str
    data: RowsSelector | dict[str, Any] | list[dict[str, Any]]
    fire_and_forget: BooleanSelector | bool = True
    sslmode: StringSelector | SslMode = "require"
    connect_timeout: IntegerSelector | int = 10
    statement_timeout: IntegerSelector | int = 10000

    @field_validator("port", "connect_timeout", "statement_timeout", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if not (isinstance(value, str) and value.startswith("$")):
            name = str(info.field_name)
            _integer_within(value, name, 65535 if name == "port" else _INT_MAX)
        return value


def _failure(message: str) -> StepResult:
    log.warning("postgresql_sink: %s", message)
    return {"error_status": True, "message": message}


def _rows(data: Any) -> tuple[dict[str, Any], ...]:
    rows = [data] if isinstance(data, dict) else data
    if not isinstance(rows, list | tuple) or not rows:
        raise ValueError("Data must be a non-empty dictionary or list of dictionaries")
    if any(not isinstance(row, dict) or not row for row in rows):
        raise ValueError("Each row must be a non-empty dictionary")
    columns = set(rows[0])
    if any(not isinstance(c, str) or not c or "\x00" in c for c in columns):
        raise ValueError("Column names must be non-empty strings without NUL characters")
    if any(set(row) != columns for row in rows):
        raise ValueError("All rows must have the same column names")
    return tuple(rows)


def _insert(inputs: StepInputs) -> RowsInsert:
    """The insert the inputs ask for; ``ValueError`` saying what is wrong (the reference's
    messages)."""
    rows = _rows(inputs["data"])
    names = ("host", "database", "username", "schema_name", "table_name")
    for name in names:
        value = inputs.get(name)
        if not isinstance(value, str) or not value or "\x00" in value:
            raise ValueError(f"{name} must be a non-empty string without NUL characters")
    port, connect_timeout = inputs["port"], inputs["connect_timeout"]
    statement_timeout = inputs["statement_timeout"]
    _integer_within(port, "port", 65535)
    _integer_within(connect_timeout, "connect_timeout", _INT_MAX)
    _integer_within(statement_timeout, "statement_timeout", _INT_MAX)
    sslmode = inputs["sslmode"]
    if not isinstance(sslmode, str) or sslmode not in get_args(SslMode):
        raise ValueError("Unsupported sslmode")
    host = str(inputs["host"])
    if host.startswith("/") or "," in host:
        raise ValueError("host must be a single global TCP hostname or IP address")
    password = inputs.get("password")
    return RowsInsert(
        host=host,
        port=port,
        database=str(inputs["database"]),
        username=str(inputs["username"]),
        password=password if isinstance(password, str) else None,
        schema_name=str(inputs["schema_name"]),
        table_name=str(inputs["table_name"]),
        rows=rows,
        sslmode=sslmode,
        connect_timeout_s=connect_timeout,
        statement_timeout_ms=statement_timeout,
    )


def _within_run(insert: RowsInsert, remaining_s: float | None) -> RowsInsert:
    """An insert the step waits for ends with the run, whatever its timeouts say."""
    if remaining_s is None:
        return insert
    connect_s = max(1, min(insert.connect_timeout_s, math.ceil(remaining_s)))
    statement_ms = max(1, min(insert.statement_timeout_ms, int(remaining_s * 1000)))
    return replace(insert, connect_timeout_s=connect_s, statement_timeout_ms=statement_ms)


def _write(sinks: Outbound, insert: RowsInsert) -> StepResult:
    try:
        sinks.insert_rows(insert)
    except Exception as exc:  # the guard's refusal or the driver's error, reported
        return _failure(str(exc))
    return {"error_status": False, "message": f"Successfully inserted {len(insert.rows)} records"}


class PostgreSqlSinkV1(Block):
    """Inserts ``data`` into ``schema_name.table_name`` (identifiers quoted, values bound)."""

    concurrent = True

    type = "roboflow_core/postgresql_sink@v1"
    manifest = PostgreSqlSinkManifest
    outputs = (
        OutputDefinition("error_status", (k.BOOLEAN,)),
        OutputDefinition("message", (k.STRING,)),
    )

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
        if not sinks.allow_egress:
            return _failure(EGRESS_OFF)
        background = inputs.get("fire_and_forget")
        if not isinstance(background, bool):
            return _failure("fire_and_forget must be a boolean")
        try:
            insert = _insert(inputs)
        except ValueError as exc:
            return _failure(str(exc))
        if not background:
            return _write(sinks, _within_run(insert, context.budget.remaining_s()))
        sinks.submit(lambda: _write(sinks, insert))
        return {"error_status": False, "message": "Data processing scheduled"}


POSTGRESQL_BLOCKS: tuple[type[Block], ...] = (PostgreSqlSinkV1,)
