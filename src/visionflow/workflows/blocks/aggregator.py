"""``data_aggregator@v1``: statistics of workflow values over time windows.

Each run feeds the step's ``data`` (after ``data_operations``) into the aggregations listed in
``aggregation_mode``; the step outputs ``<data name>_<mode>`` for each, but only on the run that
closes the window — ``interval`` runs (``interval_unit: runs``) or ``interval`` seconds, minutes
or hours of wall-clock time since the window opened. Every other run outputs ``null`` for all of
them, so steps fed by the aggregator are skipped there (the reference's "empty" output). Closing
a window starts a new, empty one.

The window lives in the executor's memory (``workflows.memory``): successive requests running the
same definition for the same workspace aggregate together, and the elements of one batch count
as successive runs, in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field, model_validator

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.blocks.expressions import apply_data_operations
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.manifest import AnySelector, StepManifest
from visionflow.workflows.query import Operation

__all__ = ["AGGREGATOR_BLOCKS", "DataAggregatorV1"]

AggregationMode = Literal[
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
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}


class DataAggregatorManifest(StepManifest):
    data: dict[str, AnySelector]
    data_operations: dict[str, list[Operation]] = Field(default_factory=dict)
    aggregation_mode: dict[str, list[AggregationMode]]
    interval_unit: Literal["seconds", "minutes", "hours", "runs"] = "seconds"
    interval: Annotated[int, Field(gt=0)]

    @model_validator(mode="after")
    def _operations_name_data(self) -> DataAggregatorManifest:
        unknown = sorted(set(self.data_operations) - set(self.data))
        if unknown:
            raise ValueError(
                f"data_operations for {', '.join(map(repr, unknown))}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not in data"
            )
        return self


class _AggregationError(ValueError):
    """A value an aggregation cannot take (the message says why)."""


def _number(value: Any, mode: str) -> float | int:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, int | float):
        raise _AggregationError(f"{mode!r} needs numbers, got {type(value).__name__} {value!r:.60}")
    return value


def _elements(value: Any) -> list[Any]:
    """The values a list-like datum contributes (each element), else the datum itself."""
    items = list(value) if isinstance(value, list | tuple | set) else [value]
    for item in items:
        try:
            hash(item)
        except TypeError:
            raise _AggregationError(f"cannot collect {type(item).__name__} values") from None
    return items


class _Aggregate:
    def add(self, value: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


@dataclass
class _Sum(_Aggregate):
    total: float | int = 0

    def add(self, value: Any) -> None:
        self.total += _number(value, "sum")

    def result(self) -> Any:
        return self.total


@dataclass
class _Average(_Aggregate):
    total: float = 0.0
    count: int = 0

    def add(self, value: Any) -> None:
        self.total += _number(value, "avg")
        self.count += 1

    def result(self) -> Any:
        return self.total / self.count if self.count else None


@dataclass
class _Extreme(_Aggregate):
    pick: Callable[[Any, Any], Any]
    mode: str
    value: float | int | None = None

    def add(self, value: Any) -> None:
        number = _number(value, self.mode)
        self.value = number if self.value is None else self.pick(self.value, number)

    def result(self) -> Any:
        return self.value


@dataclass
class _Count(_Aggregate):
    """Values seen; a list-like datum (list, tuple, set, dict, detections) counts its items."""

    count: int = 0

    def add(self, value: Any) -> None:
        collection = isinstance(value, list | tuple | set | dict | sv.Detections)
        self.count += len(value) if collection else 1

    def result(self) -> Any:
        return self.count


@dataclass
class _Distinct(_Aggregate):
    """Distinct values in the order first seen (``distinct``), how many (``count_distinct``),
    or how often each occurred (``values_counts``)."""

    mode: str
    counts: dict[Any, int] = field(default_factory=dict)

    def add(self, value: Any) -> None:
        for item in _elements(value):
            self.counts[item] = self.counts.get(item, 0) + 1

    def result(self) -> Any:
        if self.mode == "distinct":
            return list(self.counts)
        if self.mode == "count_distinct":
            return len(self.counts)
        return dict(self.counts)


@dataclass
class _Difference(_Aggregate):
    """Largest minus smallest value seen; ``None`` until two values were seen (as the
    reference, which however subtracts the first from the second value seen)."""

    low: float | int | None = None
    high: float | int | None = None
    seen: int = 0

    def add(self, value: Any) -> None:
        number = _number(value, "values_difference")
        self.low = number if self.low is None else min(self.low, number)
        self.high = number if self.high is None else max(self.high, number)
        self.seen += 1

    def result(self) -> Any:
        if self.seen < 2 or self.low is None or self.high is None:
            return None
        return self.high - self.low


def _new_aggregate(mode: str) -> _Aggregate:
    if mode == "sum":
        return _Sum()
    if mode == "avg":
        return _Average()
    if mode in ("max", "min"):
        return _Extreme(max if mode == "max" else min, mode)
    if mode == "count":
        return _Count()
    if mode in ("distinct", "count_distinct", "values_counts"):
        return _Distinct(mode)
    return _Difference()


@dataclass
class _Window:
    """The aggregations of the open window, when it opened and how many runs it has seen."""

    opened_at: float
    runs: int = 0
    aggregates: dict[str, _Aggregate] = field(default_factory=dict)


def _output_kinds(mode: str) -> tuple[str, ...]:
    if mode == "distinct":
        return (k.LIST_OF_VALUES,)
    if mode == "values_counts":
        return (k.DICTIONARY,)
    return (k.FLOAT, k.INTEGER)


def _columns(manifest: DataAggregatorManifest) -> list[tuple[str, str, str]]:
    """``(output name, data name, mode)`` for every aggregation of a data entry."""
    return [
        (f"{name}_{mode}", name, mode)
        for name in manifest.data
        for mode in manifest.aggregation_mode.get(name, [])
    ]


class DataAggregatorV1(Block):
    """Outputs ``<name>_<mode>`` for each aggregation of each ``data`` entry when the window
    closes, ``null`` otherwise (module docstring)."""

    type = "roboflow_core/data_aggregator@v1"
    manifest = DataAggregatorManifest
    outputs = (OutputDefinition("*", (k.WILDCARD,)),)

    def now(self) -> float:
        """Seconds on the clock that times windows (a test may register a subclass with its
        own clock)."""
        return time.monotonic()

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, DataAggregatorManifest)
        return tuple(
            OutputDefinition(output, _output_kinds(mode)) for output, _n, mode in _columns(manifest)
        )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        if not batch:
            return []
        local: dict[Hashable, _Window] = {}
        key = ("data_aggregator", batch[0].step)

        def new_window() -> _Window:
            return _Window(opened_at=self.now())

        if context.memory is None:
            window = local.setdefault(key, new_window())
            return [self._feed(window, inputs, context.budget) for inputs in batch]
        with context.memory.hold(key, new_window) as window:
            return [self._feed(window, inputs, context.budget) for inputs in batch]

    def _feed(self, window: _Window, inputs: StepInputs, budget: RunBudget) -> StepResult:
        # The manifest checked that every ``data_operations`` entry names a ``data`` entry.
        data = apply_data_operations(
            inputs, inputs["data"], "data_operations", inputs["data_operations"], budget
        )
        modes: dict[str, list[str]] = inputs["aggregation_mode"]
        columns = [(f"{name}_{mode}", name, mode) for name in data for mode in modes.get(name, [])]
        for output, name, mode in columns:
            aggregate = window.aggregates.setdefault(output, _new_aggregate(mode))
            try:
                aggregate.add(data[name])
            except _AggregationError as exc:
                raise inputs.fail("aggregation_mode", f"{name}: {exc}") from None
        window.runs += 1
        now = self.now()
        interval, unit = inputs.as_int("interval", low=1), inputs.as_str("interval_unit")
        if unit == "runs":
            due = window.runs >= interval
        else:
            due = now - window.opened_at >= interval * _UNIT_SECONDS[unit]
        if not due:
            return dict.fromkeys((output for output, _n, _m in columns), None)
        report = {output: window.aggregates[output].result() for output, _n, _m in columns}
        window.aggregates.clear()
        window.runs = 0
        window.opened_at = now
        return report


AGGREGATOR_BLOCKS: tuple[type[Block], ...] = (DataAggregatorV1,)
