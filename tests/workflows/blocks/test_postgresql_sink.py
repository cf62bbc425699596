"""``postgresql_sink`` against the real PostgreSQL on 127.0.0.1:5432 (database ``test``, trust
auth): rows read back, values bound and identifiers quoted, the reference's input checks and
error messages (phase, class, SQLSTATE, no server text), the URL rules for the database host,
background inserts, and the manifest as the reference's source declares it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.sink_environment import environment, wait_for
from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.service.sinks import SinkEnvironment
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.outbound import RowsInsert
from visionflow.workflows.blocks.postgresql_sink import PostgreSqlSinkV1, _within_run
from visionflow.workflows.errors import WorkflowDefinitionError
from visionflow.workflows.manifest import field_references

DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def table() -> Iterator[str]:
    name = f"sink_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as connection:
        connection.execute(
            sql.SQL("CREATE TABLE {} (camera text NOT NULL, count integer, note text)").format(
                sql.Identifier(name)
            )
        )
    try:
        yield name
    finally:
        with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def _rows(name: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(DSN, connect_timeout=5) as connection:
        query = sql.SQL("SELECT camera, count, note FROM {} ORDER BY camera").format(
            sql.Identifier(name)
        )
        return list(connection.execute(query).fetchall())


def _sink(sinks: SinkEnvironment | None, data: Any, table: str, **fields: Any) -> dict[str, Any]:
    [result] = run(
        [
            step(
                "postgresql_sink@v1",
                "pg",
                **{
                    "host": "127.0.0.1",
                    "database": "test",
                    "username": "postgres",
                    "table_name": "$inputs.table",
                    "data": "$inputs.data",
                    "sslmode": "disable",
                    "fire_and_forget": False,
                    **fields,
                },
            )
        ],
        {"error": "$steps.pg.error_status", "message": "$steps.pg.message"},
        {"x": canvas()},
        {"image": "x", "data": data, "table": table},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "data"},
            {"type": "WorkflowParameter", "name": "table"},
        ],
        context=RunContext(models=ScriptedModels(), sinks=sinks),
    )
    return result


def test_rows_are_inserted_in_one_transaction(table: str) -> None:
    rows = [
        {"camera": "north", "count": 3, "note": "it's; DROP TABLE x --"},
        {"camera": "south", "count": None, "note": ""},
    ]
    result = _sink(environment(), rows, table=table)
    assert result == {"error": False, "message": "Successfully inserted 2 records"}
    assert _rows(table) == [("north", 3, "it's; DROP TABLE x --"), ("south", None, "")]
    one = _sink(environment(), {"camera": "west", "count": 1, "note": None}, table=table)
    assert one["message"] == "Successfully inserted 1 records"
    assert len(_rows(table)) == 3


@pytest.mark.parametrize(
    ("data", "fields", "expected"),
    [
        pytest.param(
            [], {}, "Data must be a non-empty dictionary or list of dictionaries", id="empty"
        ),
        pytest.param([{}], {}, "Each row must be a non-empty dictionary", id="empty-row"),
        pytest.param(
            [{"camera": "a"}, {"count": 1}],
            {},
            "All rows must have the same column names",
            id="columns",
        ),
        pytest.param(
            {"camera": "a"}, {"sslmode": "$inputs.data"}, "Unsupported sslmode", id="sslmode"
        ),
        pytest.param(
            {"camera": "a"},
            {"host": "/var/run/postgresql"},
            "host must be a single global TCP hostname or IP address",
            id="unix-socket",
        ),
    ],
)
def test_inputs_are_checked_before_sending(
    table: str, data: Any, fields: dict[str, Any], expected: str
) -> None:
    assert _sink(environment(), data, table=table, **fields) == {"error": True, "message": expected}
    assert _rows(table) == []


@pytest.mark.parametrize(
    ("data", "fields", "expected"),
    [
        pytest.param(
            {"camera": None},
            {},
            "PostgreSQL insert failed: IntegrityError (SQLSTATE 23502).",
            id="not-null",
        ),
        pytest.param(
            {"camera": "a", "count": "many"},
            {},
            "PostgreSQL insert failed: DataError (SQLSTATE 22P02).",
            id="bad-value",
        ),
        pytest.param(
            {"camera": "a", "colour": "red"},
            {},
            "PostgreSQL insert failed: ProgrammingError (SQLSTATE 42703).",
            id="no-column",
        ),
        pytest.param(
            {"camera": "a"},
            {"sslmode": "require"},
            "PostgreSQL connection failed: OperationalError.",
            id="no-tls",
        ),
    ],
)
def test_database_errors_name_the_phase_not_the_rows(
    table: str, data: Any, fields: dict[str, Any], expected: str
) -> None:
    assert _sink(environment(), data, table=table, **fields) == {"error": True, "message": expected}
    assert _rows(table) == []


def test_the_database_host_passes_the_url_rules(table: str) -> None:
    result = _sink(environment(loopback=False), {"camera": "a"}, table=table)
    assert result["error"] is True
    assert (
        "PostgreSQL server host '127.0.0.1' resolves to a non-public address" in result["message"]
    )
    assert _rows(table) == []


def test_background_insert_and_switches(table: str) -> None:
    scheduled = _sink(environment(), {"camera": "a"}, table=table, fire_and_forget=True)
    assert scheduled == {"error": False, "message": "Data processing scheduled"}
    assert wait_for(lambda: len(_rows(table)) == 1)
    off = _sink(environment(disabled=True), {"camera": "b"}, table=table)
    assert off == {"error": False, "message": "Sink was disabled by workflow execution policy"}
    assert _sink(environment(allow_egress=False), {"camera": "b"}, table=table)["error"] is True
    assert len(_rows(table)) == 1


@pytest.mark.parametrize(
    "fields",
    [pytest.param({"port": 0}, id="port"), pytest.param({"statement_timeout": True}, id="timeout")],
)
def test_literal_numbers_are_checked_when_compiling(table: str, fields: dict[str, Any]) -> None:
    with pytest.raises(WorkflowDefinitionError, match="must be an integer between 1 and"):
        _sink(environment(), {"camera": "a"}, table=table, **fields)


def test_manifest_is_the_references() -> None:
    """Field order, required fields, defaults and kinds of the reference's source (the block is
    not in the spec's describe answer)."""
    manifest = PostgreSqlSinkV1.manifest
    fields = [n for n in manifest.model_fields if n not in ("type", "name")]
    assert fields == [
        "host",
        "database",
        "username",
        "password",
        "port",
        "schema_name",
        "table_name",
        "data",
        "fire_and_forget",
        "sslmode",
        "connect_timeout",
        "statement_timeout",
    ]
    required = {n for n, info in manifest.model_fields.items() if info.is_required()}
    assert required == {"type", "name", "host", "database", "username", "table_name", "data"}
    defaults = {n: manifest.model_fields[n].default for n in fields if n not in required}
    assert defaults == {
        "password": None,
        "port": 5432,
        "schema_name": "public",
        "fire_and_forget": True,
        "sslmode": "require",
        "connect_timeout": 10,
        "statement_timeout": 10000,
    }
    kinds = {n: set(r.kinds or ()) for n, r in field_references(manifest).items()}
    assert kinds == {
        "host": {"string"},
        "database": {"string"},
        "username": {"string"},
        "password": {"secret"},
        "port": {"integer"},
        "schema_name": {"string"},
        "table_name": {"string"},
        "data": {"dictionary", "list_of_values"},
        "fire_and_forget": {"boolean"},
        "sslmode": {"string"},
        "connect_timeout": {"integer"},
        "statement_timeout": {"integer"},
    }
    assert [(o.name, o.kinds) for o in PostgreSqlSinkV1.outputs] == [
        ("error_status", ("boolean",)),
        ("message", ("string",)),
    ]


@pytest.mark.parametrize(
    ("remaining_s", "expected"),
    [
        pytest.param(None, (10, 10000), id="no-deadline"),
        pytest.param(60.0, (10, 10000), id="time-enough"),
        pytest.param(2.5, (3, 2500), id="capped"),
        pytest.param(0.0001, (1, 1), id="nearly-over"),
    ],
)
def test_an_insert_the_step_waits_for_ends_with_the_run(
    remaining_s: float | None, expected: tuple[int, int]
) -> None:
    insert = RowsInsert("db", 5432, "test", "u", None, "public", "t", ({"a": 1},))
    capped = _within_run(insert, remaining_s)
    assert (capped.connect_timeout_s, capped.statement_timeout_ms) == expected
