"""The README's examples run as written (URL pointed at a test server): the curl calls, our SDK
and the official inference-sdk."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.compat.conftest import ROOT, RunningServer

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", README, flags=re.DOTALL)
DEFAULT_URL = "http://127.0.0.1:9001"


def block_containing(language: str, marker: str) -> str:
    found = [code for lang, code in BLOCKS if lang == language and marker in code]
    assert len(found) == 1, f"README should have one {language} block with {marker!r}"
    return found[0]


@pytest.fixture(scope="module")
def workdir(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository root after `make serve`."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".visionflow").symlink_to(server.home)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    (folder / "scripts").symlink_to(ROOT / "scripts")
    command = re.search(r"`(\.venv/bin/python scripts/shapes\.py preview [^`]+)`", README)
    assert command, "README should show how to make a test image"
    subprocess.run(["bash", "-c", command.group(1)], cwd=folder, check=True, timeout=60)
    assert (folder / "shapes.jpg").is_file()
    return folder


def test_curl_examples(server: RunningServer, workdir: Path) -> None:
    script = block_containing("bash", "curl").replace(DEFAULT_URL, server.url)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.replace("}{", "}\n{").splitlines()]
    assert len(answers) == 3
    for answer in answers:
        assert answer["predictions"], answer
        assert {p["class"] for p in answer["predictions"]} <= {"circle", "square", "triangle"}


def test_visionflow_sdk_example(
    server: RunningServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = block_containing("python", "from visionflow.client").replace(DEFAULT_URL, server.url)
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        # The snippet reads the key itself (from .visionflow/demo-api-key), as a reader's would.
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(previous)
    printed = capsys.readouterr().out.splitlines()
    assert printed
    assert all(line.split()[0] in {"circle", "square", "triangle"} for line in printed)


def test_official_sdk_example(server: RunningServer, workdir: Path, sdk_python: Path) -> None:
    code = block_containing("python", "from inference_sdk").replace(DEFAULT_URL, server.url)
    code = f"{code}\nimport json\nprint(json.dumps(result))\n"
    result = subprocess.run(
        [str(sdk_python), "-W", "ignore", "-c", code],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["predictions"]
