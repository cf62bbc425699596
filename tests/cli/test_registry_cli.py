"""``visionflow --version``, ``workspaces list/delete``, ``keys list/revoke``, ``models
list/show/remove`` (tables that keep ids whole, ``--json``), and ``bench``'s runner lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import CLASS_NAMES
from visionflow import __version__
from visionflow.cli import app
from visionflow.cli.bench import find_runner


def invoke(*args: str, columns: int = 200) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path, fixture_onnx: Path) -> list[str]:
    option = ["--home", str(tmp_path / "home")]
    assert invoke("workspaces", "create", "acme", *option)[0] == 0
    assert invoke("workspaces", "create", "empty", *option)[0] == 0
    for model_id in ("a-rather-long-project-name/1", "a-rather-long-project-name/2"):
        code, _out, err = invoke(
            "models", "add", model_id, str(fixture_onnx), "--workspace", "acme", *option
        )
        assert code == 0, err
    assert invoke("keys", "create", "acme", "--name", "ci", *option)[0] == 0
    return option


def test_version() -> None:
    code, stdout, _stderr = invoke("--version")
    assert code == 0
    assert stdout.strip() == f"visionflow {__version__}"


def test_workspaces_list_json_and_table(home: list[str]) -> None:
    code, stdout, _ = invoke("workspaces", "list", "--json", *home)
    assert code == 0
    listed = {w["name"]: w for w in json.loads(stdout)}
    assert listed["acme"]["api_keys"] == 1
    assert listed["acme"]["model_versions"] == 2
    assert listed["empty"]["model_versions"] == 0
    code, stdout, _ = invoke("workspaces", "list", *home)
    assert "acme" in stdout
    assert "empty" in stdout


def test_workspaces_delete(home: list[str]) -> None:
    assert invoke("workspaces", "delete", "empty", *home)[:2] == (0, "deleted workspace empty\n")
    code, _stdout, stderr = invoke("workspaces", "delete", "acme", *home)
    assert code == 1
    assert "1 API key(s), 2 model version(s)" in stderr
    assert "--force" in stderr
    code, stdout, _ = invoke("workspaces", "delete", "acme", "--force", *home)
    assert code == 0
    assert "with 1 API key(s), 2 model version(s)" in stdout
    assert json.loads(invoke("workspaces", "list", "--json", *home)[1]) == []
    assert json.loads(invoke("models", "list", "--json", *home)[1]) == []
    code, _stdout, stderr = invoke("workspaces", "delete", "acme", *home)
    assert code == 1
    assert "does not exist" in stderr


def test_keys_list_json_and_revoke(home: list[str]) -> None:
    [key] = json.loads(invoke("keys", "list", "--json", *home)[1])
    assert (key["workspace"], key["name"], key["status"], key["role"]) == (
        "acme",
        "ci",
        "active",
        "admin",
    )
    assert invoke("keys", "revoke", str(key["id"]), *home)[0] == 0
    [key] = json.loads(invoke("keys", "list", "--json", *home)[1])
    assert key["status"] == "revoked"
    assert key["revoked_at"]
    code, _stdout, stderr = invoke("keys", "revoke", "999", *home)
    assert code == 1
    assert "999" in stderr


def test_tables_keep_ids_whole_in_a_narrow_terminal(home: list[str]) -> None:
    code, stdout, _ = invoke("models", "list", *home, columns=60)
    assert code == 0
    assert "…" not in stdout
    flattened = "".join(
        cell.strip() for line in stdout.splitlines() for cell in line.split("│")[2:3]
    )
    assert "a-rather-long-project-name/1" in flattened


def test_models_list_json(home: list[str]) -> None:
    listed = json.loads(invoke("models", "list", "--json", "--workspace", "acme", *home)[1])
    assert [m["model_id"] for m in listed] == [
        "a-rather-long-project-name/1",
        "a-rather-long-project-name/2",
    ]
    assert len(listed[0]["package_sha256"]) == 64


def test_models_show(home: list[str]) -> None:
    code, stdout, stderr = invoke(
        "models", "show", "a-rather-long-project-name/2", "--workspace", "acme", "--json", *home
    )
    assert code == 0, stderr
    shown = json.loads(stdout)
    assert shown["task_type"] == "object-detection"
    assert shown["class_names"] == list(CLASS_NAMES)
    assert shown["versions"] == [1, 2]
    assert (shown["input_width"], shown["input_height"]) == (320, 320)
    code, stdout, _ = invoke(
        "models", "show", "a-rather-long-project-name/2", "--workspace", "acme", *home
    )
    assert "object-detection" in stdout


@pytest.mark.parametrize(
    ("model_id", "workspace", "message"),
    [
        pytest.param("nope/1", "acme", "not registered in workspace 'acme'", id="unknown"),
        pytest.param("bad-id", "acme", "Invalid Model ID", id="bad-id"),
        pytest.param("x/1", "ghost", "workspace 'ghost' does not exist", id="no-workspace"),
    ],
)
@pytest.mark.parametrize("command", ["show", "remove"])
def test_models_show_and_remove_errors(
    home: list[str], command: str, model_id: str, workspace: str, message: str
) -> None:
    code, _stdout, stderr = invoke("models", command, model_id, "--workspace", workspace, *home)
    assert code == 1
    assert message in stderr


def test_models_remove(home: list[str]) -> None:
    code, stdout, _ = invoke(
        "models", "remove", "a-rather-long-project-name/1", "--workspace", "acme", *home
    )
    assert code == 0
    assert stdout.strip() == "removed a-rather-long-project-name/1 from acme"
    listed = json.loads(invoke("models", "list", "--json", *home)[1])
    assert [m["model_id"] for m in listed] == ["a-rather-long-project-name/2"]


def test_bench_finds_the_checkouts_runner(tmp_path: Path) -> None:
    runner = find_runner(tmp_path)
    assert runner is not None
    assert runner == Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
