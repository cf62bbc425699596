"""``data_aggregator@v1`` through the compiler and executor: every aggregation mode, windows
counted in runs and in (fake) seconds, state across runs of one executor, isolation by
workspace and definition, and errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import REGISTRY, ScriptedModels, boxes, canvas, model_step
from visionflow.workflows import BlockRegistry, Executor, RunContext, compile_workflow
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.blocks.aggregator import DataAggregatorV1
from visionflow.workflows.errors import (
    InvalidInputTypeError,
    InvalidReferenceTargetError,
    WorkflowSyntaxError,
)

DECLARED = [{"type": "WorkflowBatchInput", "name": "value"}]
ALL_MODES = [
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "distinct",
    "count_distinct",
    "values_counts",
    "values_difference",
]


def _aggregator(**fields: Any) -> dict[str, Any]:
    return {
        "type": "roboflow_core/data_aggregator@v1",
        "name": "agg",
        "data": {"v": "$inputs.value"},
        "aggregation_mode": {"v": ALL_MODES},
        "interval_unit": "runs",
        "interval": 3,
        **fields,
    }


def _workflow(
    steps: list[dict[str, Any]],
    outputs: dict[str, str],
    declared: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": declared or DECLARED,
        "steps": steps,
        "outputs": [{"type": "JsonField", "name": n, "selector": s} for n, s in outputs.items()],
    }


def _run(
    executor: Executor,
    workflow: dict[str, Any],
    inputs: dict[str, Any],
    *,
    registry: BlockRegistry = REGISTRY,
    tenant: str = "",
    models: ScriptedModels | None = None,
) -> list[dict[str, Any]]:
    plan = compile_workflow(workflow, registry)
    return executor.run(
        plan,
        inputs,
        context=RunContext(models=models or ScriptedModels(), tenant=tenant),
        decode_image=lambda value: canvas(),
        serialize=True,
    )


def test_every_mode_over_a_window_of_runs_in_one_batch() -> None:
    results = _run(
        Executor(),
        _workflow([_aggregator()], {"report": "$steps.agg.*"}),
        {"value": [4, 1, 4, 10, 2, 2]},
    )
    reports = [result["report"] for result in results]
    empty = dict.fromkeys((f"v_{mode}" for mode in ALL_MODES), None)
    assert reports[0] == reports[1] == reports[3] == reports[4] == empty
    assert reports[2] == {
        "v_sum": 9,
        "v_avg": 3.0,
        "v_max": 4,
        "v_min": 1,
        "v_count": 3,
        "v_distinct": [4, 1],
        "v_count_distinct": 2,
        "v_values_counts": {"4": 2, "1": 1},
        "v_values_difference": 3,
    }
    # The window closed and a new, empty one opened: the second report covers 10, 2, 2 only.
    assert reports[5]["v_sum"] == 14
    assert reports[5]["v_values_difference"] == 8
    assert reports[5]["v_values_counts"] == {"10": 1, "2": 2}


def test_window_spans_requests_to_the_same_executor() -> None:
    executor = Executor()
    workflow = _workflow([_aggregator(aggregation_mode={"v": ["sum"]})], {"s": "$steps.agg.v_sum"})
    sums = [_run(executor, workflow, {"value": value})[0]["s"] for value in (5, 6, 7, 1)]
    assert sums == [None, None, 18, None]
    # A fresh executor (another process) starts from scratch.
    assert _run(Executor(), workflow, {"value": 5})[0]["s"] is None


def test_windows_are_kept_per_workspace_and_per_definition() -> None:
    executor = Executor()
    workflow = _workflow([_aggregator(interval=2)], {"s": "$steps.agg.v_sum"})
    other = _workflow([_aggregator(interval=2, name="other")], {"s": "$steps.other.v_sum"})
    assert _run(executor, workflow, {"value": 1}, tenant="acme")[0]["s"] is None
    assert _run(executor, workflow, {"value": 100}, tenant="globex")[0]["s"] is None
    assert _run(executor, other, {"value": 1000}, tenant="acme")[0]["s"] is None
    assert _run(executor, workflow, {"value": 2}, tenant="acme")[0]["s"] == 3
    assert _run(executor, workflow, {"value": 200}, tenant="globex")[0]["s"] == 300


class _Clock:
    now = 1000.0


class _TimedAggregator(DataAggregatorV1):
    def now(self) -> float:
        return _Clock.now


@pytest.mark.parametrize(
    ("unit", "interval", "step_s"),
    [
        pytest.param("seconds", 10, 4.0, id="seconds"),
        pytest.param("minutes", 1, 24.0, id="minutes"),
        pytest.param("hours", 2, 2880.0, id="hours"),
    ],
)
def test_time_windows_close_when_the_interval_has_elapsed(
    unit: str, interval: int, step_s: float
) -> None:
    registry = BlockRegistry(discover=False)
    registry.register(_TimedAggregator)
    workflow = _workflow(
        [_aggregator(interval_unit=unit, interval=interval, aggregation_mode={"v": ["count"]})],
        {"n": "$steps.agg.v_count"},
    )
    executor = Executor()
    counts = []
    for value in range(7):  # the window opens at the first run; 2.5 steps make an interval
        counts.append(_run(executor, workflow, {"value": value}, registry=registry)[0]["n"])
        _Clock.now += step_s
    # Runs at 0, 1, 2, 2.5 steps: the 4th closes the window; the next opens there.
    assert counts == [None, None, None, 4, None, None, 3]


def test_data_operations_extract_values_from_detections_first() -> None:
    frames = iter([["car", "bus"], ["car"], ["bike", "car", "car"]])

    def detect(image: Any) -> Any:
        names = next(frames)
        xyxy = [[10 * i, 0, 10 * i + 5, 5] for i in range(len(names))]
        return boxes(xyxy, class_ids=list(range(len(names))), names=names)

    models = ScriptedModels({"m/1": detect})
    aggregator = _aggregator(
        data={"classes": "$steps.det.predictions", "boxes": "$steps.det.predictions"},
        data_operations={
            "classes": [{"type": "DetectionsPropertyExtract", "property_name": "class_name"}],
            "boxes": [{"type": "SequenceLength"}],
        },
        aggregation_mode={"classes": ["distinct", "values_counts", "count"], "boxes": ["avg"]},
    )
    workflow = _workflow(
        [model_step("det", "m/1"), aggregator],
        {"report": "$steps.agg.*"},
        declared=[{"type": "WorkflowImage", "name": "image"}],
    )
    results = _run(Executor(), workflow, {"image": ["a", "b", "c"]}, models=models)
    assert results[2]["report"] == {
        "classes_distinct": ["car", "bus", "bike"],
        "classes_values_counts": {"car": 4, "bus": 1, "bike": 1},
        "classes_count": 6,
        "boxes_avg": 2.0,
    }


def test_steps_fed_by_an_open_window_are_skipped() -> None:
    workflow = _workflow(
        [
            _aggregator(interval=2, aggregation_mode={"v": ["max"]}),
            {
                "type": "roboflow_core/property_definition@v1",
                "name": "double",
                "data": "$steps.agg.v_max",
                "operations": [{"type": "Multiply", "other": 2}],
            },
        ],
        {"doubled": "$steps.double.output"},
    )
    results = _run(Executor(), workflow, {"value": [3, 8, 1]})
    assert [r["doubled"] for r in results] == [None, 16, None]


def test_output_kinds_and_names_come_from_the_manifest() -> None:
    plan = compile_workflow(_workflow([_aggregator()], {}), REGISTRY)
    outputs = {o.name: o.kinds for o in plan.steps["agg"].outputs}
    assert list(outputs) == [f"v_{mode}" for mode in ALL_MODES]
    assert outputs["v_distinct"] == ("list_of_values",)
    assert outputs["v_values_counts"] == ("dictionary",)
    assert outputs["v_avg"] == ("float", "integer")
    assert DataAggregatorV1 in CORE_BLOCKS


@pytest.mark.parametrize(
    ("step", "outputs", "error", "message"),
    [
        pytest.param(
            _aggregator(data_operations={"w": [{"type": "SequenceLength"}]}),
            {},
            WorkflowSyntaxError,
            "data_operations for 'w', which is not in data",
            id="operations-for-unknown-data",
        ),
        pytest.param(
            _aggregator(interval=0),
            {},
            WorkflowSyntaxError,
            "field 'interval': Input should be greater than 0",
            id="zero-interval",
        ),
        pytest.param(
            _aggregator(aggregation_mode={"v": ["median"]}),
            {},
            WorkflowSyntaxError,
            "field 'aggregation_mode'",
            id="unknown-mode",
        ),
        pytest.param(
            _aggregator(aggregation_mode={"v": ["sum"]}),
            {"x": "$steps.agg.v_avg"},
            InvalidReferenceTargetError,
            "step 'agg' has no output 'v_avg' (its outputs: v_sum)",
            id="output-not-aggregated",
        ),
    ],
)
def test_definition_errors(
    step: dict[str, Any], outputs: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_workflow(_workflow([step], outputs), REGISTRY)


@pytest.mark.parametrize(
    ("mode", "value", "message"),
    [
        pytest.param("sum", "car", "'sum' needs numbers, got str 'car'", id="sum-of-text"),
        pytest.param("avg", [1, 2], "'avg' needs numbers, got list", id="avg-of-list"),
        pytest.param("distinct", {"a": 1}, "cannot collect dict values", id="distinct-of-dict"),
    ],
)
def test_unusable_values_are_a_400_naming_the_step(mode: str, value: Any, message: str) -> None:
    workflow = _workflow(
        [_aggregator(aggregation_mode={"v": [mode]})],
        {},
        declared=[{"type": "WorkflowParameter", "name": "value"}],
    )
    with pytest.raises(InvalidInputTypeError, match=message) as raised:
        _run(Executor(), workflow, {"value": value})
    assert raised.value.status_code == 400
    assert "Step 'agg' (roboflow_core/data_aggregator@v1)" in raised.value.message
