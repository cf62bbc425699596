"""The workflow engine's own cost per run, from the server's ``/metrics`` (not client timings):
server time of ``POST /workflows/run`` minus the time its model calls took, next to the same
figure for the direct ``POST /infer/object_detection`` route (image decode, JSON), whose
difference is what the engine adds (compile cache lookup, step scheduling, block wiring,
serialisation of the outputs; the 5-step workflow also crops and draws).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Overhead", "overhead_ms"]

Overhead = tuple[str, float, float, float]  # (what, server ms, model ms, server - model ms)


def _sums(client: httpx.Client) -> tuple[dict[str, float], float]:
    """Summed request seconds by route template, and summed model inference seconds."""
    text = client.get("/metrics").raise_for_status().text
    routes: dict[str, float] = {}
    models = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "visionflow_request_duration_seconds_sum":
                routes[sample.labels["route"]] = (
                    routes.get(sample.labels["route"], 0.0) + sample.value
                )
            elif sample.name == "visionflow_model_inference_seconds_sum":
                models += sample.value
    return routes, models


def overhead_ms(
    url: str,
    cases: Mapping[str, tuple[str, Mapping[str, Any]]],
    runs: int,
    warmup: int = 3,
    rounds: int = 4,
) -> list[Overhead]:
    """For each case ``what -> (path, body)``: mean server ms, mean model ms and their
    difference over ``runs`` sequential requests (after ``warmup``), sent in ``rounds``
    interleaved rounds (case A, B, C, A, B, C...) so the machine's drift hits every case alike."""
    per_round = max(1, runs // rounds)
    totals = {what: [0.0, 0.0, 0] for what in cases}
    with httpx.Client(base_url=url, timeout=60) as client:
        for path, body in cases.values():
            for _ in range(warmup):
                client.post(path, json=body).raise_for_status()
        for _ in range(rounds):
            for what, (path, body) in cases.items():
                routes_before, models_before = _sums(client)
                for _ in range(per_round):
                    client.post(path, json=body).raise_for_status()
                routes_after, models_after = _sums(client)
                total = totals[what]
                total[0] += routes_after.get(path, 0.0) - routes_before.get(path, 0.0)
                total[1] += models_after - models_before
                total[2] += per_round
    found: list[Overhead] = []
    for what, (server_s, model_s, count) in totals.items():
        server, model = server_s / count * 1000, model_s / count * 1000
        found.append((what, server, model, server - model))
    return found
