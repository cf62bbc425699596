"""``infer_from_yolo_world`` (sync and async) against the real app with the tiny YOLO-World
package registered (in-process transports, no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.fixtures.yolo_world import reference
from visionflow.client import InferenceHTTPClient, InvalidInputError, ModelNotFoundError

SCENE = reference()["image_bgr"]


def sdk(client: TestClient, key: str | None) -> InferenceHTTPClient:
    return InferenceHTTPClient("http://testserver", key, http_client=client)


def _classes(result: dict[str, Any]) -> set[str]:
    return {p["class"] for p in result["predictions"]}


def test_one_image_gives_a_list_of_one(client: TestClient, world: Tenant) -> None:
    results = sdk(client, world.key).infer_from_yolo_world(
        SCENE, class_names=["car", "person", "tree"], confidence=0.1
    )
    assert isinstance(results, list)
    assert len(results) == 1
    assert results[0]["image"] == {"width": 640, "height": 480}
    assert results[0]["predictions"]
    assert _classes(results[0]) <= {"car", "person", "tree"}


def test_images_in_order_and_classes_per_call(client: TestClient, world: Tenant) -> None:
    api = sdk(client, world.key)
    small = np.ascontiguousarray(SCENE[::2, ::2])
    animals = api.infer_from_yolo_world([SCENE, small], ["cat", "dog"], "v2-s", 0.1)
    assert [r["image"] for r in animals] == [
        {"width": 640, "height": 480},
        {"width": 320, "height": 240},
    ]
    assert _classes(animals[0]) <= {"cat", "dog"}
    things = api.infer_from_yolo_world(SCENE, ["car", "tree"], confidence=0.1)
    assert _classes(things[0]) <= {"car", "tree"}
    assert _classes(things[0]) != _classes(animals[0])


def test_errors_are_typed(client: TestClient, world: Tenant) -> None:
    api = sdk(client, world.key)
    with pytest.raises(InvalidInputError, match="at most 8 class names") as too_many:
        api.infer_from_yolo_world(SCENE, [f"c{i}" for i in range(9)])
    assert too_many.value.http_status == 400
    with pytest.raises(ModelNotFoundError, match="VISIONFLOW_YOLO_WORLD_MODELS") as missing:
        api.infer_from_yolo_world(SCENE, ["cat"], model_version="nope")
    assert missing.value.http_status == 404


def test_async_twin(client: TestClient, world: Tenant) -> None:
    async def run() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = InferenceHTTPClient(
                "http://testserver", world.key, http_client=client, async_http_client=http
            )
            return await api.infer_from_yolo_world_async(
                [SCENE, SCENE], ["tree"], model_version="l", confidence=0.1
            )

    results = asyncio.run(run())
    assert len(results) == 2
    sync = sdk(client, world.key).infer_from_yolo_world(SCENE, ["tree"], "l", 0.1)[0]
    for result in results:
        assert [(p["x"], p["y"], p["class"]) for p in result["predictions"]] == [
            (p["x"], p["y"], p["class"]) for p in sync["predictions"]
        ]
