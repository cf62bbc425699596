"""The Ray Serve application ``visionflow``: deployments ``ingress`` and ``models``.

``ingress`` is the same FastAPI app as ``visionflow serve`` (every route unchanged); workflows run
there. Registered models run in ``models``: a multiplexed deployment keyed by the model's key and
package digest (``<workspace>/<project>/<version>@<sha256 prefix>``), so Serve routes a request
to a replica that already holds its model, and each replica keeps at most
``VISIONFLOW_RAY_MAX_MODELS_PER_REPLICA`` of them (an LRU). A model registered again under the
same id has a new digest, so replicas load the new weights at its first request (the old copy
ages out of the LRU); the ingress resolves every request against the registry, so a removed
model is a 404 at once. The ingress reaches ``models`` through ``RayExecutor``, the Ray side of
the model-execution seam in ``visionflow.service.executor``.

This is the one module that imports Ray.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import ray
from ray import serve
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle

from visionflow.config import Settings
from visionflow.errors import ModelNotFoundError, ServiceUnavailableError, VisionflowError
from visionflow.http.app import create_app
from visionflow.models.base import Model
from visionflow.models.manifest import InputSpec
from visionflow.models.params import TaskParams
from visionflow.service.executor import DeploymentInfo, LoadedInfo, ModelRun, model_key
from visionflow.service.metrics import Family, RemoteSnapshot
from visionflow.service.services import Services
from visionflow.store import ModelVersionRecord

__all__ = [
    "APP_NAME",
    "INGRESS_DEPLOYMENT",
    "MODELS_DEPLOYMENT",
    "RayExecutor",
    "build_application",
    "deployment_info",
]

APP_NAME = "visionflow"
INGRESS_DEPLOYMENT = "ingress"
MODELS_DEPLOYMENT = "models"
# Logical CPUs each replica reserves: fractions, so the ingress and two model replicas fit on a
# two-core machine. Threads are ONNX Runtime's business (VISIONFLOW_ONNX_THREADS).
_INGRESS_CPUS = 0.25
_MODEL_CPUS = 0.5
# A call whose replica died is sent once more (inference is idempotent); Serve routes it to a
# live replica.
_ATTEMPTS = 2
_DIGEST_CHARS = 16
# The actor that holds each model replica's last metrics, for the ingress's /metrics.
METRICS_HUB = "visionflow-metrics"
RAY_NAMESPACE = "visionflow"
# How often a model replica sends its metrics (the staleness of the sums on /metrics).
METRICS_PUSH_S = 0.5
_METRICS_COLLECT_TIMEOUT_S = 2.0
_log = logging.getLogger(__name__)


def routing_id(record: ModelVersionRecord) -> str:
    """The multiplexed model id of ``record``: its key and a prefix of its package digest."""
    return f"{model_key(record)}@{record.package_sha256[:_DIGEST_CHARS]}"


class _MetricsHub:
    """A Ray actor: each model replica's last metrics snapshot, for the ingress to sum."""

    def __init__(self) -> None:
        self._snapshots: dict[str, tuple[float, list[Family]]] = {}

    def put(self, replica: str, families: list[Family]) -> None:
        self._snapshots[replica] = (time.monotonic(), families)

    def collect(self) -> list[RemoteSnapshot]:
        now = time.monotonic()
        return [RemoteSnapshot(now - at, tuple(f)) for at, f in self._snapshots.values()]


def metrics_hub() -> Any:
    """The cluster's one metrics hub (created by the first replica that asks for it)."""
    return (
        ray.remote(num_cpus=0)(_MetricsHub)
        .options(
            name=METRICS_HUB,
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
        )
        .remote()
    )


def _push_metrics_forever(services: Services, stop: threading.Event) -> None:
    """A model replica's thread: its model metrics to the hub every ``METRICS_PUSH_S``."""
    replica = uuid.uuid4().hex
    hub: Any = None
    while not stop.wait(METRICS_PUSH_S):
        try:
            hub = hub or metrics_hub()
            hub.put.remote(replica, services.metrics.model_snapshot())
        except Exception:  # the hub restarts with the cluster; never stop serving for it
            _log.debug("model replica: metrics push failed", exc_info=True)
            hub = None


@dataclass(frozen=True)
class _Loaded:
    """One model in a replica's multiplexed LRU."""

    model: Model
    load_time_s: float


class _ModelTier:
    """A replica of the model tier: loads registered models from the shared store on demand."""

    def __init__(self, settings: Settings) -> None:
        self._services = Services.build(settings, migrate=False)
        self._loads: Counter[str] = Counter()
        self._stop_metrics = threading.Event()
        threading.Thread(
            target=_push_metrics_forever,
            args=(self._services, self._stop_metrics),
            name="visionflow-metrics-push",
            daemon=True,
        ).start()

        # Built here, not as a decorator, so the LRU size comes from the settings (a plain
        # function: Serve keeps its LRU as an attribute of what it wraps, which a bound method
        # cannot hold).
        async def load(key: str) -> _Loaded:
            return await self._load(key)

        self._get = serve.multiplexed(
            max_num_models_per_replica=settings.ray_max_models_per_replica
        )(load)

    async def _load(self, routed: str) -> _Loaded:
        key, _, digest = routed.rpartition("@")
        workspace, _, model_id = key.partition("/")
        project, _, version = model_id.partition("/")
        registry = self._services.registry
        record = await asyncio.to_thread(
            registry.find_model_version, workspace, project, int(version)
        )
        if record is None or not record.package_sha256.startswith(digest):
            # Removed (or registered anew) after the ingress resolved it.
            raise ModelNotFoundError(
                f"Model {model_id!r} is no longer registered as requested in workspace "
                f"{workspace!r}; retry",
                details={"model_id": model_id},
            )
        started = time.perf_counter()
        model = await asyncio.to_thread(self._services.inference.load_model, record)
        seconds = time.perf_counter() - started
        self._loads[key] += 1
        metrics = self._services.metrics
        metrics.model_loads.labels(key).inc()
        metrics.model_load_seconds.labels(key).observe(seconds)
        return _Loaded(model, seconds)

    async def _model(self) -> tuple[_Loaded, bool]:
        key = serve.get_multiplexed_model_id().rpartition("@")[0]
        before = self._loads[key]
        loaded = await self._get(serve.get_multiplexed_model_id())
        return loaded, self._loads[key] > before

    async def prepare(self) -> tuple[float, bool, InputSpec]:
        loaded, cold = await self._model()
        return loaded.load_time_s, cold, loaded.model.manifest.input

    async def run(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: TaskParams
    ) -> tuple[float, bool, InputSpec, list[Any]]:
        loaded, cold = await self._model()
        key = serve.get_multiplexed_model_id().rpartition("@")[0]
        started = time.perf_counter()
        # Off the replica's event loop, so one replica serves several requests at once.
        results = await asyncio.to_thread(lambda: list(loaded.model.infer(images_bgr, params)))
        self._services.metrics.inference_seconds.labels(key).observe(time.perf_counter() - started)
        return loaded.load_time_s, cold, loaded.model.manifest.input, results

    async def loads(self) -> dict[str, int]:
        """Models this replica loaded since it started, by key (tests, benchmarks)."""
        return dict(self._loads)


class _Ingress:
    """The HTTP tier: the FastAPI app of ``visionflow serve``, models run in ``models``."""

    def __init__(self, settings: Settings, models: DeploymentHandle[Any]) -> None:
        self._services = Services.build(settings, migrate=False)
        self._services.inference.use_executor(RayExecutor(models, settings))
        hub = metrics_hub()

        def replicas() -> list[RemoteSnapshot]:
            try:
                snapshots: list[RemoteSnapshot] = ray.get(
                    hub.collect.remote(), timeout=_METRICS_COLLECT_TIMEOUT_S
                )
            except Exception:  # /metrics answers with the ingress's own figures
                _log.warning("ingress: the model tier's metrics are unavailable", exc_info=True)
                return []
            return snapshots

        self._services.metrics.sum_remote_models(replicas)

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self._services)


ModelTier = serve.deployment(name=MODELS_DEPLOYMENT, ray_actor_options={"num_cpus": _MODEL_CPUS})(
    _ModelTier
)
Ingress = serve.deployment(name=INGRESS_DEPLOYMENT, ray_actor_options={"num_cpus": _INGRESS_CPUS})(
    serve.ingress()(_Ingress)
)


def deployment_info() -> DeploymentInfo:
    """The model tier's replicas as the Serve controller reports them."""
    status = serve.status().applications.get(APP_NAME)
    deployment = None if status is None else status.deployments.get(MODELS_DEPLOYMENT)
    if deployment is None:
        return DeploymentInfo("ray-serve", replicas=0, healthy_replicas=0)
    states = {str(getattr(s, "value", s)): n for s, n in deployment.replica_states.items()}
    replicas = sum(n for s, n in states.items() if s != "STOPPING")
    return DeploymentInfo("ray-serve", replicas=replicas, healthy_replicas=states.get("RUNNING", 0))


class RayExecutor:
    """Sends "run model M" to the ``models`` deployment, routed by model key."""

    def __init__(self, models: DeploymentHandle[Any], settings: Settings) -> None:
        self._models = models
        self._timeout_s = settings.ray_request_timeout_s
        # Models the model tier has loaded for this ingress (``/model/registry``: the official
        # SDK reads a model's task there after ``/model/add``). Replicas keep their own LRU.
        self._loaded: dict[str, LoadedInfo] = {}
        self._lock = threading.Lock()

    @property
    def engine(self) -> str:
        return "ray-serve"

    def _call(self, record: ModelVersionRecord, method: str, *args: Any) -> Any:
        handle = self._models.options(multiplexed_model_id=routing_id(record))
        for attempt in range(_ATTEMPTS):
            try:
                return getattr(handle, method).remote(*args).result(timeout_s=self._timeout_s)
            except RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, VisionflowError):
                    raise cause from None
                raise
            except (TimeoutError, GetTimeoutError):
                raise ServiceUnavailableError(
                    f"the model tier did not answer within {self._timeout_s:g} s "
                    "(VISIONFLOW_RAY_REQUEST_TIMEOUT_S)",
                    retry_after_s=1,
                ) from None
            except BackPressureError:
                raise ServiceUnavailableError(
                    "every replica of the model tier is busy; retry shortly", retry_after_s=1
                ) from None
            except (RayActorError, DeploymentUnavailableError) as exc:
                if attempt + 1 < _ATTEMPTS:
                    continue
                raise ServiceUnavailableError(
                    f"the model tier is unavailable ({type(exc).__name__}); retry shortly",
                    retry_after_s=1,
                ) from None
        raise AssertionError("unreachable")

    def _seen(self, record: ModelVersionRecord, spec: InputSpec, load_time_s: float) -> None:
        with self._lock:
            self._loaded[model_key(record)] = LoadedInfo(model_key(record), spec, load_time_s)

    def prepare(self, record: ModelVersionRecord) -> ModelRun:
        load_time_s, cold, spec = self._call(record, "prepare")
        self._seen(record, spec, load_time_s)
        return ModelRun(record, load_time_s, cold)

    def run(
        self,
        record: ModelVersionRecord,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        params: TaskParams,
    ) -> tuple[ModelRun, list[Any]]:
        load_time_s, cold, spec, results = self._call(record, "run", list(images_bgr), params)
        self._seen(record, spec, load_time_s)
        return ModelRun(record, load_time_s, cold), list(results)

    def deployment(self) -> DeploymentInfo:
        return deployment_info()

    def loaded(self) -> list[LoadedInfo]:
        with self._lock:
            return list(self._loaded.values())

    def unload(self, selected: Callable[[str], bool]) -> int:
        """Forgets the models: replicas drop their copies as their LRU ages them out."""
        with self._lock:
            keys = [key for key in self._loaded if selected(key)]
            for key in keys:
                del self._loaded[key]
        return len(keys)


def build_application(settings: Settings) -> Any:
    """The ``visionflow`` application, bound to ``settings`` (replicas, autoscaling, LRU)."""
    options: dict[str, Any]
    if settings.ray_replicas is not None:
        options = {"num_replicas": settings.ray_replicas}
    else:
        options = {
            "autoscaling_config": {
                "min_replicas": settings.ray_min_replicas,
                "initial_replicas": max(1, settings.ray_min_replicas),
                "max_replicas": settings.ray_max_replicas,
                "target_ongoing_requests": settings.ray_target_ongoing_requests,
                "downscale_delay_s": settings.ray_downscale_delay_s,
            }
        }
    models = ModelTier.options(**options).bind(settings)
    return Ingress.options(num_replicas=settings.ray_ingress_replicas).bind(settings, models)
