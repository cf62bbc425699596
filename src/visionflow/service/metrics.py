"""Prometheus metrics of one server process (prometheus-client, a registry per ``Services``).

Requests by route and status with latency histograms, requests in flight, model inference time,
model loads and evictions, the micro-batchers of loaded models (runs, requests, queue depth,
largest batch), and rejections by reason (admission, rate limits, budgets). Routes
are labelled by their path template (``/{workspace_name}/workflows/{workflow_id}``), models by
``workspace/project/version``: both bounded by what is registered, never by what clients send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from visionflow.runtime.batcher import BatcherStats

__all__ = ["CONTENT_TYPE", "Family", "Metrics", "RemoteSnapshot", "merge_families"]

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
        self._batchers: _Batchers | None = None

    def watch_batchers(self, source: Callable[[], Iterable[tuple[str, BatcherStats]]]) -> None:
        """Report the micro-batchers ``source`` lists at every scrape: ``(model key, stats)`` of
        each loaded model whose sessions batch (``runtime.batcher``)."""
        if self._batchers is not None:
            self.registry.unregister(self._batchers)
        self._batchers = _Batchers(source)
        self.registry.register(self._batchers)

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

    # -- a tier of model replicas in other processes (Ray Serve) --------------------------------
    def _model_collectors(self) -> tuple[Counter | Gauge | Histogram | _Batchers, ...]:
        found: tuple[Counter | Gauge | Histogram | _Batchers, ...] = (
            self.inference_seconds,
            self.model_loads,
            self.model_load_seconds,
            self.model_evictions,
            self.models_loaded,
        )
        return found if self._batchers is None else (*found, self._batchers)

    def model_snapshot(self) -> list[Family]:
        """The model families of this process, as plain values another process can sum."""
        return [
            Family.of(metric)
            for collector in self._model_collectors()
            for metric in collector.collect()
        ]

    def sum_remote_models(self, remote: Callable[[], Sequence[RemoteSnapshot]]) -> None:
        """Report the model families summed over this process and ``remote()``'s replicas.

        Loads, load times, inference counts and times and evictions are counted where models
        run; in Ray mode that is the replicas of the model tier, so the ingress's ``/metrics``
        sums their last snapshots (a replica that died keeps its counts in the sums; gauges only
        count replicas heard from recently). ``remote`` must not raise.
        """
        for collector in self._model_collectors():
            self.registry.unregister(collector)
        self.registry.register(_SummedModels(self, remote))


class _Batchers:
    """A collector: the micro-batchers of loaded models, read at scrape time. Counters restart
    when a model is loaded again (its batcher is new)."""

    def __init__(self, source: Callable[[], Iterable[tuple[str, BatcherStats]]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "visionflow_batcher_runs",
            "Session runs made by the micro-batchers of a model (several requests can share one).",
            labels=["model"],
        )
        requests = CounterMetricFamily(
            "visionflow_batcher_requests",
            "Model calls served by the micro-batchers of a model.",
            labels=["model"],
        )
        depth = GaugeMetricFamily(
            "visionflow_batcher_queue_depth",
            "Model calls waiting for a model's session now.",
            labels=["model"],
        )
        largest = GaugeMetricFamily(
            "visionflow_batcher_largest_batch",
            "Most rows merged into one session run of a model since it loaded.",
            labels=["model"],
        )
        for model, stats in self._source():
            runs.add_metric([model], stats.runs)
            requests.add_metric([model], stats.requests)
            depth.add_metric([model], stats.queue_depth)
            largest.add_metric([model], stats.largest_batch)
        yield from (runs, requests, depth, largest)

    def describe(self) -> list[Metric]:
        return []


@dataclass(frozen=True)
class Family:
    """One metric family's samples: (sample name, labels, value), ``*_created`` left out."""

    name: str
    documentation: str
    type: str
    samples: tuple[tuple[str, tuple[tuple[str, str], ...], float], ...]

    @classmethod
    def of(cls, metric: Metric) -> Family:
        samples = tuple(
            (s.name, tuple(sorted(s.labels.items())), float(s.value))
            for s in metric.samples
            if not s.name.endswith("_created")
        )
        return cls(metric.name, metric.documentation, metric.type, samples)


@dataclass(frozen=True)
class RemoteSnapshot:
    """What one replica reported last, and how long ago (seconds)."""

    age_s: float
    families: tuple[Family, ...]


# Sample suffixes in exposition order within one label set.
_SUFFIX_ORDER = {"_bucket": 0, "_count": 1, "_sum": 2, "_total": 0}


def _sample_order(
    name: str, family: str, labels: tuple[tuple[str, str], ...]
) -> tuple[object, ...]:
    rest = tuple(item for item in labels if item[0] != "le")
    le = dict(labels).get("le")
    bound = float(le) if le is not None else 0.0
    return (rest, _SUFFIX_ORDER.get(name[len(family) :], 3), bound)


def merge_families(
    snapshots: Iterable[RemoteSnapshot], *, gauge_max_age_s: float = 15.0
) -> list[Metric]:
    """Sum samples of the same name and labels over ``snapshots`` (gauges: recent ones only)."""
    heads: dict[str, Family] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for snapshot in snapshots:
        for family in snapshot.families:
            heads.setdefault(family.name, family)
            totals = sums.setdefault(family.name, {})
            if family.type == "gauge" and snapshot.age_s > gauge_max_age_s:
                continue
            for name, labels, value in family.samples:
                totals[(name, labels)] = totals.get((name, labels), 0.0) + value
    merged: list[Metric] = []
    for name, head in heads.items():
        metric = Metric(name, head.documentation, head.type)
        ordered = sorted(sums[name].items(), key=lambda kv: _sample_order(kv[0][0], name, kv[0][1]))
        for (sample, labels), value in ordered:
            metric.add_sample(sample, dict(labels), value)
        merged.append(metric)
    return merged


class _SummedModels:
    """A collector: this process's model families plus the remote replicas', summed."""

    def __init__(self, metrics: Metrics, remote: Callable[[], Sequence[RemoteSnapshot]]) -> None:
        self._metrics = metrics
        self._remote = remote

    def collect(self) -> Iterator[Metric]:
        local = RemoteSnapshot(0.0, tuple(self._metrics.model_snapshot()))
        yield from merge_families([local, *self._remote()])

    def describe(self) -> list[Metric]:
        # Names only (registering must not call the remote replicas).
        return [Metric(f.name, f.documentation, f.type) for f in self._metrics.model_snapshot()]
