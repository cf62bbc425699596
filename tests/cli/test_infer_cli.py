"""``visionflow infer PATH...`` over files, folders and globs: JSON, JSON Lines, annotated
images, the summary table, concurrency and errors (the known-output fixture model)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import jpeg_bytes
from visionflow.cli import app
from visionflow.cli.infer import NoImagesError, expand_paths

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, fixture_onnx: Path) -> list[str]:
    option = ["--home", str(tmp_path / "home")]
    assert runner.invoke(app, ["workspaces", "create", "acme", *option]).exit_code == 0
    added = runner.invoke(
        app, ["models", "add", "known/1", str(fixture_onnx), "--workspace", "acme", *option]
    )
    assert added.exit_code == 0, added.output
    return option


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """``images/a.jpg``, ``images/b.png``, ``images/sub/c.jpg``, ``images/sub/a.jpg`` and a
    text file that is not an image."""
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.jpg", "sub/c.jpg", "sub/a.jpg"):
        (folder / name).write_bytes(jpeg_bytes())
    cv2.imwrite(str(folder / "b.png"), cv2.imdecode(np.frombuffer(jpeg_bytes(), np.uint8), 1))
    (folder / "notes.txt").write_text("not an image")
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(["images"], ["a.jpg", "b.png", "sub/a.jpg", "sub/c.jpg"], id="folder"),
        pytest.param(["images/*.jpg"], ["a.jpg"], id="glob"),
        pytest.param(["images/**/a.jpg"], ["a.jpg", "sub/a.jpg"], id="recursive-glob"),
        pytest.param(
            ["images/a.jpg", "images"], ["a.jpg", "b.png", "sub/a.jpg", "sub/c.jpg"], id="once-each"
        ),
        pytest.param(["images/notes.txt"], ["notes.txt"], id="file-as-given"),
    ],
)
def test_expand_paths(
    images: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], expected: list[str]
) -> None:
    monkeypatch.chdir(images.parent)
    found = expand_paths(arguments)
    assert [str(p.relative_to("images")) for p in found] == expected


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        pytest.param("missing.jpg", "cannot read missing.jpg", id="missing"),
        pytest.param("images/*.gif", "no image files match", id="glob-no-match"),
        pytest.param("empty", "no image files", id="empty-folder"),
    ],
)
def test_expand_paths_names_what_matched_nothing(
    images: Path, monkeypatch: pytest.MonkeyPatch, argument: str, message: str
) -> None:
    monkeypatch.chdir(images.parent)
    (images.parent / "empty").mkdir()
    with pytest.raises(NoImagesError, match=message):
        expand_paths([argument])


def test_folder_with_summary_and_annotated_images(
    home: list[str], images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "annotated"
    code, stdout, stderr = invoke(
        "infer", str(images), "-m", "known/1", "--workspace", "acme", "--out", str(out), *home
    )
    assert code == 0, stderr
    assert stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["a-2.jpg", "a.jpg", "b.jpg", "c.jpg"]
    assert all(cv2.imread(str(p)).shape == (480, 640, 3) for p in out.iterdir())
    assert "known/1: 4 images" in stderr
    assert "class square" in stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in stderr.splitlines()
        if line.count("│") >= 3
    }
    assert rows["images"] == "4"
    assert rows["failed"] == "0"
    assert rows["class square"] == "4"


@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_jsonl_one_line_per_image_in_input_order(
    home: list[str], images: Path, concurrency: str
) -> None:
    code, stdout, stderr = invoke(
        "infer",
        str(images),
        "-m",
        "known/1",
        "--workspace",
        "acme",
        "--jsonl",
        "--concurrency",
        concurrency,
        *home,
    )
    assert code == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [Path(line["file"]).name for line in lines] == ["a.jpg", "b.png", "a.jpg", "c.jpg"]
    assert all(line["predictions"][0]["class"] == "square" for line in lines)


def test_json_list_for_several_images(home: list[str], images: Path) -> None:
    code, stdout, stderr = invoke(
        "infer",
        str(images / "a.jpg"),
        str(images / "b.png"),
        "-m",
        "known/1",
        "--workspace",
        "acme",
        "--json",
        *home,
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert [Path(item["file"]).name for item in payload] == ["a.jpg", "b.png"]
    assert payload[0]["result"]["predictions"][0]["class"] == "square"


def test_one_image_prints_its_body(home: list[str], images: Path) -> None:
    code, stdout, _stderr = invoke(
        "infer", str(images / "a.jpg"), "-m", "known/1", "--workspace", "acme", *home
    )
    assert code == 0
    assert json.loads(stdout)["predictions"][0]["class"] == "square"


def test_unreadable_image_is_counted_and_fails_the_run(home: list[str], images: Path) -> None:
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    code, stdout, stderr = invoke(
        "infer", str(images), "-m", "known/1", "--workspace", "acme", "--jsonl", *home
    )
    assert code == 1
    assert len(stdout.splitlines()) == 4
    assert "broken.jpg" in stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in stderr.splitlines()
        if line.count("│") >= 3
    }
    assert (rows["images"], rows["failed"]) == ("5", "1")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--json", "--jsonl"], "one of --json and --jsonl", id="both-json"),
        pytest.param(["--concurrency", "0"], "concurrency", id="concurrency"),
    ],
)
def test_bad_options(home: list[str], images: Path, extra: list[str], message: str) -> None:
    code, stdout, stderr = invoke("infer", str(images), "-m", "known/1", *extra, *home)
    assert code == 2
    assert message in stdout + stderr


def test_out_must_be_a_folder_for_several_images(
    home: list[str], images: Path, tmp_path: Path
) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _stdout, stderr = invoke(
        "infer", str(images), "-m", "known/1", "--workspace", "acme", "--out", str(target), *home
    )
    assert code == 2
    assert "give a folder" in stderr
