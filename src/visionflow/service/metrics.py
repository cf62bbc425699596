"""Prometheus metrics of one server process (prometheus-client, a registry per ``Services``).

Requests by route and status with latency histograms, requests in flight, model inference time,
model loads and evictions, and rejections by reason (admission, rate limits, budgets). Routes
are labelled by their path template (``/{workspace_name}/workflows/{workflow_id}``), models by
``workspace/project/version``: both bounded by what is registered, never by what clients send.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The collectors; thread-safe (prometheus-client locks its values)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "visionflow_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "visionflow_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "visionflow_requests_in_flight",
            "Requests being served now (health and metrics routes not counted).",
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "visionflow_model_inference_seconds",
            "Time of one model call (preprocess, forward, postprocess) on a batch of images.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_loads = Counter(
            "visionflow_model_loads",
            "Models loaded into memory, by model.",
            ["model"],
            registry=self.registry,
        )
        self.model_load_seconds = Histogram(
            "visionflow_model_load_seconds",
            "Time to load a model (verify its weights, create its sessions).",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_evictions = Counter(
            "visionflow_model_evictions",
            "Models dropped from memory, by model and reason (lru, unload).",
            ["model", "reason"],
            registry=self.registry,
        )
        self.models_loaded = Gauge(
            "visionflow_models_loaded", "Models in memory now.", registry=self.registry
        )
        self.rejections = Counter(
            "visionflow_rejections",
            "Requests refused to protect the server, by reason (the error code: server_busy, "
            "rate_limited, image_too_large, payload_too_large, run_timeout, ...).",
            ["reason"],
            registry=self.registry,
        )

    def model_loaded(self, model: str, seconds: float, loaded_now: int) -> None:
        self.model_loads.labels(model).inc()
        self.model_load_seconds.labels(model).observe(seconds)
        self.models_loaded.set(loaded_now)

    def model_evicted(self, model: str, reason: str, loaded_now: int) -> None:
        self.model_evictions.labels(model, reason).inc()
        self.models_loaded.set(loaded_now)

    def render(self) -> bytes:
        """The text exposition format of every collector."""
        return generate_latest(self.registry)
