"""Model metrics summed over replicas: what the ingress's ``/metrics`` reports in Ray mode."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from visionflow.service.metrics import Metrics, RemoteSnapshot


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
