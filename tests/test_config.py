"""Settings are read once from the environment, typed, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.config import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.home == Path(".visionflow")
    assert (settings.host, settings.port) == ("127.0.0.1", 9001)
    assert settings.max_body_bytes == 20 * 1024 * 1024
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("registry.db")
    assert settings.api_key_required is False
    # Past httpx's 5 s pool expiry: a client never reuses a connection the server is closing.
    assert settings.keep_alive_s == 30.0


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "VISIONFLOW_HOME": "/srv/vf",
            "VISIONFLOW_DATABASE_URL": "postgresql+psycopg://u@db/vf",
            "VISIONFLOW_PORT": "8000",
            "VISIONFLOW_MAX_BODY_MB": "1.5",
            "VISIONFLOW_ALLOW_PRIVATE_URLS": "yes",
            "VISIONFLOW_URL_ALLOW_NETWORKS": "10.0.0.0/8, 192.168.1.0/24",
            "VISIONFLOW_ONNX_PROVIDERS": "CUDAExecutionProvider,CPUExecutionProvider",
            "VISIONFLOW_KEEP_ALIVE_S": "75",
        }
    )
    assert settings.keep_alive_s == 75.0
    assert settings.home == Path("/srv/vf")
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/vf"
    assert settings.port == 8000
    assert settings.max_body_bytes == int(1.5 * 1024 * 1024)
    assert settings.allow_private_urls is True
    assert settings.url_allow_networks == ("10.0.0.0/8", "192.168.1.0/24")
    assert settings.onnx_providers == ("CUDAExecutionProvider", "CPUExecutionProvider")


@pytest.mark.parametrize(
    ("env", "required"),
    [
        pytest.param({}, False, id="loopback-default"),
        pytest.param({"VISIONFLOW_HOST": "localhost"}, False, id="localhost"),
        pytest.param({"VISIONFLOW_HOST": "::1"}, False, id="ipv6-loopback"),
        pytest.param({"VISIONFLOW_HOST": "0.0.0.0"}, True, id="all-interfaces"),
        pytest.param({"VISIONFLOW_HOST": "192.168.1.5"}, True, id="lan"),
        pytest.param({"VISIONFLOW_REQUIRE_API_KEY": "true"}, True, id="forced-on"),
        pytest.param(
            {"VISIONFLOW_HOST": "0.0.0.0", "VISIONFLOW_REQUIRE_API_KEY": "false"},
            False,
            id="forced-off",
        ),
    ],
)
def test_api_key_requirement(env: dict[str, str], required: bool) -> None:
    assert Settings.from_env(env).api_key_required is required


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"VISIONFLOW_PORT": "http"}, "VISIONFLOW_PORT must be an integer", id="port"),
        pytest.param({"VISIONFLOW_MAX_BODY_MB": "big"}, "must be a number", id="body"),
        pytest.param({"VISIONFLOW_ALLOW_URL_INPUT": "maybe"}, "must be a boolean", id="bool"),
        pytest.param({"VISIONFLOW_KEEP_ALIVE_S": "0"}, "KEEP_ALIVE_S", id="keep-alive"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_empty_values_mean_default() -> None:
    assert Settings.from_env({"VISIONFLOW_PORT": ""}).port == 9001


def test_model_maps_merge_with_defaults_and_name_their_own_form() -> None:
    settings = Settings.from_env(
        {
            "VISIONFLOW_CLIP_MODELS": "ViT-B-32=clip/2",
            "VISIONFLOW_YOLO_WORLD_MODELS": "v2-s=world/3",
        }
    )
    clip = dict(settings.clip_models)
    assert clip["ViT-B-32"] == "clip/2"
    assert clip["ViT-B-16"] == "clip/1"
    assert clip["RN50"] == "clip/1"
    assert dict(Settings.from_env({}).clip_models)["ViT-B-32"] == "clip/1"
    world = dict(settings.yolo_world_models)
    assert world["v2-s"] == "world/3"
    assert world["v2-l"] == "yolo-world/1"
    with pytest.raises(ValueError, match="v2-s=yolo-world/1"):
        Settings.from_env({"VISIONFLOW_YOLO_WORLD_MODELS": "v2-s"})
    with pytest.raises(ValueError, match="ViT-B-16=clip/1"):
        Settings.from_env({"VISIONFLOW_CLIP_MODELS": "nonsense"})
