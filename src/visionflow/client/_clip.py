"""The CLIP calls of ``InferenceHTTPClient``, with the official ``inference-sdk`` signatures."""

from __future__ import annotations

import asyncio
from typing import Any

from visionflow.client._images import encode_image
from visionflow.errors import InvalidInputError

__all__ = ["ClipMethods"]

_TYPES = ("image", "text")


def _image_object(image: Any) -> dict[str, str]:
    return {"type": "base64", "value": encode_image(image)}


def _images(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_image_object(item) for item in value]
    return _image_object(value)


def _split_embeddings(result: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    """One dict per image, as the official SDK answers a list of images."""
    embeddings = result.get("embeddings") or []
    if len(embeddings) <= 1:
        return result
    frame_id, time_s = result.get("frame_id"), result.get("time")
    return [{"frame_id": frame_id, "time": time_s, "embeddings": [e]} for e in embeddings]


class ClipMethods:
    """Mixed into ``InferenceHTTPClient``, which provides ``api_key`` and the request helpers."""

    api_key: str | None

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        raise NotImplementedError

    async def _request_async(self, method: str, path: str, json: Any = None) -> Any:
        raise NotImplementedError

    def _clip_payload(self, clip_version: str | None, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"api_key": self.api_key, **fields}
        if clip_version is not None:
            payload["clip_version_id"] = clip_version
        return payload

    def _compare_payload(
        self,
        subject: Any,
        prompt: Any,
        subject_type: str,
        prompt_type: str,
        clip_version: str | None,
    ) -> dict[str, Any]:
        if subject_type not in _TYPES or prompt_type not in _TYPES:
            raise InvalidInputError(
                f"subject_type and prompt_type must each be one of {_TYPES}, got "
                f"{subject_type!r} and {prompt_type!r}"
            )
        return self._clip_payload(
            clip_version,
            subject_type=subject_type,
            prompt_type=prompt_type,
            subject=_image_object(subject) if subject_type == "image" else subject,
            prompt=_images(prompt) if prompt_type == "image" else prompt,
        )

    def get_clip_image_embeddings(
        self, inference_input: Any, clip_version: str | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """CLIP embeddings of one image (→ dict) or a list of images (→ one dict per image,
        each ``{"frame_id", "time", "embeddings": [[...]]}``)."""
        payload = self._clip_payload(clip_version, image=_images(inference_input))
        return _split_embeddings(self._request("POST", "/clip/embed_image", payload))

    def get_clip_text_embeddings(
        self, text: str | list[str], clip_version: str | None = None
    ) -> dict[str, Any]:
        """``{"embeddings": [[...], ...], "frame_id", "time", ...}``: one row per text."""
        result: dict[str, Any] = self._request(
            "POST", "/clip/embed_text", self._clip_payload(clip_version, text=text)
        )
        return result

    def clip_compare(
        self,
        subject: Any,
        prompt: Any,
        subject_type: str = "image",
        prompt_type: str = "text",
        clip_version: str | None = None,
    ) -> dict[str, Any]:
        """Cosine similarity of ``subject`` with each prompt: ``similarity`` is a list (a dict
        for a dict of named text prompts)."""
        payload = self._compare_payload(subject, prompt, subject_type, prompt_type, clip_version)
        result: dict[str, Any] = self._request("POST", "/clip/compare", payload)
        return result

    async def get_clip_image_embeddings_async(
        self, inference_input: Any, clip_version: str | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        images = await asyncio.to_thread(_images, inference_input)
        payload = self._clip_payload(clip_version, image=images)
        return _split_embeddings(await self._request_async("POST", "/clip/embed_image", payload))

    async def get_clip_text_embeddings_async(
        self, text: str | list[str], clip_version: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._request_async(
            "POST", "/clip/embed_text", self._clip_payload(clip_version, text=text)
        )
        return result

    async def clip_compare_async(
        self,
        subject: Any,
        prompt: Any,
        subject_type: str = "image",
        prompt_type: str = "text",
        clip_version: str | None = None,
    ) -> dict[str, Any]:
        payload = await asyncio.to_thread(
            self._compare_payload, subject, prompt, subject_type, prompt_type, clip_version
        )
        result: dict[str, Any] = await self._request_async("POST", "/clip/compare", payload)
        return result
