"""``visionflow workflows push | list | show | run`` on a temp data directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes
from tests.workflows.fakes import definition
from visionflow.cli import app

runner = CliRunner()

DETECT = definition(
    [
        {
            "type": "roboflow_core/roboflow_object_detection_model@v2",
            "name": "det",
            "images": "$inputs.image",
            "model_id": "known/1",
            "confidence": "$inputs.conf",
        },
        {
            "type": "roboflow_core/property_definition@v1",
            "name": "count",
            "data": "$steps.det.predictions",
            "operations": [{"type": "SequenceLength"}],
        },
    ],
    {"count": "$steps.count.output", "label": "$inputs.label"},
    inputs=[
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "conf", "default_value": 0.4},
        {"type": "WorkflowParameter", "name": "label", "default_value": "none"},
    ],
)


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--home", str(home)], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_push_list_show(tmp_path: Path, home: Path) -> None:
    first = write(tmp_path, "v1.json", DETECT)
    second = write(tmp_path, "v2.json", {"specification": definition([], {})})
    assert cli(home, "workflows", "push", "detect", str(first))[:2] == (0, "1\n")
    code, out, err = cli(home, "workflows", "push", "detect", str(second))
    assert (code, out) == (0, "2\n")
    assert "stored workflow detect in demo as version 2" in err
    code, out, _ = cli(home, "workflows", "list")
    assert code == 0
    assert "detect" in out
    assert " 2 " in out
    code, out, err = cli(home, "workflows", "show", "detect")
    assert (code, json.loads(out)) == (0, definition([], {}))
    assert "version 2" in err
    code, out, _ = cli(home, "workflows", "show", "detect", "--version", "1")
    assert (code, json.loads(out)) == (0, DETECT)


def test_list_is_empty_at_first(home: Path) -> None:
    code, out, _ = cli(home, "workflows", "list")
    assert code == 0
    assert "detect" not in out


@pytest.mark.parametrize(
    ("content", "code", "messages"),
    [
        pytest.param("{not json", 2, ["is not valid JSON: line 1, column 2"], id="invalid-json"),
        pytest.param("[1, 2]", 2, ["must hold a JSON object"], id="not-an-object"),
        pytest.param("", 2, ["is not valid JSON"], id="empty-file"),
        pytest.param(
            definition(
                [
                    {"type": "roboflow_core/dynamic_crop@v1", "name": "crop"},
                    {"type": "roboflow_core/dynamic_cropp@v1", "name": "other"},
                ],
                {},
            ),
            1,
            [
                "step 'crop' (roboflow_core/dynamic_crop@v1) field 'images': Field required",
                "step 'crop' (roboflow_core/dynamic_crop@v1) field 'predictions': Field required",
                "step 'other' (roboflow_core/dynamic_cropp@v1) field 'type': unknown block type",
            ],
            id="compile-errors-per-step-and-field",
        ),
    ],
)
def test_push_errors(
    tmp_path: Path, home: Path, content: Any, code: int, messages: list[str]
) -> None:
    path = write(tmp_path, "bad.json", content)
    result_code, out, err = cli(home, "workflows", "push", "w", str(path))
    assert (result_code, out) == (code, "")
    flat = " ".join(err.split())
    for message in messages:
        assert message in flat
    assert "w" not in cli(home, "workflows", "list")[1].split()


def test_push_of_a_missing_file(tmp_path: Path, home: Path) -> None:
    code, _, err = cli(home, "workflows", "push", "w", str(tmp_path / "nothing.json"))
    assert code == 2
    assert "cannot read" in err


@pytest.fixture
def with_model(home: Path, fixture_onnx: Path) -> Path:
    code, _, err = cli(home, "models", "add", "known/1", str(fixture_onnx))
    assert code == 0, err
    return home


def test_run_prints_outputs(tmp_path: Path, with_model: Path) -> None:
    cli(with_model, "workflows", "push", "detect", str(write(tmp_path, "d.json", DETECT)))
    image = tmp_path / "in.jpg"
    image.write_bytes(jpeg_bytes())
    code, out, err = cli(
        with_model,
        "workflows",
        "run",
        "detect",
        "--image",
        str(image),
        "--param",
        "conf=0.5",
        "--param",
        "label=shapes",
    )
    assert code == 0, err
    assert json.loads(out) == [{"count": 1, "label": "shapes"}]
    code, out, err = cli(
        with_model,
        "workflows",
        "run",
        "detect",
        "--image",
        f"image={image}",
        "--image",
        str(image),
        "--exclude",
        "label",
        "--param",
        "conf=0.95",
    )
    assert code == 0, err
    assert json.loads(out) == [{"count": 0}, {"count": 0}]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["missing"], 1, "Workflow 'missing' not found", id="no-workflow"),
        pytest.param(["detect", "--version", "5"], 1, "version 5 not found", id="no-version"),
        pytest.param(["detect"], 2, "input(s) image: pass --image PATH", id="no-image"),
        pytest.param(
            ["two", "--image", "a=in.jpg"], 2, "input(s) b: pass --image b=PATH", id="one-of-two"
        ),
        pytest.param(["detect", "--image", "nothing.jpg"], 2, "cannot read", id="missing-image"),
        pytest.param(["detect", "--param", "conf"], 2, "expected NAME=VALUE", id="bad-param"),
        pytest.param(
            ["detect", "--image", "in.jpg", "--param", "conf=2"],
            1,
            "field 'confidence'",
            id="param-out-of-range",
        ),
        pytest.param(
            ["two", "--image", "in.jpg"], 2, "image inputs of the workflow: a, b", id="ambiguous"
        ),
    ],
)
def test_run_errors(
    tmp_path: Path,
    with_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jpg").write_bytes(jpeg_bytes())
    two = definition(
        [],
        {},
        inputs=[{"type": "WorkflowImage", "name": "a"}, {"type": "WorkflowImage", "name": "b"}],
    )
    cli(with_model, "workflows", "push", "detect", str(write(tmp_path, "d.json", DETECT)))
    cli(with_model, "workflows", "push", "two", str(write(tmp_path, "t.json", two)))
    result_code, out, err = cli(with_model, "workflows", "run", *args)
    assert (result_code, out) == (code, "")
    assert message in " ".join(err.split())
