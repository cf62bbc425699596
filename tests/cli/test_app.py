"""The ``visionflow`` command line, on a temp data directory."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes
from visionflow.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def run_stdout(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout


def test_workspaces_keys_models_infer(tmp_path: Path, fixture_onnx: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run("workspaces", "create", "acme", *home)
    assert code == 1
    assert "already exists" in output
    code, output = run("workspaces", "list", *home)
    assert "acme" in output

    code, output = run_stdout("keys", "create", "acme", "--name", "ci", *home)
    assert code == 0
    key = output.strip()
    assert key.startswith("vf_")
    code, output = run("keys", "list", *home)
    assert key[:10] in output
    assert "active" in output

    code, output = run("models", "add", "known/1", str(fixture_onnx), "--workspace", "acme", *home)
    assert code == 0, output
    assert "registered known/1 in acme: object-detection" in output
    code, output = run("models", "add", "known/1", str(fixture_onnx), "--workspace", "acme", *home)
    assert code == 1
    assert "already exists" in output
    code, output = run("models", "list", *home)
    assert "known/1" in output

    image = tmp_path / "in.jpg"
    image.write_bytes(jpeg_bytes())
    out = tmp_path / "out.jpg"
    code, output = run_stdout(
        "infer", str(image), "--model", "known/1", "--workspace", "acme", "--out", str(out), *home
    )
    assert code == 0, output
    payload = json.loads(output)
    assert payload["predictions"][0]["class"] == "square"
    drawn = cv2.imread(str(out))
    assert drawn.shape == (480, 640, 3)
    assert not np.array_equal(drawn, cv2.imread(str(image)))

    code, output = run("keys", "revoke", "1", *home)
    assert code == 0
    assert "revoked" in output
    code, output = run("keys", "list", *home)
    assert "revoked" in output


def test_clear_errors(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    code, output = run("models", "add", "x/1", str(tmp_path / "missing.onnx"), *home)
    assert code == 1
    assert "does not exist" in output
    code, output = run("models", "add", "bad-id", str(tmp_path), *home)
    assert code == 1
    assert "Invalid Model ID" in output
    code, output = run("keys", "create", "nobody", *home)
    assert code == 1
    assert "does not exist" in output
    code, output = run("infer", str(tmp_path / "nope.jpg"), "--model", "a/1", *home)
    assert code == 1
    assert "cannot read" in output


def test_bad_configuration_is_reported_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["models", "list", "--home", str(tmp_path)],
        env={"COLUMNS": "200", "VISIONFLOW_MAX_LOADED_MODELS": "many"},
    )
    assert result.exit_code == 2
    assert "VISIONFLOW_MAX_LOADED_MODELS must be an integer" in result.output


@pytest.mark.parametrize(
    ("args", "role", "expires"),
    [
        pytest.param([], "admin", "never", id="default-admin"),
        pytest.param(["--role", "infer"], "infer", "never", id="infer"),
        pytest.param(["--role", "infer", "--expires-in-days", "2"], "infer", "20", id="expiring"),
    ],
)
def test_keys_create_with_role_and_expiry(
    tmp_path: Path, args: list[str], role: str, expires: str
) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run("keys", "create", "acme", *args, *home)
    assert code == 0, output
    assert f"role {role}" in output
    code, output = run("keys", "list", *home)
    row = next(line for line in output.splitlines() if "acme" in line)
    assert role in row
    assert expires in row.split("│")[-3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--role", "root"], "unknown key role 'root'", id="role"),
        pytest.param(["--expires-in-days", "0"], "must be a positive number", id="expiry"),
    ],
)
def test_keys_create_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run("keys", "create", "acme", *args, *home)
    assert code != 0
    assert message in output
