"""Model metrics summed over replicas (what the ingress's ``/metrics`` reports in Ray mode), and
the micro-batchers of loaded models."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tests.support.batching import GatedRun, doubling_graph, wait_for
from visionflow.models.manager import ModelManager
from visionflow.runtime import OnnxSession
from visionflow.runtime.batcher import BatcherStats
from visionflow.service.metrics import Metrics, RemoteSnapshot
from visionflow.service.services import loaded_batchers


def _replica(loads: dict[str, int], inferences: dict[str, list[float]], loaded: int) -> Metrics:
    metrics = Metrics()
    for model, count in loads.items():
        for _ in range(count):
            metrics.model_loaded(model, 0.2, loaded)
    for model, seconds in inferences.items():
        for value in seconds:
            metrics.inference_seconds.labels(model).observe(value)
    return metrics


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_the_ingress_reports_loads_and_inferences_summed_over_replicas() -> None:
    one = _replica({"acme/det/1": 1}, {"acme/det/1": [0.02, 0.03]}, loaded=1)
    two = _replica({"acme/det/1": 1, "acme/det/2": 2}, {"acme/det/2": [0.3]}, loaded=2)
    ingress = Metrics()
    ingress.inference_seconds.labels("clip").observe(0.004)  # a model the ingress runs itself
    snapshots = [
        RemoteSnapshot(0.1, tuple(one.model_snapshot())),
        RemoteSnapshot(0.4, tuple(two.model_snapshot())),
    ]
    ingress.sum_remote_models(lambda: snapshots)
    samples = _samples(ingress.render())
    loads = "visionflow_model_loads_total"
    assert samples[(loads, (("model", "acme/det/1"),))] == 2
    assert samples[(loads, (("model", "acme/det/2"),))] == 2
    count = "visionflow_model_inference_seconds_count"
    assert samples[(count, (("model", "acme/det/1"),))] == 2
    assert samples[(count, (("model", "acme/det/2"),))] == 1
    assert samples[(count, (("model", "clip"),))] == 1
    bucket = (("le", "0.025"), ("model", "acme/det/1"))
    assert samples[("visionflow_model_inference_seconds_bucket", bucket)] == 1
    assert samples[("visionflow_models_loaded", ())] == 3
    # Request metrics stay the ingress's own.
    assert b"visionflow_requests_in_flight" in ingress.render()


def test_a_silent_replica_keeps_its_counts_but_not_its_gauges() -> None:
    gone = _replica({"acme/det/1": 3}, {}, loaded=1)
    ingress = Metrics()
    ingress.sum_remote_models(lambda: [RemoteSnapshot(60.0, tuple(gone.model_snapshot()))])
    samples = _samples(ingress.render())
    assert samples[("visionflow_model_loads_total", (("model", "acme/det/1"),))] == 3
    assert samples[("visionflow_models_loaded", ())] == 0


def test_no_replica_heard_from_renders_the_ingress_alone() -> None:
    ingress = Metrics()
    ingress.sum_remote_models(lambda: [])
    text = ingress.render().decode()
    assert "# TYPE visionflow_model_loads_total counter" in text
    assert text.count("# TYPE visionflow_model_inference_seconds histogram") == 1


def test_metrics_report_the_micro_batchers_of_loaded_models(tmp_path: Path) -> None:
    # A real session with a dynamic batch axis, batching on; its first run is held so that the
    # next three calls queue and share one run.
    session = OnnxSession(doubling_graph(tmp_path / "d.onnx"), max_batch=4)
    assert session.batcher is not None
    gated = GatedRun(session._run_now)
    session.batcher._run = gated
    manager = ModelManager(4)
    manager.get("acme/double/1", lambda: _Holder(session))  # type: ignore[arg-type, return-value]
    manager.get("acme/plain/1", lambda: _Holder(None))  # type: ignore[arg-type, return-value]
    metrics = Metrics()
    metrics.watch_batchers(lambda: loaded_batchers(manager))
    x = np.ones((1, 3), np.float32)

    with ThreadPoolExecutor(max_workers=4) as callers:
        first = callers.submit(session.run, {"x": x})
        wait_for(lambda: len(gated.sizes) == 1)
        rest = [callers.submit(session.run, {"x": x}) for _ in range(3)]
        wait_for(lambda: session.batcher_stats() == BatcherStats(0, 0, 3, 0))
        waiting = _samples(metrics.render())
        gated.release.set()
        for future in [first, *rest]:
            future.result(timeout=30)

    model = (("model", "acme/double/1"),)
    assert waiting[("visionflow_batcher_queue_depth", model)] == 3
    samples = _samples(metrics.render())
    assert samples[("visionflow_batcher_runs_total", model)] == 2
    assert samples[("visionflow_batcher_requests_total", model)] == 4
    assert samples[("visionflow_batcher_largest_batch", model)] == 3
    assert samples[("visionflow_batcher_queue_depth", model)] == 0
    # A model whose sessions do not batch is not listed.
    assert not any(labels == (("model", "acme/plain/1"),) for _, labels in samples)


class _Holder:
    """A stand-in for a loaded model: whatever holds its sessions."""

    def __init__(self, session: OnnxSession | None) -> None:
        self.sessions = [session] if session is not None else []
