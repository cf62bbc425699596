"""The client-only distribution (``clients/python``, ``visionflow-client``): installed with pip
into a fresh virtualenv, it brings httpx and nothing of the server, and its SDK talks to a real
server on loopback."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningProcess, serve

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = ROOT / "clients" / "python"
SDK = ROOT / "src" / "visionflow" / "client"
# What the SDK's modules may import from the visionflow package: shipped by visionflow-client.
SHIPPED = {"visionflow", "visionflow.client", "visionflow.errors"}

USE = textwrap.dedent(
    """
    import importlib.util, json, sys
    from visionflow.client import InferenceHTTPClient, InvalidApiKeyError

    url, key, image = sys.argv[1:4]
    absent = [m for m in ("numpy", "PIL", "cv2", "fastapi", "onnxruntime", "visionflow.config")
              if importlib.util.find_spec(m) is not None]
    with InferenceHTTPClient(url, api_key=key) as client:
        result = client.infer(image, model_id="shapes/1", confidence=0.3)
    try:
        with InferenceHTTPClient(url, api_key="vf_not-a-key") as client:
            client.infer(image, model_id="shapes/1")
        refused = None
    except InvalidApiKeyError as error:
        refused = type(error).__name__
    print(json.dumps({"present": absent, "classes": sorted(p["class"] for p in
                      result["predictions"]), "refused": refused}))
    """
)


def _visionflow_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "visionflow"}


def test_sdk_imports_only_what_the_distribution_ships() -> None:
    imported = set().union(*(_visionflow_imports(path) for path in sorted(SDK.glob("*.py"))))
    outside = {name for name in imported if not name.startswith("visionflow.client")} - SHIPPED
    assert outside == set(), f"visionflow-client does not ship {sorted(outside)}"


def test_distribution_links_the_sdk_and_shares_the_version() -> None:
    linked = DISTRIBUTION / "src" / "visionflow"
    for name in ("__init__.py", "errors.py", "py.typed", "client"):
        assert (linked / name).is_symlink(), f"{name} should link into src/visionflow"
        assert (linked / name).resolve() == (ROOT / "src" / "visionflow" / name).resolve()
    project = tomllib.loads((DISTRIBUTION / "pyproject.toml").read_text())["project"]
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [httpx_requirement] = [d for d in server["dependencies"] if d.startswith("httpx")]
    assert project["dependencies"] == [httpx_requirement]
    assert project["dynamic"] == ["version"]


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (no site packages) with ``pip install ./clients/python``."""
    venv = tmp_path_factory.mktemp("client-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", str(DISTRIBUTION)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    home = tmp_path_factory.mktemp("client-dist-home")
    with serve(home, {"VISIONFLOW_REGISTER_DEMO_MODELS": "1"}) as running:
        yield running


def test_client_only_install_has_no_server_dependencies(client_python: Path) -> None:
    listed = subprocess.run(
        [str(client_python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"visionflow-client", "httpx"} <= names
    assert names.isdisjoint({"visionflow", "numpy", "fastapi", "onnxruntime", "sqlalchemy"})


def test_client_only_install_talks_to_a_server(
    client_python: Path, server: RunningProcess, tmp_path: Path
) -> None:
    image = tmp_path / "shapes.jpg"
    command = [sys.executable, str(ROOT / "scripts" / "shapes.py"), "preview", str(image)]
    subprocess.run([*command, "--count", "1", "--seed", "5"], check=True, timeout=60)
    key = (server.home / "demo-api-key").read_text().strip()
    used = subprocess.run(
        [str(client_python), "-c", USE, server.url, key, str(image)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,  # not the checkout: its src/ must not be importable
    )
    assert used.returncode == 0, used.stderr
    answer = json.loads(used.stdout)
    assert answer["present"] == []
    assert answer["classes"], "the demo detector found nothing through the client-only SDK"
    assert set(answer["classes"]) <= {"circle", "square", "triangle"}
    assert answer["refused"] == "InvalidApiKeyError"
