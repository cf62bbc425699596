"""deploy/ray-service.yaml parses, names the application and deployments the code deploys, an
import path that exists, and only settings that Settings reads; the Dockerfile installs the
tested extra."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from visionflow.config import Settings

yaml = pytest.importorskip("yaml")

# The names the issue gives (and visionflow.rayserve uses; importing Ray here would bring its
# deprecation warnings into this process).
APP_NAME, INGRESS_DEPLOYMENT, MODELS_DEPLOYMENT = "visionflow", "ingress", "models"

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _service() -> dict[str, object]:
    return dict(yaml.safe_load((DEPLOY / "ray-service.yaml").read_text()))


def test_the_serve_config_names_what_the_code_deploys() -> None:
    service = _service()
    assert service["kind"] == "RayService"
    config = yaml.safe_load(service["spec"]["serveConfigV2"])  # type: ignore[index]
    (application,) = config["applications"]
    assert application["name"] == APP_NAME
    names = {d["name"] for d in application["deployments"]}
    assert names == {INGRESS_DEPLOYMENT, MODELS_DEPLOYMENT}
    module, _, attribute = application["import_path"].partition(":")
    assert (module, attribute) == ("visionflow.rayserve.entrypoint", "app")
    source = (Path(__file__).resolve().parents[2] / "src/visionflow/rayserve").glob("*.py")
    text = "\n".join(path.read_text() for path in source)
    for name in (APP_NAME, INGRESS_DEPLOYMENT, MODELS_DEPLOYMENT):
        assert f'= "{name}"' in text, name
    assert "\napp = build_application(" in text


def test_every_setting_in_the_manifest_is_read_by_settings() -> None:
    text = (DEPLOY / "ray-service.yaml").read_text()
    names = set(re.findall(r"VISIONFLOW_[A-Z_]+", text))
    assert names
    source = (
        Path(__file__).resolve().parents[2] / "src/visionflow/config/environment.py"
    ).read_text()
    for name in names:
        assert f'"{name.removeprefix("VISIONFLOW_")}"' in source, name
    env = dict.fromkeys(names, "1")
    env.update(
        {
            "VISIONFLOW_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "VISIONFLOW_HOME": "/data",
            "VISIONFLOW_HOST": "0.0.0.0",
            "VISIONFLOW_REQUIRE_API_KEY": "true",
            "VISIONFLOW_REGISTER_DEMO_MODELS": "false",
            "VISIONFLOW_ARTIFACTS_URL": "s3://visionflow-artifacts/prod",
        }
    )
    Settings.from_env(env)


def test_the_dockerfile_installs_the_tested_extra_as_a_non_root_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert '".[ray,s3]"' in text
    assert re.search(r"^USER visionflow$", text, flags=re.MULTILINE)
    assert "HEALTHCHECK" in text
