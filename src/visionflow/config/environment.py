"""``Settings`` read from environment variables: the only place that reads them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from visionflow.config.settings import DEFAULT_PROVIDER_URLS, Settings
from visionflow.config.values import parse_bool, parse_float, parse_int, parse_pairs

__all__ = ["settings_from_env"]


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """``Settings`` from ``environ`` (default: the process environment), every variable
    ``VISIONFLOW_<NAME>``; unset or empty variables keep the defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()

    def get(name: str) -> str | None:
        value = env.get(f"VISIONFLOW_{name}")
        return value if value not in (None, "") else None

    def pick_int(name: str, default: int) -> int:
        raw = get(name)
        return default if raw is None else parse_int(raw, f"VISIONFLOW_{name}")

    def pick_float(name: str, default: float) -> float:
        raw = get(name)
        return default if raw is None else parse_float(raw, f"VISIONFLOW_{name}")

    def pick_bool(name: str, default: bool) -> bool:
        raw = get(name)
        return default if raw is None else parse_bool(raw, f"VISIONFLOW_{name}")

    def optional_int(name: str) -> int | None:
        raw = get(name)
        return None if raw is None else parse_int(raw, f"VISIONFLOW_{name}")

    def optional_bool(name: str) -> bool | None:
        raw = get(name)
        return None if raw is None else parse_bool(raw, f"VISIONFLOW_{name}")

    providers_raw = get("ONNX_PROVIDERS")
    body_mb = get("MAX_BODY_MB")
    return Settings(
        home=Path(get("HOME") or defaults.home),
        database_url=get("DATABASE_URL"),
        host=get("HOST") or defaults.host,
        port=pick_int("PORT", defaults.port),
        require_api_key=optional_bool("REQUIRE_API_KEY"),
        max_body_bytes=(
            defaults.max_body_bytes
            if body_mb is None
            else int(parse_float(body_mb, "VISIONFLOW_MAX_BODY_MB") * 1024 * 1024)
        ),
        max_image_pixels=pick_int("MAX_IMAGE_PIXELS", defaults.max_image_pixels),
        allow_url_input=pick_bool("ALLOW_URL_INPUT", defaults.allow_url_input),
        allow_private_urls=pick_bool("ALLOW_PRIVATE_URLS", defaults.allow_private_urls),
        url_allow_networks=tuple(
            n.strip() for n in (get("URL_ALLOW_NETWORKS") or "").split(",") if n.strip()
        ),
        url_fetch_timeout_s=pick_float("URL_FETCH_TIMEOUT_S", defaults.url_fetch_timeout_s),
        keep_alive_s=pick_float("KEEP_ALIVE_S", defaults.keep_alive_s),
        url_max_redirects=pick_int("URL_MAX_REDIRECTS", defaults.url_max_redirects),
        max_inflight_requests=pick_int("MAX_INFLIGHT_REQUESTS", defaults.max_inflight_requests),
        max_request_pixels=pick_int("MAX_REQUEST_PIXELS", defaults.max_request_pixels),
        max_images_per_request=pick_int("MAX_IMAGES_PER_REQUEST", defaults.max_images_per_request),
        database_timeout_s=pick_float("DATABASE_TIMEOUT_S", defaults.database_timeout_s),
        auth_failure_limit=pick_int("AUTH_FAILURE_LIMIT", defaults.auth_failure_limit),
        auth_failure_window_s=pick_float("AUTH_FAILURE_WINDOW_S", defaults.auth_failure_window_s),
        rate_limit_per_key=pick_int("RATE_LIMIT_PER_KEY", defaults.rate_limit_per_key),
        rate_limit_per_address=pick_int("RATE_LIMIT_PER_ADDRESS", defaults.rate_limit_per_address),
        rate_limit_window_s=pick_float("RATE_LIMIT_WINDOW_S", defaults.rate_limit_window_s),
        introspection_requires_key=pick_bool(
            "INTROSPECTION_REQUIRES_KEY", defaults.introspection_requires_key
        ),
        log_format=(get("LOG_FORMAT") or defaults.log_format).strip().lower(),
        max_loaded_models=pick_int("MAX_LOADED_MODELS", defaults.max_loaded_models),
        max_loaded_model_bytes=(
            None
            if get("MAX_LOADED_MODEL_BYTES") in (None, "", "0")
            else pick_int("MAX_LOADED_MODEL_BYTES", 0)
        ),
        pinned_models=tuple(
            part.strip() for part in (get("PINNED_MODELS") or "").split(",") if part.strip()
        ),
        preload_models=tuple(
            part.strip() for part in (get("PRELOAD_MODELS") or "").split(",") if part.strip()
        ),
        onnx_providers=(
            tuple(p.strip() for p in providers_raw.split(",") if p.strip())
            if providers_raw
            else defaults.onnx_providers
        ),
        onnx_intra_op_threads=pick_int("ONNX_THREADS", defaults.onnx_intra_op_threads),
        ocr_engines=pick_int("OCR_ENGINES", defaults.ocr_engines),
        batch_max=optional_int("BATCH_MAX"),
        batch_wait_ms=pick_float("BATCH_WAIT_MS", defaults.batch_wait_ms),
        onnx_allow_spinning=pick_bool("ONNX_ALLOW_SPINNING", defaults.onnx_allow_spinning),
        onnx_provider_fallback=pick_bool("ONNX_PROVIDER_FALLBACK", defaults.onnx_provider_fallback),
        demo_workspace=get("DEMO_WORKSPACE") or defaults.demo_workspace,
        register_demo_models=pick_bool("REGISTER_DEMO_MODELS", defaults.register_demo_models),
        workflows_profiling_allowed=pick_bool(
            "WORKFLOWS_PROFILING", defaults.workflows_profiling_allowed
        ),
        workflows_definition_cache_s=pick_float(
            "WORKFLOWS_DEFINITION_CACHE_S", defaults.workflows_definition_cache_s
        ),
        model_lookup_cache_s=pick_float("MODEL_LOOKUP_CACHE_S", defaults.model_lookup_cache_s),
        workflows_max_concurrent_steps=pick_int(
            "WORKFLOWS_MAX_CONCURRENT_STEPS", defaults.workflows_max_concurrent_steps
        ),
        workflows_max_steps=pick_int("WORKFLOWS_MAX_STEPS", defaults.workflows_max_steps),
        workflows_max_definition_bytes=pick_int(
            "WORKFLOWS_MAX_DEFINITION_BYTES", defaults.workflows_max_definition_bytes
        ),
        workflows_max_nesting=pick_int("WORKFLOWS_MAX_NESTING", defaults.workflows_max_nesting),
        workflows_max_run_s=pick_float("WORKFLOWS_MAX_RUN_S", defaults.workflows_max_run_s),
        workflows_regex_timeout_s=pick_float(
            "WORKFLOWS_REGEX_TIMEOUT_S", defaults.workflows_regex_timeout_s
        ),
        workflows_webhook_max_timeout_s=pick_float(
            "WORKFLOWS_WEBHOOK_MAX_TIMEOUT_S", defaults.workflows_webhook_max_timeout_s
        ),
        workflows_sink_folder=(
            Path(sink_folder) if (sink_folder := get("WORKFLOWS_SINK_FOLDER")) else None
        ),
        workflows_allow_egress=pick_bool("WORKFLOWS_ALLOW_EGRESS", defaults.workflows_allow_egress),
        workflows_provider_urls=tuple(
            {
                **DEFAULT_PROVIDER_URLS,
                **dict(
                    parse_pairs(
                        get("WORKFLOWS_PROVIDER_URLS") or "",
                        "VISIONFLOW_WORKFLOWS_PROVIDER_URLS",
                        "openai=http://127.0.0.1:8000/v1",
                    )
                ),
            }.items()
        ),
        workflows_provider_keys=parse_pairs(
            get("WORKFLOWS_PROVIDER_KEYS") or "",
            "VISIONFLOW_WORKFLOWS_PROVIDER_KEYS",
            "openai=sk-...,anthropic=sk-ant-...",
        ),
        workflows_provider_timeout_s=pick_float(
            "WORKFLOWS_PROVIDER_TIMEOUT_S", defaults.workflows_provider_timeout_s
        ),
        workflows_provider_retries=pick_int(
            "WORKFLOWS_PROVIDER_RETRIES", defaults.workflows_provider_retries
        ),
        workflows_sink_timeout_s=pick_float(
            "WORKFLOWS_SINK_TIMEOUT_S", defaults.workflows_sink_timeout_s
        ),
        workflows_slack_api_url=(
            get("WORKFLOWS_SLACK_API_URL") or defaults.workflows_slack_api_url
        ),
        workflows_twilio_api_url=(
            get("WORKFLOWS_TWILIO_API_URL") or defaults.workflows_twilio_api_url
        ),
        workflows_s3_endpoint_url=get("WORKFLOWS_S3_ENDPOINT_URL"),
        workflows_smtp_ca_file=(
            Path(ca_file) if (ca_file := get("WORKFLOWS_SMTP_CA_FILE")) else None
        ),
        workflows_email_relay=get("WORKFLOWS_EMAIL_RELAY"),
        workflows_sms_relay=parse_pairs(
            get("WORKFLOWS_SMS_RELAY") or "",
            "VISIONFLOW_WORKFLOWS_SMS_RELAY",
            "account_sid=AC...,auth_token=...,from=+15550001111",
        ),
        workflows_secret_env_allowlist=tuple(
            n.strip() for n in (get("WORKFLOWS_SECRET_ENV_ALLOWLIST") or "").split(",") if n.strip()
        ),
        workflows_cache_max_entries=pick_int(
            "WORKFLOWS_CACHE_MAX_ENTRIES", defaults.workflows_cache_max_entries
        ),
        workflows_max_inner_depth=pick_int(
            "WORKFLOWS_MAX_INNER_DEPTH", defaults.workflows_max_inner_depth
        ),
        workflows_state_max_bytes=pick_int(
            "WORKFLOWS_STATE_MAX_BYTES", defaults.workflows_state_max_bytes
        ),
        clip_models=tuple(
            {
                **dict(defaults.clip_models),
                **dict(
                    parse_pairs(
                        get("CLIP_MODELS") or "",
                        "VISIONFLOW_CLIP_MODELS",
                        "ViT-B-16=clip/1,RN50=clip-rn50/1",
                    )
                ),
            }.items()
        ),
        clip_default_version=get("CLIP_VERSION_ID") or defaults.clip_default_version,
        clip_max_batch_size=pick_int("CLIP_MAX_BATCH_SIZE", defaults.clip_max_batch_size),
        yolo_world_models=tuple(
            {
                **dict(defaults.yolo_world_models),
                **dict(
                    parse_pairs(
                        get("YOLO_WORLD_MODELS") or "",
                        "VISIONFLOW_YOLO_WORLD_MODELS",
                        "v2-s=yolo-world/1,l=yolo-world-l/1",
                    )
                ),
            }.items()
        ),
        ray_replicas=optional_int("RAY_REPLICAS"),
        ray_min_replicas=pick_int("RAY_MIN_REPLICAS", defaults.ray_min_replicas),
        ray_max_replicas=pick_int("RAY_MAX_REPLICAS", defaults.ray_max_replicas),
        ray_target_ongoing_requests=pick_float(
            "RAY_TARGET_ONGOING_REQUESTS", defaults.ray_target_ongoing_requests
        ),
        ray_downscale_delay_s=pick_float("RAY_DOWNSCALE_DELAY_S", defaults.ray_downscale_delay_s),
        ray_max_models_per_replica=pick_int(
            "RAY_MAX_MODELS_PER_REPLICA", defaults.ray_max_models_per_replica
        ),
        ray_ingress_replicas=pick_int("RAY_INGRESS_REPLICAS", defaults.ray_ingress_replicas),
        ray_address=get("RAY_ADDRESS"),
        ray_num_cpus=optional_int("RAY_NUM_CPUS"),
        ray_request_timeout_s=pick_float("RAY_REQUEST_TIMEOUT_S", defaults.ray_request_timeout_s),
        artifacts_url=get("ARTIFACTS_URL"),
        s3_endpoint_url=get("S3_ENDPOINT_URL"),
        s3_region=get("S3_REGION"),
        s3_timeout_s=pick_float("S3_TIMEOUT_S", defaults.s3_timeout_s),
        video_folder=Path(folder) if (folder := get("VIDEO_FOLDER")) else None,
        max_pipelines=pick_int("MAX_PIPELINES", defaults.max_pipelines),
        max_pipeline_sources=pick_int("MAX_PIPELINE_SOURCES", defaults.max_pipeline_sources),
        max_pipeline_results=pick_int("MAX_PIPELINE_RESULTS", defaults.max_pipeline_results),
        pipeline_frame_buffer=pick_int("PIPELINE_FRAME_BUFFER", defaults.pipeline_frame_buffer),
        pipeline_reconnect_max_s=pick_float(
            "PIPELINE_RECONNECT_MAX_S", defaults.pipeline_reconnect_max_s
        ),
        pipeline_stream_timeout_s=pick_float(
            "PIPELINE_STREAM_TIMEOUT_S", defaults.pipeline_stream_timeout_s
        ),
        pipeline_ended_ttl_s=(
            None if get("PIPELINE_ENDED_TTL_S") is None else pick_float("PIPELINE_ENDED_TTL_S", 0.0)
        ),
    )
