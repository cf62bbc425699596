"""Change notices over the real PostgreSQL: a committed workflow version reaches every listener,
a rolled-back one reaches none, and a listener whose connection is cut reports a gap and listens
again."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import psycopg
import pytest

from visionflow.store import Change, ChangeListener, Database, Registry
from visionflow.store.changes import CHANNEL, announce

DEFINITION = {"version": "1.0", "inputs": [], "steps": [], "outputs": []}


@pytest.fixture
def registry(postgres_database: Database) -> Registry:
    registry = Registry(postgres_database)
    if registry.find_workspace("shop") is None:
        registry.create_workspace("shop")
    return registry


class _Recorder:
    def __init__(self) -> None:
        self.changes: queue.Queue[Change] = queue.Queue()
        self.gaps = 0

    def change(self, change: Change) -> None:
        self.changes.put(change)

    def gap(self) -> None:
        self.gaps += 1


@pytest.fixture
def listening(postgres_database: Database) -> Iterator[tuple[ChangeListener, _Recorder]]:
    recorder = _Recorder()
    listener = ChangeListener(
        postgres_database.url, recorder.change, recorder.gap, retry_s=0.1, max_retry_s=0.2
    )
    listener.start()
    assert listener.connected.wait(10), "the listener never connected"
    yield listener, recorder
    listener.close()


def test_a_committed_workflow_version_reaches_the_listener(
    registry: Registry, listening: tuple[ChangeListener, _Recorder]
) -> None:
    _listener, recorder = listening
    registry.add_workflow_version("shop", "count-boxes", DEFINITION)
    change = recorder.changes.get(timeout=5)
    assert change == Change("workflow", "shop", "count-boxes")
    assert recorder.gaps == 1  # the first connection


def test_a_rolled_back_change_is_never_delivered(
    postgres_database: Database, listening: tuple[ChangeListener, _Recorder]
) -> None:
    _listener, recorder = listening

    def abort() -> None:
        with postgres_database.session() as session:
            announce(session, Change("workflow", "shop", "rolled-back"))
            raise RuntimeError("abort the transaction")

    with pytest.raises(RuntimeError):
        abort()
    with postgres_database.session() as session:
        announce(session, Change("workflow", "shop", "committed"))
    assert recorder.changes.get(timeout=5).name == "committed"
    assert recorder.changes.empty()


def test_a_cut_connection_reports_a_gap_and_listens_again(
    postgres_database: Database, registry: Registry, listening: tuple[ChangeListener, _Recorder]
) -> None:
    listener, recorder = listening
    name = postgres_database.url.rsplit("/", 1)[1]
    admin_url = postgres_database.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND query LIKE %s",
            (name, f"LISTEN {CHANNEL}%"),
        ).fetchall()
    assert cut, "the listener's connection was not found"
    deadline = time.monotonic() + 10
    while listener.connections < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.connections == 2
    assert recorder.gaps == 2
    registry.add_workflow_version("shop", "after-the-cut", DEFINITION)
    assert recorder.changes.get(timeout=5).name == "after-the-cut"


def test_malformed_notices_are_ignored(
    postgres_database: Database, listening: tuple[ChangeListener, _Recorder]
) -> None:
    _listener, recorder = listening
    url = postgres_database.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "not json"))
        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, '{"kind": "workflow"}'))
        connection.execute(
            "SELECT pg_notify(%s, %s)", (CHANNEL, Change("workflow", "a", "b").to_payload())
        )
    assert recorder.changes.get(timeout=5) == Change("workflow", "a", "b")
    assert recorder.changes.empty()


def test_sqlite_announces_nothing(tmp_path: object) -> None:
    database = Database(f"sqlite:///{tmp_path}/registry.db")
    database.migrate()
    with database.session() as session:
        announce(session, Change("workflow", "shop", "x"))  # no error, no effect
    database.dispose()


def test_registering_and_deleting_a_model_version_reach_the_listener(
    registry: Registry, listening: tuple[ChangeListener, _Recorder]
) -> None:
    _listener, recorder = listening
    registry.add_model_version(
        "shop", "boxes", 2, task="object-detection", architecture="yolov8", package_sha256="0" * 64
    )
    assert recorder.changes.get(timeout=5) == Change("model", "shop", "boxes/2")
    assert registry.delete_model_version("shop", "boxes", 2)
    assert recorder.changes.get(timeout=5) == Change("model", "shop", "boxes/2")
    assert not registry.delete_model_version("shop", "boxes", 2)  # nothing deleted, no notice
    registry.add_workflow_version("shop", "after", DEFINITION)
    assert recorder.changes.get(timeout=5) == Change("workflow", "shop", "after")
