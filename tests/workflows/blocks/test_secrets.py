"""``environment_secrets_store`` reads only allow-listed variables, and outputs them masked."""

from __future__ import annotations

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.errors import VisionflowError
from visionflow.workflows import RunContext
from visionflow.workflows.limits import RunBudget, WorkflowLimits


def _run(
    monkeypatch: pytest.MonkeyPatch, allow: tuple[str, ...], serialize: bool
) -> dict[str, object]:
    monkeypatch.setenv("VF_TEST_SECRET", "abcdefghijkl")
    monkeypatch.delenv("VF_TEST_UNSET", raising=False)
    context = RunContext(
        models=ScriptedModels(),
        budget=RunBudget(WorkflowLimits(secret_env_allowlist=allow), deadline=1e18),
    )
    steps = [
        step(
            "environment_secrets_store@v1",
            "env",
            variables_storing_secrets=["VF_TEST_SECRET", "VF_TEST_UNSET"],
        )
    ]
    return run(
        steps,
        {"s": "$steps.env.vf_test_secret", "u": "$steps.env.vf_test_unset"},
        {"image": canvas()},
        context=context,
        serialize=serialize,
    )[0]


def test_allowed_variables_are_read_and_masked_on_output(monkeypatch: pytest.MonkeyPatch) -> None:
    allow = ("VF_TEST_SECRET", "VF_TEST_UNSET")
    assert _run(monkeypatch, allow, serialize=False) == {"s": "abcdefghijkl", "u": None}
    assert _run(monkeypatch, allow, serialize=True) == {"s": "ab********kl", "u": None}


def test_other_variables_are_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        VisionflowError, match="VISIONFLOW_WORKFLOWS_SECRET_ENV_ALLOWLIST"
    ) as caught:
        _run(monkeypatch, ("VF_TEST_SECRET",), serialize=False)
    assert "VF_TEST_UNSET" in str(caught.value)
    assert caught.value.http_status == 403
