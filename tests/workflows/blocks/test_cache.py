"""``cache_set`` / ``cache_get``: per workspace and video, bounded, ``false`` when missing."""

from __future__ import annotations

from tests.workflows.blocks.helpers import ScriptedModels, canvas, run, step
from visionflow.workflows import RunContext
from visionflow.workflows.blocks.cache import CACHE
from visionflow.workflows.limits import RunBudget, WorkflowLimits

IMAGES = {"a": canvas()}
DECLARED = [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowParameter", "name": "v"}]


def _image(video: str) -> dict[str, object]:
    metadata = {"video_identifier": video, "frame_number": 0, "frame_timestamp": 0}
    return {"type": "numpy", "value": "a", "video_metadata": metadata}


def _set(tenant: str, video: str, key: str, value: object, limit: int = 1024) -> object:
    context = RunContext(
        models=ScriptedModels(),
        tenant=tenant,
        budget=RunBudget(WorkflowLimits(cache_max_entries=limit), deadline=1e18),
    )
    steps = [step("cache_set@v1", "put", image="$inputs.image", key=key, value="$inputs.v")]
    return run(
        steps,
        {"out": "$steps.put.output"},
        IMAGES,
        {"image": _image(video), "v": value},
        declared=DECLARED,
        context=context,
    )[0]["out"]


def _get(tenant: str, video: str, key: str) -> object:
    steps = [step("cache_get@v1", "get", image="$inputs.image", key=key)]
    context = RunContext(models=ScriptedModels(), tenant=tenant)
    return run(
        steps,
        {"out": "$steps.get.output"},
        IMAGES,
        {"image": _image(video), "v": 0},
        declared=DECLARED,
        context=context,
    )[0]["out"]


def test_values_are_kept_per_workspace_and_video() -> None:
    assert _get("ws-cache-1", "cam", "count") is False
    assert _set("ws-cache-1", "cam", "count", 7) == 7
    assert _get("ws-cache-1", "cam", "count") == 7
    assert _get("ws-cache-1", "other", "count") is False
    assert _get("ws-cache-2", "cam", "count") is False


def test_a_workspace_keeps_at_most_the_configured_entries() -> None:
    for i in range(5):
        _set("ws-cache-3", "cam", f"k{i}", i, limit=3)
    assert CACHE.size("ws-cache-3") == 3
    assert [_get("ws-cache-3", "cam", f"k{i}") for i in range(5)] == [False, False, 2, 3, 4]
