"""``Settings``: every setting of a visionflow process, typed, frozen and checked on creation.

Built once (``Settings.from_env``, or directly by tests) and passed down; see ``environment``
for the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from visionflow.config.relays import parse_email_relay, parse_sms_relay
from visionflow.config.values import is_loopback_host

__all__ = ["DEFAULT_PROVIDER_URLS", "MAX_WORKFLOWS_NESTING", "ClipVersion", "Settings"]

# The reference's CLIP ``version`` / ``clip_version_id`` values (wire reference §3.9): the CLIP
# blocks' manifests accept these, and each maps to a registered model (``clip_models``).
ClipVersion = Literal[
    "RN101",
    "RN50",
    "RN50x16",
    "RN50x4",
    "RN50x64",
    "ViT-B-16",
    "ViT-B-32",
    "ViT-L-14-336px",
    "ViT-L-14",
]

# The most VISIONFLOW_WORKFLOWS_MAX_NESTING may allow: JSON encoders stop at 255 levels, and a
# definition's literals may become outputs that crops and wrappers nest further.
MAX_WORKFLOWS_NESTING = 200
# Where the API-model workflow blocks send their requests, by provider (the providers' documented
# endpoints); VISIONFLOW_WORKFLOWS_PROVIDER_URLS ("openai=http://127.0.0.1:8000/v1,...") replaces
# any of them, e.g. with a self-hosted OpenAI-compatible server.
DEFAULT_PROVIDER_URLS: Mapping[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "openrouter": "https://openrouter.ai/api/v1",
    "xai": "https://api.x.ai/v1",
    "google_vision": "https://vision.googleapis.com/v1",
    "stability": "https://api.stability.ai",
}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the server. Build with ``Settings.from_env()`` or directly in tests."""

    home: Path = field(default_factory=lambda: Path(".visionflow"))
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 9001
    # Keys are required when the server listens beyond loopback; ``None`` means "decide by host".
    require_api_key: bool | None = None
    max_body_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    allow_url_input: bool = True
    allow_private_urls: bool = False
    # CIDR networks image URLs may reach even though they are not public (e.g. "10.1.2.0/24").
    url_allow_networks: tuple[str, ...] = ()
    # Total deadline of one URL fetch: connect, redirects and the whole body together.
    url_fetch_timeout_s: float = 10.0
    # How long an idle keep-alive connection stays open. Longer than common clients' pool expiry
    # (httpx: 5 s), so a client never sends on a connection the server is closing.
    keep_alive_s: float = 30.0
    url_max_redirects: int = 3
    # Admission: requests served at once (health and metrics routes are not counted); beyond it
    # a request gets 503 with Retry-After at once instead of queueing.
    max_inflight_requests: int = 64
    # Budgets of one request: decoded pixels of all its images together, and how many images.
    max_request_pixels: int = 128_000_000
    max_images_per_request: int = 64
    # Registry: how long a query waits for a locked SQLite file or a PostgreSQL connection before
    # the request is answered 503 with Retry-After.
    database_timeout_s: float = 2.0
    # Access control: failed authentications per client address within the window before 429
    # (on by default; 0 turns it off); request-rate limits per key and per client address within
    # ``rate_limit_window_s`` (0 = off, the default); introspection routes (block descriptions,
    # schemas, model listings) need a key when keys are required.
    auth_failure_limit: int = 20
    auth_failure_window_s: float = 10.0
    rate_limit_per_key: int = 0
    rate_limit_per_address: int = 0
    rate_limit_window_s: float = 60.0
    introspection_requires_key: bool = True
    # "text" or "json" (one JSON object per line, with the request id).
    log_format: str = "text"
    max_loaded_models: int = 8
    # Memory budget of loaded models in bytes (their ONNX weights; None: only the count), and
    # model ids ("project/version", demo workspace or "<workspace>/project/version") never evicted.
    max_loaded_model_bytes: int | None = None
    pinned_models: tuple[str, ...] = ()
    # Model ids (as pinned_models) loaded in the background when a serving process starts.
    preload_models: tuple[str, ...] = ()
    onnx_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    onnx_intra_op_threads: int = 0
    # Cross-request micro-batching (graphs with a dynamic batch axis): most rows per run (None:
    # 1 = off when the providers are CPU only, where YOLOv8n gains nothing from batch > 1; 8 with
    # an accelerator) and how long a run waits for a queue to fill (never for a lone request).
    batch_max: int | None = None
    batch_wait_ms: float = 2.0
    # Idle ONNX Runtime intra-op threads busy-wait (costs shared cores; see docs/performance.md).
    onnx_allow_spinning: bool = False
    # A provider of onnx_providers missing from the onnxruntime build: an error unless this.
    onnx_provider_fallback: bool = False
    # PP-OCR pipelines that may run at once (each one call at a time; ~60 MB each).
    ocr_engines: int = 2
    demo_workspace: str = "demo"
    register_demo_models: bool = True
    # Workflows: whether ``enable_profiling`` is honoured (the reference defaults to off for its
    # hosted service; a self-hosted server profiles for its owner), how long stored definitions
    # stay cached in memory, and how many independent steps run at once.
    workflows_profiling_allowed: bool = True
    workflows_definition_cache_s: float = 900.0
    # How long a model id's resolved version record is remembered (``store.lookups``): bounds
    # how long a model deleted by another process sharing a SQLite registry is still served.
    model_lookup_cache_s: float = 5.0
    workflows_max_concurrent_steps: int = 8
    # Workflow budgets: steps per definition, size of a definition's JSON, levels of lists and
    # objects in it (the deepest reference workflow nests 11), wall-clock time of one run, time
    # one regex operation may take, and the longest webhook timeout a block may ask.
    workflows_max_steps: int = 1000
    workflows_max_definition_bytes: int = 2_000_000
    workflows_max_nesting: int = 64
    workflows_max_run_s: float = 120.0
    workflows_regex_timeout_s: float = 0.25
    workflows_webhook_max_timeout_s: float = 30.0
    # Folder local_file_sink may write under; ``None`` turns file sinks off.
    workflows_sink_folder: Path | None = None
    # Environment variables ``environment_secrets_store`` may read (none by default); entries
    # ``cache_set`` keeps per workspace (least recently used dropped first); how deeply
    # ``inner_workflow`` steps may nest workflows.
    workflows_secret_env_allowlist: tuple[str, ...] = ()
    workflows_cache_max_entries: int = 1024
    workflows_max_inner_depth: int = 3
    # Bytes of state stateful blocks (trackers, heatmaps, background models...) keep across runs
    # in this process (least recently used dropped first; each stream pipeline has its own).
    workflows_state_max_bytes: int = 256 * 2**20
    # API-model blocks (OpenAI, Claude, Gemini, OpenRouter, ...): whether they may call out at all
    # (false: no request leaves the server, the step answers 403), provider base URLs (defaults:
    # DEFAULT_PROVIDER_URLS), keys standing in for the reference's Roboflow-managed
    # ``rf_key:account`` (none by default), the timeout of one request and the retries of a
    # transient failure (transport error, 408, 429, 5xx).
    workflows_allow_egress: bool = True
    workflows_provider_urls: tuple[tuple[str, str], ...] = tuple(DEFAULT_PROVIDER_URLS.items())
    workflows_provider_keys: tuple[tuple[str, str], ...] = ()
    workflows_provider_timeout_s: float = 60.0
    workflows_provider_retries: int = 2
    # Notification and storage sinks (email, Slack, Twilio, S3): the timeout of one call (SMTP
    # session, HTTP request, S3 upload; a step that waits also stops at the run's deadline);
    # the Slack Web API and Twilio REST API base URLs (tests and proxies point them elsewhere;
    # requests still pass the URL rules); the S3-compatible endpoint ``s3_sink`` uploads to
    # (``None``: AWS); a PEM file of extra certificate authorities SMTP servers' TLS
    # certificates may be signed by (an internal mail relay's).
    workflows_sink_timeout_s: float = 10.0
    workflows_slack_api_url: str = "https://slack.com/api"
    workflows_twilio_api_url: str = "https://api.twilio.com"
    workflows_s3_endpoint_url: str | None = None
    workflows_smtp_ca_file: Path | None = None
    # The SMTP server standing in for the Roboflow-relayed e-mail of ``email_notification@v2``
    # ("Roboflow Managed API Key", its default): ``smtps://user:password@host[:465][?from=addr]``
    # (user and password URL-encoded; the sender is ``from``, else the user). Unset: such steps
    # answer ``error_status`` saying what to set.
    workflows_email_relay: str | None = None
    # The Twilio account standing in for the Roboflow-relayed SMS of
    # ``twilio_sms_notification@v2`` (its default): ``account_sid=AC...,auth_token=...,from=+1...``.
    workflows_sms_relay: tuple[tuple[str, str], ...] = ()
    # CLIP: ``clip_version_id`` values → registered model ids of CLIP packages. Every reference
    # version id maps to ``clip/1`` unless VISIONFLOW_CLIP_MODELS ("RN50=clip-rn50/1,...") says
    # otherwise, entry by entry; ``clip_default_version`` is used when a request names none (the
    # reference's default). ``clip_max_batch_size`` caps the images, texts or prompts of one
    # /clip request (the reference's CLIP_MAX_BATCH_SIZE); workflow blocks embed in such chunks.
    clip_models: tuple[tuple[str, str], ...] = tuple(
        (version, "clip/1") for version in get_args(ClipVersion)
    )
    clip_default_version: str = "ViT-B-16"
    clip_max_batch_size: int = 8
    # YOLO-World: ``yolo_world_version_id`` values → registered model ids of YOLO-World
    # packages (scripts/export_yolo_world.py). Every reference version id maps to
    # ``yolo-world/1`` unless VISIONFLOW_YOLO_WORLD_MODELS ("v2-s=yolo-world-s/1,...") says
    # otherwise; its entries override those defaults one by one.
    yolo_world_models: tuple[tuple[str, str], ...] = tuple(
        (version, "yolo-world/1")
        for version in ("s", "m", "l", "x", "v2-s", "v2-m", "v2-l", "v2-x")
    )

    # Ray Serve mode (``visionflow serve-ray``): ``ray_replicas`` fixes the model tier's replica
    # count; unset, it autoscales between ``ray_min_replicas`` (0: scale to zero) and
    # ``ray_max_replicas`` on ongoing requests per replica, scaling down after the delay. Each
    # replica keeps at most ``ray_max_models_per_replica`` models (an LRU; requests for a model
    # go to replicas holding it). ``ray_address`` joins an existing cluster (KubeRay) instead of
    # starting one on this machine with ``ray_num_cpus`` CPUs (default: every core). The ingress
    # waits ``ray_request_timeout_s`` for the model tier before answering 503.
    ray_replicas: int | None = None
    ray_min_replicas: int = 1
    ray_max_replicas: int = 2
    ray_target_ongoing_requests: float = 2.0
    ray_downscale_delay_s: float = 600.0
    ray_max_models_per_replica: int = 3
    ray_ingress_replicas: int = 1
    ray_address: str | None = None
    ray_num_cpus: int | None = None
    ray_request_timeout_s: float = 60.0
    # Artifacts (model weights) on an S3-compatible bucket, ``s3://bucket/prefix``, shared by
    # every replica: ``artifacts_dir`` becomes a verified local cache of it. Credentials come
    # from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance
    # roles); ``s3_endpoint_url`` points at MinIO, Ceph or another S3-compatible server.
    artifacts_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_timeout_s: float = 10.0
    # Video inference pipelines (``/inference_pipelines/*``): local video files only under
    # ``video_folder`` (``None``: file sources refused); at most ``max_pipelines`` running at once
    # on this server and ``max_pipeline_sources`` videos each; a pipeline's results buffer holds
    # at most ``max_pipeline_results`` entries (the request's ``results_buffer_size`` is capped
    # by it) and each source buffers ``pipeline_frame_buffer`` decoded frames; a lost stream is
    # reopened after 0.5 s, doubling up to ``pipeline_reconnect_max_s``; a stream that cannot be
    # opened, or delivers no data, within ``pipeline_stream_timeout_s`` counts as lost (OpenCV's
    # own default is 30 s per read, retried: a stalled RTSP camera went unnoticed for 90 s).
    # ``pipeline_ended_ttl_s``: an ENDED pipeline (every file read) that no call has named for
    # that long is terminated, freeing its slot (``None``: kept until terminated).
    video_folder: Path | None = None
    max_pipelines: int = 4
    max_pipeline_sources: int = 4
    max_pipeline_results: int = 256
    pipeline_frame_buffer: int = 8
    pipeline_reconnect_max_s: float = 10.0
    pipeline_stream_timeout_s: float = 5.0
    pipeline_ended_ttl_s: float | None = None

    def __post_init__(self) -> None:
        self._check_ray()
        self._check_pipelines()
        if self.artifacts_url is not None and not self.artifacts_url.startswith("s3://"):
            raise ValueError(
                "VISIONFLOW_ARTIFACTS_URL must be an s3://bucket[/prefix] URL, got "
                f"{self.artifacts_url!r} (leave it unset for the local folder)"
            )
        for name, url in (
            ("WORKFLOWS_SLACK_API_URL", self.workflows_slack_api_url),
            ("WORKFLOWS_TWILIO_API_URL", self.workflows_twilio_api_url),
            ("WORKFLOWS_S3_ENDPOINT_URL", self.workflows_s3_endpoint_url or "http://"),
        ):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"VISIONFLOW_{name} must be an http(s) URL, got {url!r}")
        if self.workflows_email_relay is not None:
            parse_email_relay(self.workflows_email_relay)
        if self.workflows_sms_relay:
            parse_sms_relay(self.workflows_sms_relay)
        if self.max_loaded_model_bytes is not None and self.max_loaded_model_bytes < 1:
            raise ValueError(
                "VISIONFLOW_MAX_LOADED_MODEL_BYTES must be > 0 (unset or 0: no byte budget), "
                f"got {self.max_loaded_model_bytes}"
            )
        if self.batch_max is not None and self.batch_max < 1:
            raise ValueError(f"VISIONFLOW_BATCH_MAX must be >= 1 (1: off), got {self.batch_max}")
        if self.batch_wait_ms < 0:
            raise ValueError(f"VISIONFLOW_BATCH_WAIT_MS must be >= 0, got {self.batch_wait_ms}")
        if self.ocr_engines < 1:
            raise ValueError(f"VISIONFLOW_OCR_ENGINES must be >= 1, got {self.ocr_engines}")
        for name, ids in (
            ("PINNED_MODELS", self.pinned_models),
            ("PRELOAD_MODELS", self.preload_models),
        ):
            for model_id in ids:
                parts = model_id.split("/")
                if len(parts) not in (2, 3) or not all(parts) or not parts[-1].isdigit():
                    raise ValueError(
                        f"VISIONFLOW_{name} lists model ids 'project/version' (demo workspace) or "
                        f"'workspace/project/version', comma-separated; got {model_id!r}"
                    )
        if self.s3_timeout_s <= 0:
            raise ValueError(f"VISIONFLOW_S3_TIMEOUT_S must be > 0, got {self.s3_timeout_s}")
        if self.workflows_definition_cache_s < 0:
            raise ValueError(
                "VISIONFLOW_WORKFLOWS_DEFINITION_CACHE_S must be >= 0 (0 disables the cache), "
                f"got {self.workflows_definition_cache_s}"
            )
        if self.model_lookup_cache_s < 0:
            raise ValueError(
                "VISIONFLOW_MODEL_LOOKUP_CACHE_S must be >= 0 (0 disables the cache), "
                f"got {self.model_lookup_cache_s}"
            )
        if self.workflows_max_concurrent_steps < 1:
            raise ValueError(
                "VISIONFLOW_WORKFLOWS_MAX_CONCURRENT_STEPS must be >= 1, "
                f"got {self.workflows_max_concurrent_steps}"
            )
        if not 1 <= self.workflows_max_nesting <= MAX_WORKFLOWS_NESTING:
            # Deeper documents break the JSON encoders and validators that walk them.
            raise ValueError(
                f"VISIONFLOW_WORKFLOWS_MAX_NESTING must be within [1, {MAX_WORKFLOWS_NESTING}], "
                f"got {self.workflows_max_nesting}"
            )
        for name, value in (
            ("MAX_INFLIGHT_REQUESTS", self.max_inflight_requests),
            ("MAX_REQUEST_PIXELS", self.max_request_pixels),
            ("MAX_IMAGES_PER_REQUEST", self.max_images_per_request),
            ("WORKFLOWS_MAX_STEPS", self.workflows_max_steps),
            ("WORKFLOWS_MAX_DEFINITION_BYTES", self.workflows_max_definition_bytes),
            ("WORKFLOWS_CACHE_MAX_ENTRIES", self.workflows_cache_max_entries),
            ("WORKFLOWS_MAX_INNER_DEPTH", self.workflows_max_inner_depth),
            ("WORKFLOWS_STATE_MAX_BYTES", self.workflows_state_max_bytes),
        ):
            if value < 1:
                raise ValueError(f"VISIONFLOW_{name} must be >= 1, got {value}")
        for name, seconds in (
            ("URL_FETCH_TIMEOUT_S", self.url_fetch_timeout_s),
            ("KEEP_ALIVE_S", self.keep_alive_s),
            ("DATABASE_TIMEOUT_S", self.database_timeout_s),
            ("AUTH_FAILURE_WINDOW_S", self.auth_failure_window_s),
            ("RATE_LIMIT_WINDOW_S", self.rate_limit_window_s),
            ("WORKFLOWS_MAX_RUN_S", self.workflows_max_run_s),
            ("WORKFLOWS_REGEX_TIMEOUT_S", self.workflows_regex_timeout_s),
            ("WORKFLOWS_WEBHOOK_MAX_TIMEOUT_S", self.workflows_webhook_max_timeout_s),
            ("WORKFLOWS_PROVIDER_TIMEOUT_S", self.workflows_provider_timeout_s),
            ("WORKFLOWS_SINK_TIMEOUT_S", self.workflows_sink_timeout_s),
        ):
            if not seconds > 0:
                raise ValueError(f"VISIONFLOW_{name} must be > 0 seconds, got {seconds}")
        for name, count in (
            ("AUTH_FAILURE_LIMIT", self.auth_failure_limit),
            ("RATE_LIMIT_PER_KEY", self.rate_limit_per_key),
            ("RATE_LIMIT_PER_ADDRESS", self.rate_limit_per_address),
        ):
            if count < 0:
                raise ValueError(f"VISIONFLOW_{name} must be >= 0 (0 turns it off), got {count}")
        if self.log_format not in {"text", "json"}:
            raise ValueError(
                f"VISIONFLOW_LOG_FORMAT must be 'text' or 'json', got {self.log_format!r}"
            )
        if self.clip_max_batch_size < 1:
            raise ValueError(
                f"VISIONFLOW_CLIP_MAX_BATCH_SIZE must be >= 1, got {self.clip_max_batch_size}"
            )

    def _check_pipelines(self) -> None:
        for name, count in (
            ("MAX_PIPELINES", self.max_pipelines),
            ("MAX_PIPELINE_SOURCES", self.max_pipeline_sources),
            ("MAX_PIPELINE_RESULTS", self.max_pipeline_results),
            ("PIPELINE_FRAME_BUFFER", self.pipeline_frame_buffer),
        ):
            if count < 1:
                raise ValueError(f"VISIONFLOW_{name} must be >= 1, got {count}")
        if not self.pipeline_reconnect_max_s > 0:
            raise ValueError(
                "VISIONFLOW_PIPELINE_RECONNECT_MAX_S must be > 0 seconds, "
                f"got {self.pipeline_reconnect_max_s}"
            )
        if not self.pipeline_stream_timeout_s > 0:
            raise ValueError(
                "VISIONFLOW_PIPELINE_STREAM_TIMEOUT_S must be > 0 seconds, "
                f"got {self.pipeline_stream_timeout_s}"
            )
        if self.pipeline_ended_ttl_s is not None and not self.pipeline_ended_ttl_s > 0:
            raise ValueError(
                "VISIONFLOW_PIPELINE_ENDED_TTL_S must be > 0 seconds (unset: never), "
                f"got {self.pipeline_ended_ttl_s}"
            )

    def _check_ray(self) -> None:
        if self.ray_replicas is not None and self.ray_replicas < 1:
            raise ValueError(f"VISIONFLOW_RAY_REPLICAS must be >= 1, got {self.ray_replicas}")
        if self.ray_min_replicas < 0:
            raise ValueError(
                "VISIONFLOW_RAY_MIN_REPLICAS must be >= 0 (0 scales to zero), "
                f"got {self.ray_min_replicas}"
            )
        if self.ray_max_replicas < max(1, self.ray_min_replicas):
            raise ValueError(
                "VISIONFLOW_RAY_MAX_REPLICAS must be >= 1 and >= VISIONFLOW_RAY_MIN_REPLICAS "
                f"({self.ray_min_replicas}), got {self.ray_max_replicas}"
            )
        for name, count in (
            ("RAY_MAX_MODELS_PER_REPLICA", self.ray_max_models_per_replica),
            ("RAY_INGRESS_REPLICAS", self.ray_ingress_replicas),
            ("RAY_NUM_CPUS", 1 if self.ray_num_cpus is None else self.ray_num_cpus),
        ):
            if count < 1:
                raise ValueError(f"VISIONFLOW_{name} must be >= 1, got {count}")
        for name, seconds in (
            ("RAY_TARGET_ONGOING_REQUESTS", self.ray_target_ongoing_requests),
            ("RAY_REQUEST_TIMEOUT_S", self.ray_request_timeout_s),
        ):
            if not seconds > 0:
                raise ValueError(f"VISIONFLOW_{name} must be > 0, got {seconds}")
        if self.ray_downscale_delay_s < 0:
            raise ValueError(
                f"VISIONFLOW_RAY_DOWNSCALE_DELAY_S must be >= 0, got {self.ray_downscale_delay_s}"
            )

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def effective_batch_max(self) -> int:
        """``batch_max``, or its default for the providers: 1 (off) on CPU only, else 8."""
        if self.batch_max is not None:
            return self.batch_max
        return 1 if set(self.onnx_providers) <= {"CPUExecutionProvider"} else 8

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'registry.db').resolve()}"

    @property
    def api_key_required(self) -> bool:
        if self.require_api_key is not None:
            return self.require_api_key
        return not is_loopback_host(self.host)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read from ``VISIONFLOW_*`` environment variables (``environment``)."""
        from visionflow.config.environment import settings_from_env

        return settings_from_env(environ)
