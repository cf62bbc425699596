"""The ``visionflow`` command line, on a temp data directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes
from tests.fixtures.clip_tiny import CLIP_TINY
from tests.fixtures.task_models import write_task_models
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


@pytest.fixture(scope="module")
def task_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_task_models(tmp_path_factory.mktemp("cli-task-models"))


def _predicted(payload: dict[str, Any]) -> list[str]:
    predictions = payload["predictions"]
    return [p["class"] for p in predictions]


@pytest.mark.parametrize(
    ("model_id", "args", "expected"),
    [
        # seg/1: square 0.9, circle 0.8. The CLI used to build detection params, which the
        # segmentation model replaced by its defaults: --confidence had no effect.
        pytest.param("seg/1", [], ["square", "circle"], id="seg-default"),
        pytest.param("seg/1", ["--confidence", "0.85"], ["square"], id="seg-confidence"),
        pytest.param("seg/1", ["--confidence", "0.95"], [], id="seg-confidence-empty"),
        # pose/1: one person at 0.9.
        pytest.param("pose/1", [], ["person"], id="pose-default"),
        pytest.param("pose/1", ["--confidence", "0.95"], [], id="pose-confidence"),
        # cls/1: cat 0.1, dog 0.7, bird 0.2.
        pytest.param("cls/1", [], ["dog"], id="cls-default"),
        pytest.param("cls/1", ["--confidence", "0.15"], ["dog", "bird"], id="cls-confidence"),
    ],
)
def test_infer_honours_confidence_on_every_task(
    tmp_path: Path,
    task_models: dict[str, Path],
    model_id: str,
    args: list[str],
    expected: list[str],
) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run(
        "models", "add", model_id, str(task_models[model_id]), "--workspace", "acme", *home
    )
    assert code == 0, output
    image = tmp_path / "in.jpg"
    image.write_bytes(jpeg_bytes())

    code, output = run_stdout(
        "infer", str(image), "--model", model_id, "--workspace", "acme", *args, *home
    )

    assert code == 0, output
    assert _predicted(json.loads(output)) == expected


@pytest.mark.parametrize(
    ("args", "present"),
    [
        # sem/1: "person" (0.987) where x < 320; the rest is under the default 0.4.
        pytest.param([], [0, 1], id="default"),
        pytest.param(["--confidence", "0.99"], [0], id="confidence"),
    ],
)
def test_infer_honours_confidence_on_semantic_segmentation(
    tmp_path: Path, task_models: dict[str, Path], args: list[str], present: list[int]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run(
        "models", "add", "sem/1", str(task_models["sem/1"]), "--workspace", "acme", *home
    )
    assert code == 0, output
    image = tmp_path / "in.jpg"
    image.write_bytes(jpeg_bytes())

    code, output = run_stdout(
        "infer", str(image), "--model", "sem/1", "--workspace", "acme", *args, *home
    )

    assert code == 0, output
    assert json.loads(output)["predictions"]["present_class_ids"] == present


def test_infer_on_a_model_without_params_is_a_clear_error(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert run("workspaces", "create", "acme", *home)[0] == 0
    code, output = run("models", "add", "clip/1", str(CLIP_TINY), "--workspace", "acme", *home)
    assert code == 0, output
    image = tmp_path / "in.jpg"
    image.write_bytes(jpeg_bytes())

    code, output = run("infer", str(image), "--model", "clip/1", "--workspace", "acme", *home)

    assert code == 1
    assert "embedding models take no inference parameters here" in output
