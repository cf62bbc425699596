"""Stored workflow versions on SQLite and PostgreSQL: numbering, reading one, listing."""

from __future__ import annotations

from typing import Any

import pytest

from visionflow.errors import InvalidInputError, WorkspaceNotFoundError
from visionflow.store import Database, Registry, StoredWorkflowRecord, StoredWorkflowSummary


def _definition(tag: str) -> dict[str, Any]:
    return {"version": "1.0", "inputs": [], "steps": [], "outputs": [], "tag": tag}


@pytest.fixture
def registry(database: Database) -> Registry:
    created = Registry(database)
    created.create_workspace("acme")
    created.create_workspace("globex")
    return created


def test_versions_count_up_per_workflow_and_workspace(registry: Registry) -> None:
    pushed = [
        registry.add_workflow_version("acme", "count", _definition("a1")),
        registry.add_workflow_version("acme", "count", _definition("a2")),
        registry.add_workflow_version("acme", "detect", _definition("b1")),
        registry.add_workflow_version("globex", "count", _definition("g1")),
    ]
    assert [(r.workspace, r.name, r.version) for r in pushed] == [
        ("acme", "count", 1),
        ("acme", "count", 2),
        ("acme", "detect", 1),
        ("globex", "count", 1),
    ]
    assert all(isinstance(r, StoredWorkflowRecord) for r in pushed)


@pytest.mark.parametrize(
    ("workspace", "name", "version", "tag"),
    [
        pytest.param("acme", "count", None, "a2", id="latest"),
        pytest.param("acme", "count", 1, "a1", id="pinned"),
        pytest.param("acme", "count", 3, None, id="no-such-version"),
        pytest.param("globex", "count", None, "g1", id="other-workspace"),
        pytest.param("globex", "detect", None, None, id="not-in-this-workspace"),
        pytest.param("initech", "count", None, None, id="no-such-workspace"),
    ],
)
def test_find_workflow(
    registry: Registry, workspace: str, name: str, version: int | None, tag: str | None
) -> None:
    for ws, wf, t in [("acme", "count", "a1"), ("acme", "count", "a2"), ("globex", "count", "g1")]:
        registry.add_workflow_version(ws, wf, _definition(t))
    found = registry.find_workflow(workspace, name, version)
    assert (found.definition["tag"] if found else None) == tag


@pytest.mark.parametrize(
    ("workspace", "expected"),
    [
        pytest.param(
            None,
            [("acme", "count", 2), ("acme", "detect", 1), ("globex", "count", 1)],
            id="all",
        ),
        pytest.param("acme", [("acme", "count", 2), ("acme", "detect", 1)], id="one-workspace"),
        pytest.param("initech", [], id="empty"),
    ],
)
def test_list_workflows(
    registry: Registry, workspace: str | None, expected: list[tuple[str, str, int]]
) -> None:
    registry.add_workflow_version("acme", "detect", _definition("b1"))
    first = registry.add_workflow_version("acme", "count", _definition("a1"))
    latest = registry.add_workflow_version("acme", "count", _definition("a2"))
    registry.add_workflow_version("globex", "count", _definition("g1"))
    listed = registry.list_workflows(workspace)
    assert [(s.workspace, s.name, s.latest_version) for s in listed] == expected
    assert all(isinstance(s, StoredWorkflowSummary) for s in listed)
    count = next((s for s in listed if (s.workspace, s.name) == ("acme", "count")), None)
    if count is not None:
        assert count.created_at == first.created_at
        assert count.updated_at == latest.created_at
        assert count.created_at <= count.updated_at


def test_list_of_a_workspace_without_workflows_is_empty(registry: Registry) -> None:
    assert registry.list_workflows("acme") == []


@pytest.mark.parametrize(
    ("workspace", "name", "error"),
    [
        pytest.param("acme", "bad name", InvalidInputError, id="space"),
        pytest.param("acme", "", InvalidInputError, id="empty-name"),
        pytest.param("acme", "x" * 129, InvalidInputError, id="too-long"),
        pytest.param("initech", "count", WorkspaceNotFoundError, id="no-workspace"),
    ],
)
def test_add_refuses(registry: Registry, workspace: str, name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        registry.add_workflow_version(workspace, name, _definition("x"))
    assert registry.list_workflows() == []


def test_definitions_round_trip_as_json(registry: Registry) -> None:
    definition = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowParameter", "name": "p", "default_value": [1, 2.5, None]}],
        "steps": [],
        "outputs": [{"type": "JsonField", "name": "p", "selector": "$inputs.p"}],
        "unicode": "déjà vu ✓",
    }
    registry.add_workflow_version("acme", "round-trip", definition)
    found = registry.find_workflow("acme", "round-trip")
    assert found is not None
    assert found.definition == definition
