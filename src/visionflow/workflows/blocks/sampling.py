"""Embedding sampling over time: ``identify_changes`` (how far each embedding is from the
running average, by EMA, SMA or a sliding window) and ``identify_outliers`` (von Mises-Fisher
fit over a window), as the reference computes them.

Neither has an image to tell videos apart: like ``buffer`` the state lives in the executor's
memory, so the elements of a batch and successive requests running the same definition for the
same workspace are one stream, in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    FloatZeroToOneSelector,
    IntegerSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["SAMPLING_BLOCKS", "IdentifyChangesV1", "IdentifyOutliersV1"]

Vector = npt.NDArray[np.float64]
_EmbeddingSelector = Annotated[str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.EMBEDDING,))]
EMA, SMA, WINDOW = (
    "Exponential Moving Average (EMA)",
    "Simple Moving Average (SMA)",
    "Sliding Window",
)


def _unit(inputs: StepInputs) -> Vector:
    try:
        vector = np.asarray(inputs["embedding"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise inputs.fail("embedding", "expected a list of numbers") from None
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm != 0 else vector


class _Stream(Block):
    """Runs ``update`` on each element with the step's remembered state."""

    def new_state(self) -> Any:
        raise NotImplementedError

    def update(self, state: Any, inputs: StepInputs) -> StepResult:
        raise NotImplementedError

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return self.run_batch([inputs], context)[0]

    def run_batch(self, batch: Sequence[StepInputs], context: RunContext) -> list[StepResult]:
        if not batch:
            return []
        factory: Callable[[], Any] = self.new_state
        if context.memory is None:
            state = factory()
            return [self.update(state, inputs) for inputs in batch]
        with context.memory.hold(("stream", batch[0].step), factory) as held:
            return [self.update(held, inputs) for inputs in batch]


@dataclass
class _Running:
    """A running mean and spread (of a vector or a scalar)."""

    average: Any = None
    var: Any = None
    m2: Any = None
    std: Any = None
    window: list[Any] = field(default_factory=list)

    def first(self, value: Any) -> None:
        self.average, self.std = value, np.zeros_like(value)
        self.var, self.m2 = np.zeros_like(value), np.zeros_like(value)

    def add(self, value: Any, strategy: str, alpha: float, samples: int, size: int) -> None:
        if strategy == EMA:
            self.average = (1 - alpha) * self.average + alpha * value
            self.var = (1 - alpha) * self.var + alpha * (value - self.average) ** 2
            self.std = np.sqrt(self.var)
        elif strategy == SMA:
            count = samples + 1
            delta = value - self.average
            self.average = self.average + delta / count
            self.m2 = self.m2 + delta * (value - self.average)
            self.std = np.sqrt(self.m2 / (count - 1))
        else:
            self.window.append(value)
            del self.window[:-size]
            self.average = np.mean(self.window, axis=0)
            self.std = np.std(self.window, axis=0)


@dataclass
class _Changes:
    embeddings: _Running = field(default_factory=_Running)
    similarity: _Running = field(default_factory=_Running)
    samples: int = 0


class IdentifyChangesManifestV1(StepManifest):
    strategy: Literal[EMA, SMA, WINDOW] = EMA  # type: ignore[valid-type]
    embedding: _EmbeddingSelector
    threshold_percentile: float | FloatZeroToOneSelector = 0.2
    warmup: int | IntegerSelector = 3
    smoothing_factor: float | FloatZeroToOneSelector | None = 0.1
    window_size: int | IntegerSelector | None = 10


class IdentifyChangesV1(_Stream):
    """Each embedding's cosine similarity to the running average embedding, as a z-score and
    two-sided percentile against the running statistics of those similarities; ``is_outlier``
    when the percentile is in the outer ``threshold_percentile`` (never in the first ``warmup``
    samples). ``average`` and ``std`` are the running embedding statistics."""

    type = "roboflow_core/identify_changes@v1"
    manifest = IdentifyChangesManifestV1
    outputs = (
        OutputDefinition("is_outlier", (k.BOOLEAN,)),
        OutputDefinition("percentile", (k.FLOAT_ZERO_TO_ONE,)),
        OutputDefinition("z_score", (k.FLOAT,)),
        OutputDefinition("average", (k.EMBEDDING,)),
        OutputDefinition("std", (k.EMBEDDING,)),
        OutputDefinition("warming_up", (k.BOOLEAN,)),
    )
    block_type = "video"

    def new_state(self) -> _Changes:
        return _Changes()

    def update(self, state: Any, inputs: StepInputs) -> StepResult:
        changes: _Changes = state
        strategy = inputs.as_str("strategy")
        alpha = float(inputs.get("smoothing_factor") or 0.1)
        size = int(inputs.get("window_size") or 10)
        threshold = inputs.as_float("threshold_percentile")
        embedding = _unit(inputs)
        percentile, z_score = 0.5, 0.0
        running, similarity = changes.embeddings, changes.similarity
        if running.average is not None:
            a, b = embedding, running.average
            denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
            cs = float(np.dot(a, b) / denominator) if denominator else 0.0
            if similarity.average is None:
                similarity.average, similarity.std, similarity.var, similarity.m2 = cs, 0, 0, 0
            else:
                similarity.add(cs, strategy, alpha, changes.samples, size)
            if similarity.std != 0:
                z_score = float((cs - similarity.average) / similarity.std)
                percentile = 1 - 0.5 * (1 + math.erf(z_score / math.sqrt(2)))
        warming_up = changes.samples < inputs.as_int("warmup")
        outlier = not warming_up and (
            percentile <= threshold / 2 or percentile >= 1 - threshold / 2
        )
        if running.average is None:
            running.first(embedding)
        else:
            running.add(embedding, strategy, alpha, changes.samples, size)
        changes.samples += 1
        return {
            "is_outlier": bool(outlier),
            "percentile": float(percentile),
            "z_score": z_score,
            "average": np.asarray(running.average).tolist(),
            "std": np.asarray(running.std).tolist(),
            "warming_up": warming_up,
        }


@dataclass
class _Outliers:
    window: list[Vector] = field(default_factory=list)
    samples: int = 0


class IdentifyOutliersManifestV1(StepManifest):
    embedding: _EmbeddingSelector
    threshold_percentile: float | FloatZeroToOneSelector = 0.05
    warmup: int | IntegerSelector = 3
    window_size: int | IntegerSelector | None = 32


def _mean_direction(embeddings: Vector) -> Vector | None:
    """The mean direction of a von Mises-Fisher fit (``None`` with fewer than 2 embeddings or
    when they cancel out)."""
    if len(embeddings) < 2:
        return None
    total = embeddings.sum(axis=0)
    length = float(np.linalg.norm(total))
    return None if length == 0 else np.asarray(total / length)


class IdentifyOutliersV1(_Stream):
    """Each unit embedding's alignment with the mean direction of the last ``window_size``
    embeddings (itself included), as its rank among theirs; ``is_outlier`` when that percentile
    is below ``threshold_percentile`` or above 1 - it. The first ``warmup`` - 1 samples are
    warm-up (never outliers)."""

    type = "roboflow_core/identify_outliers@v1"
    manifest = IdentifyOutliersManifestV1
    outputs = (
        OutputDefinition("is_outlier", (k.BOOLEAN,)),
        OutputDefinition("percentile", (k.FLOAT_ZERO_TO_ONE,)),
        OutputDefinition("warming_up", (k.BOOLEAN,)),
    )
    block_type = "video"

    def new_state(self) -> _Outliers:
        return _Outliers()

    def update(self, state: Any, inputs: StepInputs) -> StepResult:
        outliers: _Outliers = state
        embedding = _unit(inputs)
        outliers.samples += 1
        outliers.window.append(embedding)
        del outliers.window[: -int(inputs.get("window_size") or 32)]
        if outliers.samples < inputs.as_int("warmup"):
            return {"is_outlier": False, "percentile": 0.5, "warming_up": True}
        window = np.array(outliers.window)
        if window.ndim != 2:
            raise inputs.fail("embedding", "embeddings of one stream must have one length")
        direction = _mean_direction(window)
        mu = embedding if direction is None else direction
        ranks = np.sort(window @ mu)
        percentile = float(np.searchsorted(ranks, float(np.dot(mu, embedding)), side="left"))
        percentile /= len(ranks)
        threshold = inputs.as_float("threshold_percentile")
        outlier = percentile < threshold or percentile > 1 - threshold
        return {"is_outlier": bool(outlier), "percentile": percentile, "warming_up": False}


SAMPLING_BLOCKS: tuple[type[Block], ...] = (IdentifyChangesV1, IdentifyOutliersV1)
