"""``cache_set`` / ``cache_get``: values shared between steps and runs under a key.

Entries live in this process, per workspace and per video (the image's ``video_identifier``;
a still image's is its input name), as the reference's in-process cache namespaced by video. A
workspace keeps at most ``WorkflowLimits.cache_max_entries`` entries (least recently used
dropped first; ``VISIONFLOW_WORKFLOWS_CACHE_MAX_ENTRIES``). ``cache_get`` of a key never set
gives ``false``, as in the reference.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from pydantic import Field

from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import ImageSelector, Reference, StepManifest, StringSelector
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["CACHE_BLOCKS", "CacheGetV1", "CacheSetV1", "WorkspaceCache"]

_AnyListSelector = Annotated[
    str, Field(pattern=DATA_SELECTOR_PATTERN), Reference((k.WILDCARD, k.LIST_OF_VALUES))
]


class WorkspaceCache:
    """Bounded key-value store per workspace (LRU per workspace), safe across threads."""

    def __init__(self) -> None:
        self._spaces: dict[str, OrderedDict[tuple[str, str], Any]] = {}
        self._lock = threading.Lock()

    def set(self, tenant: str, key: tuple[str, str], value: Any, max_entries: int) -> None:
        with self._lock:
            space = self._spaces.setdefault(tenant, OrderedDict())
            space[key] = value
            space.move_to_end(key)
            while len(space) > max_entries:
                space.popitem(last=False)

    def get(self, tenant: str, key: tuple[str, str], default: Any) -> Any:
        with self._lock:
            space = self._spaces.get(tenant)
            if space is None or key not in space:
                return default
            space.move_to_end(key)
            return space[key]

    def size(self, tenant: str) -> int:
        with self._lock:
            return len(self._spaces.get(tenant, ()))


CACHE = WorkspaceCache()


def _key(inputs: StepInputs) -> tuple[str, str]:
    namespace = inputs.image("image").video().video_identifier or "default"
    return namespace, inputs.as_str("key")


class CacheGetManifestV1(StepManifest):
    image: ImageSelector
    key: str | StringSelector


class CacheGetV1(Block):
    """``output``: the value last stored under ``key`` for this image's video, ``false`` when
    there is none."""

    type = "roboflow_core/cache_get@v1"
    manifest = CacheGetManifestV1
    outputs = (OutputDefinition("output", (k.WILDCARD,)),)
    block_type = "fusion"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return {"output": CACHE.get(context.tenant, _key(inputs), False)}


class CacheSetManifestV1(StepManifest):
    image: ImageSelector
    key: str | StringSelector
    value: _AnyListSelector


class CacheSetV1(Block):
    """Stores ``value`` under ``key`` for this image's video and passes it on as ``output``."""

    type = "roboflow_core/cache_set@v1"
    manifest = CacheSetManifestV1
    outputs = (OutputDefinition("output", (k.WILDCARD,)),)
    block_type = "fusion"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        value = inputs.get("value")
        limit = context.budget.limits.cache_max_entries
        CACHE.set(context.tenant, _key(inputs), value, limit)
        return {"output": value}


CACHE_BLOCKS: tuple[type[Block], ...] = (CacheGetV1, CacheSetV1)
