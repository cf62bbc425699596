"""The model-execution seam: "run model M on these images with these params → results".

HTTP routes and workflow model blocks never hold a model: they resolve a registry record (which
authorizes the caller) and hand it to a ``ModelExecutor``. The local executor runs the model in
this process through the ModelManager; the Ray executor (``visionflow.rayserve``) sends the same
call to a multiplexed Ray Serve deployment keyed by the model's key. Swapping one for the other
changes no route and no block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from visionflow.models.base import Model
from visionflow.models.manager import ModelManager
from visionflow.models.manifest import InputSpec
from visionflow.models.params import TaskParams
from visionflow.service.metrics import Metrics
from visionflow.store import ModelVersionRecord

__all__ = [
    "DeploymentInfo",
    "LoadedInfo",
    "LocalExecutor",
    "ModelExecutor",
    "ModelRun",
    "model_key",
]


def model_key(record: ModelVersionRecord) -> str:
    """``"<workspace>/<project>/<version>"``: the key a model is loaded (and routed) under."""
    return f"{record.workspace}/{record.model_id}"


@dataclass(frozen=True)
class ModelRun:
    """What one call reports besides its results: the model, and whether it loaded for it."""

    record: ModelVersionRecord
    load_time_s: float
    cold_start: bool


@dataclass(frozen=True)
class LoadedInfo:
    """A model loaded where the executor runs models (``/model/registry``)."""

    key: str
    input: InputSpec
    load_time_s: float


@dataclass(frozen=True)
class DeploymentInfo:
    """``/info``'s ``deployment``: the engine and the replicas of the model tier."""

    engine: str
    replicas: int
    healthy_replicas: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "replicas": self.replicas,
            "healthy_replicas": self.healthy_replicas,
        }


class ModelExecutor(Protocol):
    """Runs registered models. ``prepare`` loads without inferring (``/model/add``)."""

    @property
    def engine(self) -> str: ...

    def prepare(self, record: ModelVersionRecord) -> ModelRun: ...

    def run(
        self,
        record: ModelVersionRecord,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]: ...

    def deployment(self) -> DeploymentInfo: ...

    def loaded(self) -> list[LoadedInfo]: ...

    def unload(self, selected: Callable[[str], bool]) -> int:
        """Unload the models whose key ``selected`` accepts; how many there were."""
        ...


class LocalExecutor:
    """The ModelManager path in this process: lazy load, LRU, per-model inference timing."""

    def __init__(
        self,
        manager: ModelManager,
        load: Callable[[ModelVersionRecord], Model],
        metrics: Metrics | None = None,
    ) -> None:
        self._manager = manager
        self._load = load
        self._metrics = metrics

    @property
    def engine(self) -> str:
        return "local"

    def _acquire(self, record: ModelVersionRecord) -> tuple[Model, ModelRun]:
        acquired = self._manager.get(model_key(record), lambda: self._load(record))
        entry = acquired.entry
        return entry.model, ModelRun(record, entry.load_time_s, acquired.cold_start)

    def prepare(self, record: ModelVersionRecord) -> ModelRun:
        return self._acquire(record)[1]

    def run(
        self,
        record: ModelVersionRecord,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]:
        model, run = self._acquire(record)
        started = time.perf_counter()
        results = list(model.infer(images_bgr, params))
        if self._metrics is not None:
            elapsed = time.perf_counter() - started
            self._metrics.inference_seconds.labels(model_key(record)).observe(elapsed)
        return run, results

    def deployment(self) -> DeploymentInfo:
        return DeploymentInfo("local", replicas=1, healthy_replicas=1)

    def loaded(self) -> list[LoadedInfo]:
        return [
            LoadedInfo(entry.key, entry.model.manifest.input, entry.load_time_s)
            for entry in self._manager.loaded()
        ]

    def unload(self, selected: Callable[[str], bool]) -> int:
        return self._manager.clear(selected)
