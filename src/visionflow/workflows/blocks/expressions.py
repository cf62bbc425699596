"""Formatters: ``expression`` (a switch over query-language conditions), ``csv_formatter`` (one
CSV row per batch element) and ``current_time``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.manifest import AnySelector, StepManifest, StringSelector
from visionflow.workflows.query import Operation, QueryError, StatementGroup, apply_operations
from visionflow.workflows.query import evaluate as evaluate_statement

__all__ = [
    "EXPRESSION_BLOCKS",
    "CsvFormatterV1",
    "CurrentTimeV1",
    "ExpressionV1",
    "apply_data_operations",
]


class _Syntax(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StaticCaseResult(_Syntax):
    type: Literal["StaticCaseResult"]
    value: Any


class DynamicCaseResult(_Syntax):
    type: Literal["DynamicCaseResult"]
    parameter_name: str
    operations: list[Operation] | None = None


CaseResult = StaticCaseResult | DynamicCaseResult


class CaseDefinition(_Syntax):
    type: Literal["CaseDefinition"]
    condition: StatementGroup
    result: CaseResult = Field(discriminator="type")


class CasesDefinition(_Syntax):
    type: Literal["CasesDefinition"]
    cases: list[CaseDefinition]
    default: CaseResult = Field(discriminator="type")


class ExpressionManifest(StepManifest):
    data: dict[str, AnySelector]
    data_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    switch: CasesDefinition


def apply_data_operations(
    inputs: StepInputs,
    values: dict[str, Any],
    field: str,
    operations: dict[str, list[Any]],
    budget: RunBudget,
) -> dict[str, Any]:
    """``values`` with each entry named in ``operations`` put through its operations within the
    run's ``budget`` (the step's ``field`` is blamed for operations on an unknown entry or
    failing ones)."""
    result = dict(values)
    for name, chain in operations.items():
        if name not in result:
            raise inputs.fail(field, f"operations for {name!r}, which is not a data entry")
        try:
            result[name] = apply_operations(result[name], chain, budget=budget)
        except QueryError as exc:
            raise inputs.fail(field, f"{name}: {exc}") from None
    return result


class ExpressionV1(Block):
    """``output``: the result of the first case of ``switch`` whose condition holds for ``data``
    (after ``data_operations``), else its default. A result is a static value or a data entry
    (``DynamicCaseResult``) put through operations."""

    type = "roboflow_core/expression@v1"
    aliases = ("Expression",)
    manifest = ExpressionManifest
    outputs = (OutputDefinition("output", (k.WILDCARD,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        budget = context.budget
        data = apply_data_operations(
            inputs, inputs["data"], "data_operations", inputs["data_operations"], budget
        )
        switch: CasesDefinition = inputs["switch"]
        try:
            chosen = next(
                (
                    case.result
                    for case in switch.cases
                    if evaluate_statement(case.condition, data, budget=budget)
                ),
                switch.default,
            )
            if isinstance(chosen, StaticCaseResult):
                return {"output": chosen.value}
            if chosen.parameter_name not in data:
                raise QueryError(f"unknown parameter {chosen.parameter_name!r}")
            value = data[chosen.parameter_name]
            return {"output": apply_operations(value, chosen.operations or [], budget=budget)}
        except QueryError as exc:
            raise inputs.fail("switch", str(exc)) from None


ColumnValue = AnySelector | str | int | float | bool


class CsvFormatterManifest(StepManifest):
    columns_data: dict[str, ColumnValue]
    columns_operations: dict[str, list[Operation]] = Field(default_factory=dict)

    @field_validator("columns_data", "columns_operations")
    @classmethod
    def _timestamp_is_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "timestamp" in value:
            raise ValueError("the column name 'timestamp' is reserved (the block adds it)")
        return value


# A cell a spreadsheet would read as a formula gets a leading quote, as the reference does.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return str(value)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as CSV with a header (columns in order of first appearance)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(name for name in row if name not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in columns])
    return buffer.getvalue()


class CsvFormatterV1(Block):
    """``csv_content``: one CSV row per batch element — ``columns_data`` (after
    ``columns_operations``) and a UTC ``timestamp`` — all of them on the last element of the batch
    (the others get ``null``), as the reference aggregates a batch into one document."""

    type = "roboflow_core/csv_formatter@v1"
    manifest = CsvFormatterManifest
    outputs = (OutputDefinition("csv_content", (k.STRING,)),)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        rows = []
        for inputs in batch:
            row = apply_data_operations(
                inputs,
                inputs["columns_data"],
                "columns_operations",
                inputs["columns_operations"],
                context.budget,
            )
            row["timestamp"] = datetime.now(tz=UTC).isoformat()
            rows.append(row)
        content = to_csv(rows)
        results: list[StepResult] = [{"csv_content": None} for _ in batch[:-1]]
        results.append({"csv_content": content})
        return results


Timezone = Literal[
    "Etc/GMT+12",
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "Pacific/Marquesas",
    "America/Anchorage",
    "Pacific/Gambier",
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Bogota",
    "America/Halifax",
    "America/Puerto_Rico",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Atlantic/Cape_Verde",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Lagos",
    "Europe/Kyiv",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Europe/Moscow",
    "Europe/Istanbul",
    "Africa/Nairobi",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Australia/Eucla",
    "Asia/Tokyo",
    "Australia/Darwin",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Port_Moresby",
    "Australia/Lord_Howe",
    "Pacific/Guadalcanal",
    "Pacific/Norfolk",
    "Pacific/Fiji",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Tongatapu",
    "Pacific/Apia",
    "Pacific/Kiritimati",
]


class CurrentTimeManifest(StepManifest):
    timezone: Timezone | StringSelector = "UTC"


class CurrentTimeV1(Block):
    """The time now in ``timezone``: ``timestamp`` (serialized as ISO 8601), ``iso_string``,
    ``date`` (``YYYY-MM-DD``) and ``time`` (``HH:MM:SS``)."""

    type = "roboflow_core/current_time@v1"
    manifest = CurrentTimeManifest
    outputs = (
        OutputDefinition("timestamp", (k.TIMESTAMP,)),
        OutputDefinition("iso_string", (k.STRING,)),
        OutputDefinition("date", (k.STRING,)),
        OutputDefinition("time", (k.STRING,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        name = inputs.as_str("timezone")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise inputs.fail("timezone", f"unknown time zone {name!r}") from None
        now = datetime.now(zone)
        return {
            "timestamp": now,
            "iso_string": now.isoformat(),
            "date": now.strftime("%Y-%m-%d"),
            "time": now.strftime("%H:%M:%S"),
        }


EXPRESSION_BLOCKS: tuple[type[Block], ...] = (ExpressionV1, CsvFormatterV1, CurrentTimeV1)
