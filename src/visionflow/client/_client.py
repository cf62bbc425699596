"""``InferenceHTTPClient``: the same call shapes as the official ``inference-sdk``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from visionflow.client._clip import ClipMethods
from visionflow.client._images import image_object
from visionflow.client._ocr import OcrMethods
from visionflow.client._transport import Call
from visionflow.client._yolo_world import YoloWorldMethods
from visionflow.errors import InvalidInputError, VisionflowError

__all__ = ["InferenceHTTPClient"]

_TASK_ROUTES = {
    "object-detection": "/infer/object_detection",
    "instance-segmentation": "/infer/instance_segmentation",
    "keypoint-detection": "/infer/keypoints_detection",
    "classification": "/infer/classification",
    "semantic-segmentation": "/infer/semantic_segmentation",
}


def _encode_images(value: Any) -> Any:
    """One image → an image object; a (nested) list → a (nested) list of image objects."""
    if isinstance(value, list | tuple):
        return [_encode_images(item) for item in value]
    return image_object(value)


def _decode_output(value: Any) -> Any:
    """Image objects in workflow outputs become their base64 text, as the official SDK's default
    ``output_visualisation_format`` (base64) does; dicts and lists are walked."""
    if isinstance(value, dict):
        if value.get("type") == "base64":
            return value.get("value")
        return {key: _decode_output(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_output(item) for item in value]
    return value


def _workflow_outputs(result: Any) -> list[dict[str, Any]]:
    return [_decode_output(output) for output in result["outputs"]]


class InferenceHTTPClient(ClipMethods, OcrMethods, YoloWorldMethods):
    """Client of a visionflow (or Roboflow inference) server.

    ``infer(image, model_id="project/1")`` returns the server's JSON (a dict; a list for a list of
    images). Errors raise the typed ``visionflow.errors`` classes, chosen from the error body.

    ``InferenceHTTPClient(api_url, api_key=None, *, timeout=60.0, http_client=None,
    async_http_client=None)``: the transport (``_transport.Transport``) takes the arguments.
    """

    @cached_property
    def _task_of(self) -> dict[str, str]:
        """Model id → task, from the registry answers this client has seen."""
        return {}

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
        encoded = [image_object(i) for i in images]
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

    # -- workflows --------------------------------------------------------------------------
    def _workflow_request(
        self,
        workspace_name: str | None,
        workflow_id: str | None,
        specification: Mapping[str, Any] | None,
        images: Mapping[str, Any] | None,
        parameters: Mapping[str, Any] | None,
        excluded_fields: Sequence[str] | None,
        use_cache: bool,
        enable_profiling: bool,
        workflow_version_id: str | None,
        disable_sinks: bool,
    ) -> Call[list[dict[str, Any]]]:
        named = workspace_name is not None and workflow_id is not None
        if named == (specification is not None):
            raise InvalidInputError(
                "run_workflow needs either workspace_name and workflow_id (a stored workflow) "
                "or specification (an inline definition), not both and not neither"
            )
        payload: dict[str, Any] = {
            "api_key": self.api_key,
            "use_cache": use_cache,
            "enable_profiling": enable_profiling,
        }
        if disable_sinks:
            payload["disable_sinks"] = True
        inputs = {name: _encode_images(value) for name, value in (images or {}).items()}
        inputs.update(parameters or {})
        payload["inputs"] = inputs
        if excluded_fields is not None:
            payload["excluded_fields"] = list(excluded_fields)
        if specification is not None:
            payload["specification"] = dict(specification)
            return Call("POST", "/workflows/run", payload, _workflow_outputs)
        if workflow_version_id is not None:
            payload["workflow_version_id"] = workflow_version_id
        path = f"/{workspace_name}/workflows/{workflow_id}"
        return Call("POST", path, payload, _workflow_outputs)

    def run_workflow(
        self,
        workspace_name: str | None = None,
        workflow_id: str | None = None,
        specification: Mapping[str, Any] | None = None,
        images: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        excluded_fields: Sequence[str] | None = None,
        use_cache: bool = True,
        enable_profiling: bool = False,
        workflow_version_id: str | None = None,
        disable_sinks: bool = False,
    ) -> list[dict[str, Any]]:
        """Run a stored workflow (``workspace_name`` and ``workflow_id``) or an inline
        ``specification``; one output dict per input image.

        ``images`` maps image inputs to an image (any kind ``infer`` takes) or a (nested) list
        of them for a batch; ``parameters`` are sent as they are and win over ``images`` on a
        name clash. Images in the outputs come back as base64 text.
        """
        return self._send(
            self._workflow_request,
            workspace_name,
            workflow_id,
            specification,
            images,
            parameters,
            excluded_fields,
            use_cache,
            enable_profiling,
            workflow_version_id,
            disable_sinks,
        )

    async def run_workflow_async(
        self,
        workspace_name: str | None = None,
        workflow_id: str | None = None,
        specification: Mapping[str, Any] | None = None,
        images: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        excluded_fields: Sequence[str] | None = None,
        use_cache: bool = True,
        enable_profiling: bool = False,
        workflow_version_id: str | None = None,
        disable_sinks: bool = False,
    ) -> list[dict[str, Any]]:
        """``run_workflow`` on the async client (images are encoded in a worker thread)."""
        return await self._send_async(
            self._workflow_request,
            workspace_name,
            workflow_id,
            specification,
            images,
            parameters,
            excluded_fields,
            use_cache,
            enable_profiling,
            workflow_version_id,
            disable_sinks,
        )

    def __enter__(self) -> InferenceHTTPClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
