"""The workflow service: stored versions in the registry, the definition cache, visibility."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflows.fakes import definition
from visionflow.config import Settings
from visionflow.errors import InvalidInputError, WorkspaceNotFoundError
from visionflow.service.auth import Principal
from visionflow.service.images import ImageLoader
from visionflow.service.services import Services
from visionflow.service.workflows import WorkflowRun, WorkflowService
from visionflow.workflows import WorkflowNotFoundError
from visionflow.workflows.errors import WorkflowDefinitionError, WorkflowSyntaxError

ACME = Principal(workspace="acme", visible_workspaces=("acme", "demo"))


def _greeting(name: str) -> dict[str, Any]:
    return definition(
        [],
        {"name": "$inputs.name"},
        inputs=[{"type": "WorkflowParameter", "name": "name", "default_value": name}],
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def workflows(services: Services, clock: Clock) -> WorkflowService:
    services.registry.create_workspace("acme")
    images: ImageLoader = services.images
    return WorkflowService(
        services.registry, services.inference, images, definition_ttl_s=60, clock=clock
    )


def test_versions_count_up_per_workflow(services: Services, workflows: WorkflowService) -> None:
    first = workflows.save("acme", "greet", _greeting("a"))
    second = workflows.save("acme", "greet", _greeting("b"))
    other = workflows.save("acme", "other", _greeting("c"))
    assert (first.version, second.version, other.version) == (1, 2, 1)
    latest = services.registry.find_workflow("acme", "greet")
    assert latest is not None
    assert (latest.version, latest.definition) == (2, _greeting("b"))
    pinned = services.registry.find_workflow("acme", "greet", 1)
    assert pinned is not None
    assert pinned.definition == _greeting("a")
    assert services.registry.find_workflow("acme", "greet", 3) is None
    assert services.registry.find_workflow("acme", "nothing") is None


@pytest.mark.parametrize(
    ("workspace", "name", "workflow", "error"),
    [
        pytest.param("acme", "bad name!", _greeting("a"), InvalidInputError, id="bad-name"),
        pytest.param("nowhere", "greet", _greeting("a"), WorkspaceNotFoundError, id="no-ws"),
        pytest.param("acme", "greet", {"version": "1.0"}, WorkflowSyntaxError, id="invalid"),
    ],
)
def test_save_refuses(
    workflows: WorkflowService,
    workspace: str,
    name: str,
    workflow: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        workflows.save(workspace, name, workflow)


def _run(workflows: WorkflowService, **options: Any) -> Any:
    return workflows.run_stored(ACME, "acme", "greet", WorkflowRun(inputs={}), **options).outputs


def test_definitions_are_cached_until_they_expire(
    workflows: WorkflowService, services: Services, clock: Clock
) -> None:
    workflows.save("acme", "greet", _greeting("a"))
    assert _run(workflows) == [{"name": "a"}]
    # Stored by another process (the CLI) on SQLite: no change notice reaches this cache.
    services.registry.add_workflow_version("acme", "greet", _greeting("b"))
    clock.now = 59
    assert _run(workflows) == [{"name": "a"}]
    clock.now = 61
    assert _run(workflows) == [{"name": "b"}]


def test_saving_a_version_drops_the_cached_copy_at_once(workflows: WorkflowService) -> None:
    workflows.save("acme", "greet", _greeting("a"))
    assert _run(workflows) == [{"name": "a"}]
    workflows.save("acme", "greet", _greeting("b"))
    assert _run(workflows) == [{"name": "b"}]


def test_use_cache_false_rereads_and_refreshes(
    workflows: WorkflowService, services: Services
) -> None:
    workflows.save("acme", "greet", _greeting("a"))
    assert _run(workflows) == [{"name": "a"}]
    services.registry.add_workflow_version("acme", "greet", _greeting("b"))
    assert _run(workflows, use_cache=False) == [{"name": "b"}]
    assert _run(workflows) == [{"name": "b"}]


@pytest.mark.parametrize(
    ("principal", "workspace", "version", "error"),
    [
        pytest.param(ACME, "acme", "7", WorkflowNotFoundError, id="no-such-version"),
        pytest.param(ACME, "rival", None, WorkflowNotFoundError, id="other-workspace"),
        pytest.param(
            Principal(None, ("demo",)), "acme", None, WorkflowNotFoundError, id="anonymous"
        ),
        pytest.param(ACME, "acme", "v1", InvalidInputError, id="bad-version"),
        pytest.param(ACME, "acme", "0", InvalidInputError, id="version-zero"),
    ],
)
def test_stored_lookup_errors(
    workflows: WorkflowService,
    principal: Principal,
    workspace: str,
    version: str | None,
    error: type[Exception],
) -> None:
    workflows.save("acme", "greet", _greeting("a"))
    with pytest.raises(error):
        workflows.stored(principal, workspace, "greet", version)


def test_demo_workflows_are_visible_to_everyone(
    services: Services, workflows: WorkflowService
) -> None:
    services.registry.ensure_workspace("demo")
    workflows.save("demo", "greet", _greeting("hi"))
    for principal in (ACME, Principal(None, ("demo",))):
        assert workflows.stored(principal, "demo", "greet").definition == _greeting("hi")


def test_execution_engine_versions() -> None:
    assert WorkflowService.execution_engine_versions() == ["1.17.0"]


# -- limits from settings -------------------------------------------------------------------------


def _steps(count: int) -> dict[str, Any]:
    steps = [
        {
            "type": "roboflow_core/property_definition@v1",
            "name": f"s{i}",
            "data": "$inputs.name",
            "operations": [],
        }
        for i in range(count)
    ]
    return definition(steps, {}, inputs=[{"type": "WorkflowParameter", "name": "name"}])


@pytest.fixture
def limited(settings: Settings) -> Iterator[Services]:
    built = Services.build(dataclasses.replace(settings, workflows_max_steps=3))
    built.registry.create_workspace("acme")
    yield built
    built.close()


def test_inline_runs_are_held_to_the_settings(limited: Services) -> None:
    run = WorkflowRun(inputs={"name": "x"})
    assert limited.workflows.run(ACME, _steps(3), run).outputs == [{}]
    with pytest.raises(WorkflowDefinitionError, match="VISIONFLOW_WORKFLOWS_MAX_STEPS") as raised:
        limited.workflows.run(ACME, _steps(4), run)
    assert raised.value.http_status == 413


def test_saving_is_held_to_the_settings(limited: Services) -> None:
    with pytest.raises(WorkflowDefinitionError, match="has 4 steps, more than the 3"):
        limited.workflows.save("acme", "big", _steps(4))
    assert limited.registry.find_workflow("acme", "big") is None


def test_stored_runs_are_held_to_the_settings(limited: Services) -> None:
    """A definition stored before the limit was lowered (written to the store directly)."""
    limited.registry.add_workflow_version("acme", "big", _steps(4))
    with pytest.raises(WorkflowDefinitionError, match="VISIONFLOW_WORKFLOWS_MAX_STEPS"):
        limited.workflows.run_stored(ACME, "acme", "big", WorkflowRun(inputs={"name": "x"}))
    with pytest.raises(WorkflowDefinitionError, match="VISIONFLOW_WORKFLOWS_MAX_STEPS"):
        limited.workflows.describe_stored_interface(ACME, "acme", "big")


def test_runs_are_held_to_the_run_time_setting(settings: Settings) -> None:
    built = Services.build(dataclasses.replace(settings, workflows_max_run_s=7.5))
    try:
        assert built.workflows.executor.limits.max_run_s == 7.5
        assert built.workflows.compiler.limits == built.workflows.executor.limits
    finally:
        built.close()
