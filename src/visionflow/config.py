"""Settings, read once from the environment into a typed, frozen object.

No other module reads environment variables: the server, CLI and tests build a ``Settings`` (tests
construct it directly) and pass it down.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "DEFAULT_PROVIDER_URLS",
    "MAX_WORKFLOWS_NESTING",
    "EmailRelay",
    "Settings",
    "SmsRelay",
    "parse_email_relay",
    "parse_sms_relay",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
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


def _bool(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _float(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _pairs(raw: str, name: str, example: str) -> tuple[tuple[str, str], ...]:
    """``"a=x,b=y"`` → ``(("a", "x"), ("b", "y"))``; ``example`` shows the form in errors."""
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        key, sep, value = item.partition("=")
        if not item:
            continue
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name} must look like {example!r}, got {raw!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class EmailRelay:
    """An SMTPS server and the account that sends through it."""

    host: str
    port: int
    username: str
    password: str
    sender: str


def parse_email_relay(url: str) -> EmailRelay:
    """``smtps://user:password@host[:port][?from=address]`` (user and password URL-encoded)."""
    example = "smtps://alerts%40example.com:app-password@smtp.example.com:465"
    parts = urlsplit(url)
    try:
        port = parts.port or 465
    except ValueError:
        port = 0
    if parts.scheme != "smtps" or not parts.hostname or not parts.username or not port:
        raise ValueError(
            f"VISIONFLOW_WORKFLOWS_EMAIL_RELAY must look like {example!r} (implicit TLS, with a "
            "user and password)"
        )
    username = unquote(parts.username)
    sender = parse_qs(parts.query).get("from", [username])[0]
    return EmailRelay(parts.hostname, port, username, unquote(parts.password or ""), sender)


@dataclass(frozen=True)
class SmsRelay:
    """A Twilio account and the number it sends from."""

    account_sid: str
    auth_token: str
    sender: str


def parse_sms_relay(pairs: tuple[tuple[str, str], ...]) -> SmsRelay:
    found = dict(pairs)
    sid, token, sender = (found.get(k, "") for k in ("account_sid", "auth_token", "from"))
    if set(found) != {"account_sid", "auth_token", "from"} or not sid.isalnum():
        raise ValueError(
            "VISIONFLOW_WORKFLOWS_SMS_RELAY must give exactly account_sid (letters and digits), "
            "auth_token and from, as 'account_sid=AC...,auth_token=...,from=+15550001111'"
        )
    return SmsRelay(sid, token, sender)


def is_loopback_host(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
        (version, "clip/1")
        for version in (
            "RN101",
            "RN50",
            "RN50x16",
            "RN50x4",
            "RN50x64",
            "ViT-B-16",
            "ViT-B-32",
            "ViT-L-14-336px",
            "ViT-L-14",
        )
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
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str) -> str | None:
            value = env.get(f"VISIONFLOW_{name}")
            return value if value not in (None, "") else None

        def pick_int(name: str, default: int) -> int:
            raw = get(name)
            return default if raw is None else _int(raw, f"VISIONFLOW_{name}")

        def pick_float(name: str, default: float) -> float:
            raw = get(name)
            return default if raw is None else _float(raw, f"VISIONFLOW_{name}")

        def pick_bool(name: str, default: bool) -> bool:
            raw = get(name)
            return default if raw is None else _bool(raw, f"VISIONFLOW_{name}")

        require_raw = get("REQUIRE_API_KEY")
        providers_raw = get("ONNX_PROVIDERS")
        body_mb = get("MAX_BODY_MB")
        cache_raw = get("WORKFLOWS_DEFINITION_CACHE_S")
        ray_replicas = get("RAY_REPLICAS")
        ray_cpus = get("RAY_NUM_CPUS")
        return cls(
            home=Path(get("HOME") or defaults.home),
            database_url=get("DATABASE_URL"),
            host=get("HOST") or defaults.host,
            port=pick_int("PORT", defaults.port),
            require_api_key=(
                None if require_raw is None else _bool(require_raw, "VISIONFLOW_REQUIRE_API_KEY")
            ),
            max_body_bytes=(
                defaults.max_body_bytes
                if body_mb is None
                else int(_float(body_mb, "VISIONFLOW_MAX_BODY_MB") * 1024 * 1024)
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
            max_images_per_request=pick_int(
                "MAX_IMAGES_PER_REQUEST", defaults.max_images_per_request
            ),
            database_timeout_s=pick_float("DATABASE_TIMEOUT_S", defaults.database_timeout_s),
            auth_failure_limit=pick_int("AUTH_FAILURE_LIMIT", defaults.auth_failure_limit),
            auth_failure_window_s=pick_float(
                "AUTH_FAILURE_WINDOW_S", defaults.auth_failure_window_s
            ),
            rate_limit_per_key=pick_int("RATE_LIMIT_PER_KEY", defaults.rate_limit_per_key),
            rate_limit_per_address=pick_int(
                "RATE_LIMIT_PER_ADDRESS", defaults.rate_limit_per_address
            ),
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
            batch_max=None if get("BATCH_MAX") in (None, "") else pick_int("BATCH_MAX", 1),
            batch_wait_ms=pick_float("BATCH_WAIT_MS", defaults.batch_wait_ms),
            onnx_allow_spinning=pick_bool("ONNX_ALLOW_SPINNING", defaults.onnx_allow_spinning),
            onnx_provider_fallback=pick_bool(
                "ONNX_PROVIDER_FALLBACK", defaults.onnx_provider_fallback
            ),
            demo_workspace=get("DEMO_WORKSPACE") or defaults.demo_workspace,
            register_demo_models=pick_bool("REGISTER_DEMO_MODELS", defaults.register_demo_models),
            workflows_profiling_allowed=pick_bool(
                "WORKFLOWS_PROFILING", defaults.workflows_profiling_allowed
            ),
            workflows_definition_cache_s=(
                defaults.workflows_definition_cache_s
                if cache_raw is None
                else _float(cache_raw, "VISIONFLOW_WORKFLOWS_DEFINITION_CACHE_S")
            ),
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
            workflows_allow_egress=pick_bool(
                "WORKFLOWS_ALLOW_EGRESS", defaults.workflows_allow_egress
            ),
            workflows_provider_urls=tuple(
                {
                    **DEFAULT_PROVIDER_URLS,
                    **dict(
                        _pairs(
                            get("WORKFLOWS_PROVIDER_URLS") or "",
                            "VISIONFLOW_WORKFLOWS_PROVIDER_URLS",
                            "openai=http://127.0.0.1:8000/v1",
                        )
                    ),
                }.items()
            ),
            workflows_provider_keys=_pairs(
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
            workflows_sms_relay=_pairs(
                get("WORKFLOWS_SMS_RELAY") or "",
                "VISIONFLOW_WORKFLOWS_SMS_RELAY",
                "account_sid=AC...,auth_token=...,from=+15550001111",
            ),
            workflows_secret_env_allowlist=tuple(
                n.strip()
                for n in (get("WORKFLOWS_SECRET_ENV_ALLOWLIST") or "").split(",")
                if n.strip()
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
                        _pairs(
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
                        _pairs(
                            get("YOLO_WORLD_MODELS") or "",
                            "VISIONFLOW_YOLO_WORLD_MODELS",
                            "v2-s=yolo-world/1,l=yolo-world-l/1",
                        )
                    ),
                }.items()
            ),
            ray_replicas=(
                None if ray_replicas is None else _int(ray_replicas, "VISIONFLOW_RAY_REPLICAS")
            ),
            ray_min_replicas=pick_int("RAY_MIN_REPLICAS", defaults.ray_min_replicas),
            ray_max_replicas=pick_int("RAY_MAX_REPLICAS", defaults.ray_max_replicas),
            ray_target_ongoing_requests=pick_float(
                "RAY_TARGET_ONGOING_REQUESTS", defaults.ray_target_ongoing_requests
            ),
            ray_downscale_delay_s=pick_float(
                "RAY_DOWNSCALE_DELAY_S", defaults.ray_downscale_delay_s
            ),
            ray_max_models_per_replica=pick_int(
                "RAY_MAX_MODELS_PER_REPLICA", defaults.ray_max_models_per_replica
            ),
            ray_ingress_replicas=pick_int("RAY_INGRESS_REPLICAS", defaults.ray_ingress_replicas),
            ray_address=get("RAY_ADDRESS"),
            ray_num_cpus=None if ray_cpus is None else _int(ray_cpus, "VISIONFLOW_RAY_NUM_CPUS"),
            ray_request_timeout_s=pick_float(
                "RAY_REQUEST_TIMEOUT_S", defaults.ray_request_timeout_s
            ),
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
                None
                if get("PIPELINE_ENDED_TTL_S") is None
                else pick_float("PIPELINE_ENDED_TTL_S", 0.0)
            ),
        )
