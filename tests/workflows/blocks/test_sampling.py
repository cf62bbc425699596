"""``identify_changes`` and ``identify_outliers`` over a stream of embeddings sent one request at
a time: steady embeddings, then one pointing elsewhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.memory import StepMemory

DECLARED = [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowParameter", "name": "e"}]


def _stream(
    block: dict[str, Any], outputs: dict[str, str], embeddings: list[list[float]]
) -> list[dict[str, Any]]:
    context = RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "d"))
    return [
        run(
            [block],
            outputs,
            {"image": canvas()},
            {"image": "image", "e": e},
            declared=DECLARED,
            context=context,
        )[0]
        for e in embeddings
    ]


def _steady(n: int) -> list[list[float]]:
    rng = np.random.default_rng(1)
    return [(np.array([1.0, 0.0, 0.0, 0.0]) + rng.normal(0, 0.02, 4)).tolist() for _ in range(n)]


@pytest.mark.parametrize(
    "strategy",
    ["Exponential Moving Average (EMA)", "Simple Moving Average (SMA)", "Sliding Window"],
)
def test_identify_changes_flags_the_embedding_that_moved(strategy: str) -> None:
    block = step(
        "identify_changes@v1",
        "changes",
        embedding="$inputs.e",
        strategy=strategy,
        threshold_percentile=0.05,
        warmup=3,
    )
    outputs = {
        "out": "$steps.changes.is_outlier",
        "warm": "$steps.changes.warming_up",
        "z": "$steps.changes.z_score",
        "avg": "$steps.changes.average",
    }
    results = _stream(block, outputs, [*_steady(12), [0.0, 1.0, 0.0, 0.0]])
    assert [r["warm"] for r in results[:4]] == [True, True, True, False]
    assert results[-1]["out"] is True
    assert results[-1]["z"] < -2
    assert not any(r["out"] for r in results[:3])
    assert len(results[0]["avg"]) == 4


def test_identify_outliers_flags_the_odd_embedding() -> None:
    block = step(
        "identify_outliers@v1",
        "outliers",
        embedding="$inputs.e",
        threshold_percentile=0.05,
        warmup=3,
        window_size=32,
    )
    outputs = {
        "out": "$steps.outliers.is_outlier",
        "p": "$steps.outliers.percentile",
        "warm": "$steps.outliers.warming_up",
    }
    results = _stream(block, outputs, [*_steady(10), [0.0, 1.0, 0.0, 0.0]])
    assert [r["warm"] for r in results[:3]] == [True, True, False]
    assert results[-1]["out"] is True
    assert results[-1]["p"] == 0.0
