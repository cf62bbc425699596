from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from visionflow.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    WorkspaceNotFoundError,
)
from visionflow.store import Database, Registry

SHA = "ab" * 32


def _utc(moment: datetime | None) -> datetime | None:
    """Comparable regardless of the backend's timezone handling (see the timestamp test)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def registry(database: Database) -> Registry:
    return Registry(database)


# -- workspaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-char"),
        pytest.param("acme", id="word"),
        pytest.param("team-1_x", id="dash-underscore"),
        pytest.param("0day", id="leading-digit"),
        pytest.param("a" * 64, id="64-chars"),
    ],
)
def test_create_workspace(registry: Registry, name: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)

    record = registry.create_workspace(name)

    assert record.name == name
    assert record.id > 0
    assert record.created_at >= before
    assert registry.get_workspace(name).id == record.id
    assert registry.find_workspace(name) == registry.get_workspace(name)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("Acme", id="uppercase"),
        pytest.param("-acme", id="leading-dash"),
        pytest.param("_acme", id="leading-underscore"),
        pytest.param("ac me", id="space"),
        pytest.param("acme/x", id="slash"),
        pytest.param("a" * 65, id="65-chars"),
        pytest.param("café", id="non-ascii"),
        pytest.param("acme\n", id="trailing-newline"),
    ],
)
def test_invalid_workspace_names(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid workspace name") as caught:
        registry.create_workspace(name)

    assert caught.value.status_code == 400
    assert registry.list_workspaces() == []


def test_duplicate_workspace(registry: Registry) -> None:
    registry.create_workspace("acme")

    with pytest.raises(ConflictError, match="'acme' already exists") as caught:
        registry.create_workspace("acme")

    assert caught.value.status_code == 409
    assert [w.name for w in registry.list_workspaces()] == ["acme"]


def test_ensure_workspace_is_idempotent(registry: Registry) -> None:
    first = registry.ensure_workspace("acme")
    second = registry.ensure_workspace("acme")

    assert first.id == second.id
    assert len(registry.list_workspaces()) == 1


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param(["b", "a", "c"], ["a", "b", "c"], id="sorted-by-name"),
    ],
)
def test_list_workspaces(registry: Registry, created: list[str], expected: list[str]) -> None:
    for name in created:
        registry.create_workspace(name)

    assert [w.name for w in registry.list_workspaces()] == expected


def test_unknown_workspace(registry: Registry) -> None:
    assert registry.find_workspace("ghost") is None
    with pytest.raises(WorkspaceNotFoundError, match="'ghost' does not exist") as caught:
        registry.get_workspace("ghost")
    assert caught.value.status_code == 404


# -- API keys -----------------------------------------------------------------------------------


def _api_key_rows(database: Database) -> list[dict[str, object]]:
    with database.engine.connect() as connection:
        return [dict(row) for row in connection.execute(text("SELECT * FROM api_keys")).mappings()]


def test_api_key_plaintext_is_returned_once_and_only_its_hash_stored(
    database: Database, registry: Registry
) -> None:
    registry.create_workspace("acme")

    record, plaintext = registry.create_api_key("acme", "ci")

    assert plaintext.startswith("vf_")
    assert len(plaintext) >= 40
    assert record.prefix == plaintext[:10]
    assert (record.workspace, record.name, record.active) == ("acme", "ci", True)
    (row,) = _api_key_rows(database)
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row["prefix"] == plaintext[:10]
    stored = " ".join(str(value) for value in row.values())
    assert plaintext not in stored
    assert plaintext[10:] not in stored  # not even the secret part without the prefix
    listed = registry.list_api_keys("acme")
    assert all(plaintext not in repr(r) for r in listed)


def test_api_keys_are_distinct(registry: Registry) -> None:
    registry.create_workspace("acme")

    keys = {registry.create_api_key("acme")[1] for _ in range(5)}

    assert len(keys) == 5


def test_workspace_for_key(registry: Registry) -> None:
    acme = registry.create_workspace("acme")
    other = registry.create_workspace("other")
    _, acme_key = registry.create_api_key("acme")
    _, other_key = registry.create_api_key("other")

    found_acme = registry.workspace_for_key(acme_key)
    found_other = registry.workspace_for_key(other_key)

    assert found_acme is not None
    assert found_other is not None
    assert (found_acme.id, found_acme.name) == (acme.id, "acme")
    assert (found_other.id, found_other.name) == (other.id, "other")


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param("", id="empty"),
        pytest.param("vf_not-a-real-key", id="unknown"),
        pytest.param("PREFIX_ONLY", id="prefix-of-real-key"),
        pytest.param("HASH", id="the-stored-hash"),
    ],
)
def test_workspace_for_unknown_key(database: Database, registry: Registry, candidate: str) -> None:
    registry.create_workspace("acme")
    record, _ = registry.create_api_key("acme")
    if candidate == "PREFIX_ONLY":
        candidate = record.prefix
    elif candidate == "HASH":
        candidate = str(_api_key_rows(database)[0]["key_hash"])

    assert registry.workspace_for_key(candidate) is None


def test_revoke_api_key(registry: Registry) -> None:
    registry.create_workspace("acme")
    record, plaintext = registry.create_api_key("acme", "old")
    _, kept = registry.create_api_key("acme", "new")

    revoked = registry.revoke_api_key(record.id)
    again = registry.revoke_api_key(record.id)

    assert revoked.revoked_at is not None
    assert revoked.active is False
    assert _utc(again.revoked_at) == _utc(revoked.revoked_at)  # revoking twice keeps the first
    assert registry.workspace_for_key(plaintext) is None
    assert registry.workspace_for_key(kept) is not None
    states = {k.name: k.active for k in registry.list_api_keys("acme")}
    assert states == {"old": False, "new": True}


def test_revoke_unknown_key(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="#999 does not exist"):
        registry.revoke_api_key(999)


def test_create_key_for_unknown_workspace(registry: Registry) -> None:
    with pytest.raises(WorkspaceNotFoundError):
        registry.create_api_key("ghost")


@pytest.mark.parametrize(
    ("workspace", "expected"),
    [
        pytest.param("empty", [], id="workspace-without-keys"),
        pytest.param("ghost", [], id="unknown-workspace"),
        pytest.param("acme", [("acme", "k1"), ("acme", "k3")], id="one-workspace"),
        pytest.param(None, [("acme", "k1"), ("other", "k2"), ("acme", "k3")], id="all-by-id"),
    ],
)
def test_list_api_keys(
    registry: Registry, workspace: str | None, expected: list[tuple[str, str]]
) -> None:
    for name in ("acme", "other", "empty"):
        registry.create_workspace(name)
    registry.create_api_key("acme", "k1")
    registry.create_api_key("other", "k2")
    registry.create_api_key("acme", "k3")

    listed = registry.list_api_keys(workspace)

    assert [(k.workspace, k.name) for k in listed] == expected
    assert all(k.active and k.prefix.startswith("vf_") for k in listed)


def test_timestamps_read_back_are_timezone_aware(registry: Registry) -> None:
    created = registry.create_workspace("acme")
    key, _ = registry.create_api_key("acme")
    registry.add_model_version("acme", "p", 1, task="t", architecture="a", package_sha256=SHA)
    registry.revoke_api_key(key.id)

    read_back = [
        registry.get_workspace("acme").created_at,
        registry.list_api_keys()[0].created_at,
        registry.list_api_keys()[0].revoked_at,
        registry.list_model_versions()[0].created_at,
    ]

    assert created.created_at.tzinfo is not None
    assert [t is not None and t.tzinfo is not None for t in read_back] == [True] * 4
    assert all(abs(t - created.created_at) < timedelta(minutes=1) for t in read_back if t)


# -- model versions -----------------------------------------------------------------------------


def _add(registry: Registry, workspace: str, project: str, version: int) -> None:
    registry.add_model_version(
        workspace,
        project,
        version,
        task="object-detection",
        architecture="yolov8",
        package_sha256=SHA,
    )


def test_add_and_find_model_version(registry: Registry) -> None:
    registry.create_workspace("acme")

    record = registry.add_model_version(
        "acme", "shapes", 3, task="object-detection", architecture="yolov8", package_sha256=SHA
    )

    assert record.model_id == "shapes/3"
    assert (record.workspace, record.task, record.architecture) == (
        "acme",
        "object-detection",
        "yolov8",
    )
    found = registry.find_model_version("acme", "shapes", 3)
    assert found is not None
    assert (found.model_id, found.package_sha256, found.workspace) == ("shapes/3", SHA, "acme")


@pytest.mark.parametrize(
    ("workspace", "project", "version"),
    [
        pytest.param("acme", "shapes", 4, id="other-version"),
        pytest.param("acme", "Shapes", 3, id="project-case-sensitive"),
        pytest.param("other", "shapes", 3, id="other-workspace"),
        pytest.param("ghost", "shapes", 3, id="unknown-workspace"),
    ],
)
def test_find_model_version_misses(
    registry: Registry, workspace: str, project: str, version: int
) -> None:
    registry.create_workspace("acme")
    registry.create_workspace("other")
    _add(registry, "acme", "shapes", 3)

    assert registry.find_model_version(workspace, project, version) is None


def test_duplicate_model_version(registry: Registry) -> None:
    registry.create_workspace("acme")
    registry.create_workspace("other")
    _add(registry, "acme", "shapes", 1)

    with pytest.raises(ConflictError, match="shapes/1 already exists in workspace 'acme'"):
        _add(registry, "acme", "shapes", 1)
    _add(registry, "other", "shapes", 1)  # the same id in another workspace is fine
    _add(registry, "acme", "shapes", 2)

    assert [m.model_id for m in registry.list_model_versions("acme")] == ["shapes/1", "shapes/2"]


@pytest.mark.parametrize(
    ("project", "version", "error", "message"),
    [
        pytest.param("shapes", 0, InvalidInputError, "positive integer", id="version-zero"),
        pytest.param("shapes", -3, InvalidInputError, "positive integer", id="version-negative"),
        pytest.param("", 1, InvalidInputError, "invalid project name", id="empty-project"),
        pytest.param("../etc", 1, InvalidInputError, "invalid project name", id="path-escape"),
        pytest.param("a/b", 1, InvalidInputError, "invalid project name", id="slash"),
        pytest.param(".hidden", 1, InvalidInputError, "invalid project name", id="leading-dot"),
        pytest.param("x" * 129, 1, InvalidInputError, "invalid project name", id="129-chars"),
        pytest.param("shapes\n", 1, InvalidInputError, "invalid project name", id="newline"),
    ],
)
def test_add_model_version_rejects(
    registry: Registry, project: str, version: int, error: type[Exception], message: str
) -> None:
    registry.create_workspace("acme")

    with pytest.raises(error, match=message):
        _add(registry, "acme", project, version)

    assert registry.list_model_versions() == []


@pytest.mark.parametrize(
    "project",
    [
        pytest.param("x" * 128, id="128-chars"),
        pytest.param("My.Project_v2-final", id="mixed"),
    ],
)
def test_add_model_version_accepts_project_names(registry: Registry, project: str) -> None:
    registry.create_workspace("acme")

    _add(registry, "acme", project, 1)

    assert registry.find_model_version("acme", project, 1) is not None


def test_add_model_version_to_unknown_workspace(registry: Registry) -> None:
    with pytest.raises(WorkspaceNotFoundError):
        _add(registry, "ghost", "shapes", 1)


@pytest.mark.parametrize(
    ("workspace", "expected"),
    [
        pytest.param("empty", [], id="empty"),
        pytest.param(
            "acme",
            [("acme", "alpha/2"), ("acme", "alpha/10"), ("acme", "beta/1")],
            id="one-workspace-numeric-versions",
        ),
        pytest.param(
            None,
            [
                ("acme", "alpha/2"),
                ("acme", "alpha/10"),
                ("acme", "beta/1"),
                ("zeta", "alpha/1"),
            ],
            id="all-by-workspace-project-version",
        ),
    ],
)
def test_list_model_versions_order(
    registry: Registry, workspace: str | None, expected: list[tuple[str, str]]
) -> None:
    for name in ("zeta", "acme", "empty"):
        registry.create_workspace(name)
    for ws, project, version in [
        ("zeta", "alpha", 1),
        ("acme", "beta", 1),
        ("acme", "alpha", 10),
        ("acme", "alpha", 2),
    ]:
        _add(registry, ws, project, version)

    listed = registry.list_model_versions(workspace)

    assert [(m.workspace, m.model_id) for m in listed] == expected


def test_delete_model_version(registry: Registry) -> None:
    registry.create_workspace("acme")
    _add(registry, "acme", "shapes", 1)
    _add(registry, "acme", "shapes", 2)

    assert registry.delete_model_version("acme", "shapes", 1) is True
    assert registry.delete_model_version("acme", "shapes", 1) is False
    assert registry.delete_model_version("ghost", "shapes", 2) is False

    assert [m.model_id for m in registry.list_model_versions()] == ["shapes/2"]
    _add(registry, "acme", "shapes", 1)  # a deleted version number can be registered again


# -- remembered lookups -------------------------------------------------------------------------


def test_lookups_find_the_first_workspace_that_has_the_model(database: Database) -> None:
    registry = Registry(database, lookup_ttl_s=60)
    registry.create_workspace("acme")
    registry.create_workspace("demo")
    _add(registry, "demo", "shapes", 1)
    found = registry.find_model_version_in(("acme", "demo"), "shapes", 1)
    assert found is not None
    assert found.workspace == "demo"
    _add(registry, "acme", "shapes", 1)  # the tenant's own version now comes first
    found = registry.find_model_version_in(("acme", "demo"), "shapes", 1)
    assert found is not None
    assert found.workspace == "acme"
    assert registry.find_model_version_in(("acme", "demo"), "shapes", 2) is None


def test_a_lookup_is_remembered_until_a_write_or_forget(database: Database) -> None:
    """``cached`` and ``other`` stand for two processes on one registry: ``other``'s deletion
    reaches ``cached`` only through ``forget_lookups`` (a change notice) or the time to live;
    ``cached``'s own writes are seen at once."""
    cached = Registry(database, lookup_ttl_s=60)
    other = Registry(database)
    cached.create_workspace("acme")
    _add(other, "acme", "shapes", 1)
    assert cached.find_model_version_in(("acme",), "shapes", 1) is not None
    assert other.delete_model_version("acme", "shapes", 1)
    assert cached.find_model_version_in(("acme",), "shapes", 1) is not None  # remembered
    cached.forget_lookups()
    assert cached.find_model_version_in(("acme",), "shapes", 1) is None
    _add(other, "acme", "shapes", 1)  # misses are not remembered
    assert cached.find_model_version_in(("acme",), "shapes", 1) is not None
    assert cached.delete_model_version("acme", "shapes", 1)
    assert cached.find_model_version_in(("acme",), "shapes", 1) is None
    _add(cached, "acme", "shapes", 1)
    assert cached.find_model_version_in(("acme",), "shapes", 1) is not None
    cached.delete_workspace("acme", force=True)
    assert cached.find_model_version_in(("acme",), "shapes", 1) is None
