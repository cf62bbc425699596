"""The YOLO-World call of ``InferenceHTTPClient``, with the official ``inference-sdk`` signature:
one ``POST /yolo_world/infer`` per image, always answering a list."""

from __future__ import annotations

from typing import Any

from visionflow.client._images import image_object
from visionflow.client._transport import Call, Transport, json_object

__all__ = ["YoloWorldMethods"]

_PATH = "/yolo_world/infer"


def _image_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


class YoloWorldMethods(Transport):
    """Open-vocabulary detection; the sync call and its ``*_async`` twin share one builder."""

    def _yolo_world_calls(
        self,
        inference_input: Any,
        class_names: list[str],
        model_version: str | None,
        confidence: float | None,
    ) -> list[Call[dict[str, Any]]]:
        fields: dict[str, Any] = {"api_key": self.api_key, "text": class_names}
        if model_version is not None:
            fields["yolo_world_version_id"] = model_version
        if confidence is not None:
            fields["confidence"] = confidence
        return [
            Call("POST", _PATH, {**fields, "image": image_object(image)}, json_object)
            for image in _image_list(inference_input)
        ]

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
        return self._send_each(
            self._yolo_world_calls, inference_input, class_names, model_version, confidence
        )

    async def infer_from_yolo_world_async(
        self,
        inference_input: Any,
        class_names: list[str],
        model_version: str | None = None,
        confidence: float | None = None,
    ) -> list[dict[str, Any]]:
        """``infer_from_yolo_world`` on the async client: images are encoded in a worker
        thread, then sent concurrently."""
        return await self._send_each_async(
            self._yolo_world_calls, inference_input, class_names, model_version, confidence
        )
