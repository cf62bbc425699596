"""``InferenceHTTPClient``: the same call shapes as the official ``inference-sdk``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from visionflow.client._images import encode_image
from visionflow.errors import VisionflowError, error_class_for_code

__all__ = ["InferenceHTTPClient"]

_TASK_ROUTES = {
    "object-detection": "/infer/object_detection",
    "instance-segmentation": "/infer/instance_segmentation",
    "keypoint-detection": "/infer/keypoints_detection",
    "classification": "/infer/classification",
    "semantic-segmentation": "/infer/semantic_segmentation",
}


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    message = response.text or f"HTTP {response.status_code}"
    code = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("detail") or message)
        code = body.get("error_type")
    error = error_class_for_code(code, response.status_code)(message)
    error.http_status = response.status_code
    raise error


class InferenceHTTPClient:
    """Client of a visionflow (or Roboflow inference) server.

    ``infer(image, model_id="project/1")`` returns the server's JSON (a dict; a list for a list of
    images). Errors raise the typed ``visionflow.errors`` classes, chosen from the error body.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self._http = http_client or httpx.Client(base_url=self.api_url, timeout=timeout)
        self._async_http = async_http_client
        self._timeout = timeout
        self._task_of: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, headers=self._headers())
        except httpx.HTTPError as exc:
            raise VisionflowError(f"could not reach {self.api_url}: {exc}") from None
        _raise_for_error(response)
        return response.json()

    def _async_client(self) -> httpx.AsyncClient:
        if self._async_http is None:
            self._async_http = httpx.AsyncClient(base_url=self.api_url, timeout=self._timeout)
        return self._async_http

    async def _request_async(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = await self._async_client().request(
                method, path, json=json, headers=self._headers()
            )
        except httpx.HTTPError as exc:
            raise VisionflowError(f"could not reach {self.api_url}: {exc}") from None
        _raise_for_error(response)
        return response.json()

    # -- server and models ------------------------------------------------------------------
    def get_server_info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/info")
        return result

    def list_loaded_models(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/model/registry")
        return result

    def load_model(self, model_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", "/model/add", {"model_id": model_id, "api_key": self.api_key}
        )
        self._remember_tasks(result)
        return result

    def unload_model(self, model_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", "/model/remove", {"model_id": model_id, "api_key": self.api_key}
        )
        return result

    def unload_all_models(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "/model/clear")
        return result

    def _remember_tasks(self, registry: dict[str, Any]) -> None:
        for entry in registry.get("models", []):
            self._task_of[entry["model_id"]] = entry["task_type"]

    def _route_for(self, model_id: str, registry: dict[str, Any] | None) -> str:
        if registry is not None:
            self._remember_tasks(registry)
        task = self._task_of.get(model_id)
        if task is None:
            raise VisionflowError(f"server did not report model {model_id!r} after loading it")
        try:
            return _TASK_ROUTES[task]
        except KeyError:
            raise VisionflowError(
                f"model {model_id!r} has task {task!r} with no infer route"
            ) from None

    # -- inference --------------------------------------------------------------------------
    def _body(self, images: Sequence[Any], model_id: str, params: dict[str, Any]) -> dict[str, Any]:
        encoded = [{"type": "base64", "value": encode_image(i)} for i in images]
        body: dict[str, Any] = {"model_id": model_id, "api_key": self.api_key}
        body.update({k: v for k, v in params.items() if v is not None})
        body["image"] = encoded
        return body

    def infer(self, image: Any, model_id: str, **params: Any) -> Any:
        """Run ``model_id`` on one image (→ dict) or a list of images (→ list of dicts).

        ``params`` are the route's body fields: ``confidence``, ``iou_threshold``,
        ``class_agnostic_nms``, ``class_filter``, ``max_detections``, ``visualize_predictions``...
        """
        single = not isinstance(image, list | tuple)
        images = [image] if single else list(image)
        registry = None if model_id in self._task_of else self.load_model(model_id)
        route = self._route_for(model_id, registry)
        result = self._request("POST", route, self._body(images, model_id, params))
        return result[0] if single and isinstance(result, list) else result

    async def infer_async(self, image: Any, model_id: str, **params: Any) -> Any:
        single = not isinstance(image, list | tuple)
        images = [image] if single else list(image)
        registry = None
        if model_id not in self._task_of:
            registry = await self._request_async(
                "POST", "/model/add", {"model_id": model_id, "api_key": self.api_key}
            )
        route = self._route_for(model_id, registry)
        body = await asyncio.to_thread(self._body, images, model_id, params)
        result = await self._request_async("POST", route, body)
        return result[0] if single and isinstance(result, list) else result

    def close(self) -> None:
        self._http.close()

    async def aclose(self) -> None:
        if self._async_http is not None:
            await self._async_http.aclose()

    def __enter__(self) -> InferenceHTTPClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
