"""Settings are read once from the environment, typed, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.config import Settings, SmsRelay, parse_email_relay, parse_sms_relay


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
    assert settings.model_lookup_cache_s == 5.0


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
            "VISIONFLOW_MODEL_LOOKUP_CACHE_S": "0.5",
        }
    )
    assert settings.keep_alive_s == 75.0
    assert settings.model_lookup_cache_s == 0.5
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


def test_ray_settings_default_to_autoscaling_and_parse() -> None:
    defaults = Settings.from_env({})
    assert defaults.ray_replicas is None
    assert (defaults.ray_min_replicas, defaults.ray_max_replicas) == (1, 2)
    assert defaults.ray_max_models_per_replica == 3
    assert defaults.ray_address is None
    parsed = Settings.from_env(
        {
            "VISIONFLOW_RAY_REPLICAS": "2",
            "VISIONFLOW_RAY_MIN_REPLICAS": "0",
            "VISIONFLOW_RAY_MAX_REPLICAS": "4",
            "VISIONFLOW_RAY_TARGET_ONGOING_REQUESTS": "1.5",
            "VISIONFLOW_RAY_DOWNSCALE_DELAY_S": "30",
            "VISIONFLOW_RAY_MAX_MODELS_PER_REPLICA": "5",
            "VISIONFLOW_RAY_INGRESS_REPLICAS": "2",
            "VISIONFLOW_RAY_ADDRESS": "ray://head:10001",
            "VISIONFLOW_RAY_NUM_CPUS": "2",
            "VISIONFLOW_RAY_REQUEST_TIMEOUT_S": "5",
        }
    )
    assert parsed.ray_replicas == 2
    assert (parsed.ray_min_replicas, parsed.ray_max_replicas) == (0, 4)
    assert parsed.ray_target_ongoing_requests == 1.5
    assert parsed.ray_downscale_delay_s == 30.0
    assert parsed.ray_max_models_per_replica == 5
    assert parsed.ray_ingress_replicas == 2
    assert parsed.ray_address == "ray://head:10001"
    assert parsed.ray_num_cpus == 2
    assert parsed.ray_request_timeout_s == 5.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"VISIONFLOW_RAY_REPLICAS": "0"}, "VISIONFLOW_RAY_REPLICAS", id="replicas"),
        pytest.param({"VISIONFLOW_RAY_REPLICAS": "two"}, "must be an integer", id="not-int"),
        pytest.param({"VISIONFLOW_RAY_MIN_REPLICAS": "-1"}, "RAY_MIN_REPLICAS", id="min"),
        pytest.param(
            {"VISIONFLOW_RAY_MIN_REPLICAS": "3", "VISIONFLOW_RAY_MAX_REPLICAS": "2"},
            "RAY_MAX_REPLICAS",
            id="max-below-min",
        ),
        pytest.param({"VISIONFLOW_RAY_MAX_REPLICAS": "0"}, "RAY_MAX_REPLICAS", id="max-zero"),
        pytest.param(
            {"VISIONFLOW_RAY_MAX_MODELS_PER_REPLICA": "0"},
            "RAY_MAX_MODELS_PER_REPLICA",
            id="models-per-replica",
        ),
        pytest.param({"VISIONFLOW_RAY_NUM_CPUS": "0"}, "RAY_NUM_CPUS", id="cpus"),
        pytest.param(
            {"VISIONFLOW_RAY_TARGET_ONGOING_REQUESTS": "0"}, "RAY_TARGET_ONGOING", id="target"
        ),
        pytest.param(
            {"VISIONFLOW_RAY_DOWNSCALE_DELAY_S": "-1"}, "RAY_DOWNSCALE_DELAY_S", id="downscale"
        ),
        pytest.param({"VISIONFLOW_RAY_REQUEST_TIMEOUT_S": "0"}, "REQUEST_TIMEOUT", id="timeout"),
    ],
)
def test_bad_ray_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_artifacts_on_a_bucket_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "VISIONFLOW_ARTIFACTS_URL": "s3://models/prod",
            "VISIONFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "VISIONFLOW_S3_TIMEOUT_S": "3",
        }
    )
    assert settings.artifacts_url == "s3://models/prod"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.s3_timeout_s == 3
    with pytest.raises(ValueError, match="VISIONFLOW_ARTIFACTS_URL must be an s3://"):
        Settings.from_env({"VISIONFLOW_ARTIFACTS_URL": "/mnt/shared"})


@pytest.mark.parametrize(
    ("environ", "budget", "pinned", "fallback", "spinning", "ocr"),
    [
        pytest.param({}, None, (), False, False, 2, id="defaults"),
        pytest.param(
            {"VISIONFLOW_MAX_LOADED_MODEL_BYTES": "0"}, None, (), False, False, 2, id="zero-off"
        ),
        pytest.param(
            {
                "VISIONFLOW_MAX_LOADED_MODEL_BYTES": "200000000",
                "VISIONFLOW_PINNED_MODELS": "shapes/1, w/p/2,",
                "VISIONFLOW_ONNX_PROVIDER_FALLBACK": "true",
                "VISIONFLOW_ONNX_ALLOW_SPINNING": "1",
                "VISIONFLOW_OCR_ENGINES": "3",
            },
            200_000_000,
            ("shapes/1", "w/p/2"),
            True,
            True,
            3,
            id="all-set",
        ),
    ],
)
def test_performance_settings(
    environ: dict[str, str],
    budget: int | None,
    pinned: tuple[str, ...],
    fallback: bool,
    spinning: bool,
    ocr: int,
) -> None:
    settings = Settings.from_env(environ)

    assert settings.max_loaded_model_bytes == budget
    assert settings.pinned_models == pinned
    assert settings.onnx_provider_fallback is fallback
    assert settings.onnx_allow_spinning is spinning
    assert settings.ocr_engines == ocr


def test_preload_models_are_read_like_pinned_ones() -> None:
    settings = Settings.from_env({"VISIONFLOW_PRELOAD_MODELS": " shapes/1,acme/parts/3 ,"})
    assert settings.preload_models == ("shapes/1", "acme/parts/3")
    assert Settings.from_env({}).preload_models == ()


@pytest.mark.parametrize("name", ["PINNED_MODELS", "PRELOAD_MODELS"])
@pytest.mark.parametrize("value", ["shapes", "shapes/one", "a/b/c/1", "/1", "w//1"])
def test_malformed_model_ids_in_model_lists_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"VISIONFLOW_{name} lists model ids"):
        Settings.from_env({f"VISIONFLOW_{name}": value})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"VISIONFLOW_OCR_ENGINES": "0"}, "VISIONFLOW_OCR_ENGINES", id="ocr-engines"),
        pytest.param(
            {"VISIONFLOW_MAX_LOADED_MODEL_BYTES": "-5"},
            "VISIONFLOW_MAX_LOADED_MODEL_BYTES",
            id="negative-budget",
        ),
    ],
)
def test_performance_settings_refuse_bad_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, 1, id="cpu-default-off"),
        pytest.param(
            {"VISIONFLOW_ONNX_PROVIDERS": "CUDAExecutionProvider,CPUExecutionProvider"},
            8,
            id="accelerator-default-on",
        ),
        pytest.param({"VISIONFLOW_BATCH_MAX": "4"}, 4, id="set"),
    ],
)
def test_batching_default_per_execution_provider(environ: dict[str, str], expected: int) -> None:
    assert Settings.from_env(environ).effective_batch_max == expected


def test_batching_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_BATCH_MAX"):
        Settings.from_env({"VISIONFLOW_BATCH_MAX": "0"})
    with pytest.raises(ValueError, match="VISIONFLOW_BATCH_WAIT_MS"):
        Settings.from_env({"VISIONFLOW_BATCH_WAIT_MS": "-1"})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, (None, 4, 4, 256, 8, 10.0, 5.0, None), id="defaults"),
        pytest.param(
            {
                "VISIONFLOW_VIDEO_FOLDER": "/srv/videos",
                "VISIONFLOW_MAX_PIPELINES": "2",
                "VISIONFLOW_MAX_PIPELINE_SOURCES": "1",
                "VISIONFLOW_MAX_PIPELINE_RESULTS": "16",
                "VISIONFLOW_PIPELINE_FRAME_BUFFER": "3",
                "VISIONFLOW_PIPELINE_RECONNECT_MAX_S": "2.5",
                "VISIONFLOW_PIPELINE_STREAM_TIMEOUT_S": "0.5",
                "VISIONFLOW_PIPELINE_ENDED_TTL_S": "600",
            },
            (Path("/srv/videos"), 2, 1, 16, 3, 2.5, 0.5, 600.0),
            id="all-set",
        ),
    ],
)
def test_pipeline_settings(environ: dict[str, str], expected: tuple[object, ...]) -> None:
    settings = Settings.from_env(environ)

    assert (
        settings.video_folder,
        settings.max_pipelines,
        settings.max_pipeline_sources,
        settings.max_pipeline_results,
        settings.pipeline_frame_buffer,
        settings.pipeline_reconnect_max_s,
        settings.pipeline_stream_timeout_s,
        settings.pipeline_ended_ttl_s,
    ) == expected


@pytest.mark.parametrize(
    "name",
    [
        "MAX_PIPELINES",
        "MAX_PIPELINE_SOURCES",
        "MAX_PIPELINE_RESULTS",
        "PIPELINE_FRAME_BUFFER",
        "PIPELINE_RECONNECT_MAX_S",
        "PIPELINE_STREAM_TIMEOUT_S",
        "PIPELINE_ENDED_TTL_S",
    ],
)
def test_pipeline_settings_refuse_bad_values(name: str) -> None:
    with pytest.raises(ValueError, match=f"VISIONFLOW_{name}"):
        Settings.from_env({f"VISIONFLOW_{name}": "0"})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param(
            {},
            (10.0, "https://slack.com/api", "https://api.twilio.com", None, None),
            id="defaults",
        ),
        pytest.param(
            {
                "VISIONFLOW_WORKFLOWS_SINK_TIMEOUT_S": "2.5",
                "VISIONFLOW_WORKFLOWS_SLACK_API_URL": "http://127.0.0.1:8080/api",
                "VISIONFLOW_WORKFLOWS_TWILIO_API_URL": "https://twilio.proxy.internal",
                "VISIONFLOW_WORKFLOWS_S3_ENDPOINT_URL": "http://minio:9000",
                "VISIONFLOW_WORKFLOWS_SMTP_CA_FILE": "/etc/ssl/relay-ca.pem",
            },
            (
                2.5,
                "http://127.0.0.1:8080/api",
                "https://twilio.proxy.internal",
                "http://minio:9000",
                Path("/etc/ssl/relay-ca.pem"),
            ),
            id="set",
        ),
    ],
)
def test_notification_sink_settings(environ: dict[str, str], expected: tuple[object, ...]) -> None:
    settings = Settings.from_env(environ)

    assert (
        settings.workflows_sink_timeout_s,
        settings.workflows_slack_api_url,
        settings.workflows_twilio_api_url,
        settings.workflows_s3_endpoint_url,
        settings.workflows_smtp_ca_file,
    ) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("WORKFLOWS_SINK_TIMEOUT_S", "0", id="timeout"),
        pytest.param("WORKFLOWS_SLACK_API_URL", "slack.com/api", id="slack"),
        pytest.param("WORKFLOWS_TWILIO_API_URL", "ftp://twilio", id="twilio"),
        pytest.param("WORKFLOWS_S3_ENDPOINT_URL", "minio:9000", id="s3"),
    ],
)
def test_notification_sink_settings_refuse_bad_values(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"VISIONFLOW_{name}"):
        Settings.from_env({f"VISIONFLOW_{name}": value})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "smtps://alerts%40example.com:p%40ss@smtp.example.com",
            ("smtp.example.com", 465, "alerts@example.com", "p@ss", "alerts@example.com"),
            id="default-port-and-sender",
        ),
        pytest.param(
            "smtps://relay:secret@10.0.0.5:2465?from=cameras@example.com",
            ("10.0.0.5", 2465, "relay", "secret", "cameras@example.com"),
            id="port-and-from",
        ),
    ],
)
def test_email_relay_setting(url: str, expected: tuple[object, ...]) -> None:
    settings = Settings.from_env({"VISIONFLOW_WORKFLOWS_EMAIL_RELAY": url})
    assert settings.workflows_email_relay == url
    relay = parse_email_relay(url)
    assert (relay.host, relay.port, relay.username, relay.password, relay.sender) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("smtp://user:pw@host", id="not-implicit-tls"),
        pytest.param("smtps://host:465", id="no-user"),
        pytest.param("smtps://user:pw@host:notaport", id="bad-port"),
    ],
)
def test_email_relay_setting_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_WORKFLOWS_EMAIL_RELAY must look like"):
        Settings.from_env({"VISIONFLOW_WORKFLOWS_EMAIL_RELAY": url})


def test_sms_relay_setting() -> None:
    raw = "account_sid=AC42,auth_token=tok,from=+15550001111"
    settings = Settings.from_env({"VISIONFLOW_WORKFLOWS_SMS_RELAY": raw})
    assert parse_sms_relay(settings.workflows_sms_relay) == SmsRelay("AC42", "tok", "+15550001111")
    for bad in ("account_sid=AC42,auth_token=tok", "account_sid=AC/4,auth_token=t,from=+1"):
        with pytest.raises(ValueError, match="VISIONFLOW_WORKFLOWS_SMS_RELAY"):
            Settings.from_env({"VISIONFLOW_WORKFLOWS_SMS_RELAY": bad})


def test_a_negative_model_lookup_cache_is_refused() -> None:
    with pytest.raises(ValueError, match="VISIONFLOW_MODEL_LOOKUP_CACHE_S must be >= 0"):
        Settings.from_env({"VISIONFLOW_MODEL_LOOKUP_CACHE_S": "-1"})
