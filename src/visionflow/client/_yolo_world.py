"""The YOLO-World call of ``InferenceHTTPClient``, with the official ``inference-sdk`` signature:
one ``POST /yolo_world/infer`` per image, always answering a list."""

from __future__ import annotations

import asyncio
from typing import Any

from visionflow.client._images import image_object
from visionflow.client._transport import Transport

__all__ = ["YoloWorldMethods"]

_PATH = "/yolo_world/infer"


def _image_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


class YoloWorldMethods(Transport):
    """Open-vocabulary detection; the sync call and its ``*_async`` twin share one builder."""

    def _yolo_world_payloads(
        self,
        inference_input: Any,
        class_names: list[str],
        model_version: str | None,
        confidence: float | None,
    ) -> list[dict[str, Any]]:
        payloads = []
        for image in _image_list(inference_input):
            payload: dict[str, Any] = {
                "api_key": self.api_key,
                "image": image_object(image),
                "text": class_names,
            }
            if model_version is not None:
                payload["yolo_world_version_id"] = model_version
            if confidence is not None:
                payload["confidence"] = confidence
            payloads.append(payload)
        return payloads

    def infer_from_yolo_world(
        self,
        inference_input: Any,
        class_names: list[str],
        model_version: str | None = None,
        confidence: float | None = None,
    ) -> list[dict[str, Any]]:
        """Detect ``class_names`` in one image or a list of images: one object-detection
        response per image, in order (a list even for one image). ``model_version`` is the
        ``yolo_world_version_id`` (server default ``l``)."""
        payloads = self._yolo_world_payloads(
            inference_input, class_names, model_version, confidence
        )
        return [self._request("POST", _PATH, payload) for payload in payloads]

    async def infer_from_yolo_world_async(
        self,
        inference_input: Any,
        class_names: list[str],
        model_version: str | None = None,
        confidence: float | None = None,
    ) -> list[dict[str, Any]]:
        """``infer_from_yolo_world`` on the async client: images are encoded in a worker
        thread, then sent concurrently."""
        payloads = await asyncio.to_thread(
            self._yolo_world_payloads, inference_input, class_names, model_version, confidence
        )
        calls = [self._request_async("POST", _PATH, payload) for payload in payloads]
        return list(await asyncio.gather(*calls))
