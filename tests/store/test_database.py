from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from visionflow import store
from visionflow.store import Database, Registry
from visionflow.store.database import HEAD_REVISION
from visionflow.store.schema import Base, StoredWorkflow, utcnow

TABLES = {"alembic_version", "api_keys", "model_versions", "workflows", "workspaces"}


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def _revisions(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_migrate_creates_the_schema(database: Database) -> None:
    assert _tables(database) == TABLES
    assert _revisions(database) == ["0002"]


def test_migrate_is_idempotent(database: Database) -> None:
    Registry(database).create_workspace("kept")

    database.migrate()
    database.migrate()

    assert _tables(database) == TABLES
    assert _revisions(database) == ["0002"]
    assert [w.name for w in Registry(database).list_workspaces()] == ["kept"]


def test_head_revision_is_the_newest_migration_script() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(store.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def _schema_differences(database: Database) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    opts = {"compare_type": True, "compare_server_default": True}
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def test_a_new_database_gets_the_schema_the_migration_scripts_make(
    database: Database, tmp_path: Path
) -> None:
    # ``database`` was created by ``migrate`` (ORM schema + stamp); the other by the scripts.
    scripted = Database(f"sqlite:///{tmp_path / 'scripted.db'}")
    try:
        scripted.upgrade_with_alembic()
        assert _schema_differences(scripted) == []
        assert _schema_differences(database) == []
        assert _tables(database) == _tables(scripted) == TABLES
        assert database.schema_revision() == scripted.schema_revision() == HEAD_REVISION
    finally:
        scripted.dispose()


def test_a_database_at_an_older_revision_is_upgraded(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        assert database.schema_revision() is None
        database.migrate()
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
            connection.execute(text("ALTER TABLE api_keys DROP COLUMN role"))
            connection.execute(text("ALTER TABLE api_keys DROP COLUMN expires_at"))
        assert database.schema_revision() == "0001"

        database.migrate()

        assert database.schema_revision() == HEAD_REVISION
        assert "role" in {c["name"] for c in inspect(database.engine).get_columns("api_keys")}
    finally:
        database.dispose()


def test_sqlite_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "registry.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        assert path.is_file()
        assert database.is_sqlite
    finally:
        database.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        database.dispose()


def test_session_rolls_back_on_error(database: Database) -> None:
    registry = Registry(database)
    workspace = registry.create_workspace("acme")

    def add_then_fail() -> None:
        with database.session() as session:
            session.add(
                StoredWorkflow(
                    workspace_id=workspace.id,
                    name="wf",
                    version=1,
                    definition={},
                    created_at=utcnow(),
                )
            )
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        add_then_fail()

    with database.session() as session:
        assert session.scalars(select(StoredWorkflow)).all() == []


def test_workflows_table_stores_definitions(database: Database) -> None:
    workspace = Registry(database).create_workspace("acme")
    definition = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [],
        "outputs": [{"type": "JsonField", "name": "n", "selector": "$steps.x.y"}],
        "nested": {"numbers": [1, 2.5], "flag": True, "none": None},
    }

    with database.session() as session:
        session.add(
            StoredWorkflow(
                workspace_id=workspace.id,
                name="count-things",
                version=1,
                definition=definition,
                created_at=utcnow(),
            )
        )

    with database.session() as session:
        (row,) = session.scalars(select(StoredWorkflow)).all()
        assert (row.workspace_id, row.name, row.version) == (workspace.id, "count-things", 1)
        assert row.definition == definition


def test_workflows_are_unique_per_workspace_name_and_version(database: Database) -> None:
    workspace = Registry(database).create_workspace("acme")

    def add(version: int) -> None:
        with database.session() as session:
            session.add(
                StoredWorkflow(
                    workspace_id=workspace.id,
                    name="wf",
                    version=version,
                    definition={},
                    created_at=utcnow(),
                )
            )

    add(1)
    add(2)
    with pytest.raises(IntegrityError):
        add(1)

    with database.session() as session:
        assert sorted(session.scalars(select(StoredWorkflow.version))) == [1, 2]


def test_workflow_needs_an_existing_workspace(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            StoredWorkflow(
                workspace_id=12345, name="wf", version=1, definition={}, created_at=utcnow()
            )
        )
