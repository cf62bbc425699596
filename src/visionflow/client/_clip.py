"""The CLIP calls of ``InferenceHTTPClient``, with the official ``inference-sdk`` signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from visionflow.client._images import image_object
from visionflow.client._transport import Call, Transport, json_object
from visionflow.errors import InvalidInputError

__all__ = ["ClipMethods"]

_TYPES = ("image", "text")
# Images per /clip/embed_image request: the server's default VISIONFLOW_CLIP_MAX_BATCH_SIZE (the
# reference's CLIP_MAX_BATCH_SIZE); longer lists go in several requests.
IMAGES_PER_REQUEST = 8

T = TypeVar("T")

ImageEmbeddings = dict[str, Any] | list[dict[str, Any]]


def _images(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [image_object(item) for item in value]
    return image_object(value)


def _per_image(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per image of one answer, as the official SDK splits a multi-image answer."""
    embeddings = result.get("embeddings") or []
    if len(embeddings) <= 1:
        return [result]
    frame_id, time_s = result.get("frame_id"), result.get("time")
    return [{"frame_id": frame_id, "time": time_s, "embeddings": [e]} for e in embeddings]


def _combine(results: list[Any]) -> ImageEmbeddings:
    """The answers of all requests: one dict per image (the dict itself for one image)."""
    images = [item for result in results for item in _per_image(result)]
    return images[0] if len(images) == 1 else images


class ClipMethods(Transport):
    """CLIP embeddings and comparisons; each call and its ``*_async`` twin share one builder."""

    def _clip_call(
        self, path: str, clip_version: str | None, finish: Callable[[Any], T], **fields: Any
    ) -> Call[T]:
        payload: dict[str, Any] = {"api_key": self.api_key, **fields}
        if clip_version is not None:
            payload["clip_version_id"] = clip_version
        return Call("POST", path, payload, finish)

    def _image_embeddings(
        self, inference_input: Any, clip_version: str | None
    ) -> list[Call[dict[str, Any]]]:
        """One call per ``IMAGES_PER_REQUEST`` images (none for an empty list)."""
        image = _images(inference_input)
        if not isinstance(image, list):
            return [self._clip_call("/clip/embed_image", clip_version, json_object, image=image)]
        return [
            self._clip_call(
                "/clip/embed_image",
                clip_version,
                json_object,
                image=image[start : start + IMAGES_PER_REQUEST],
            )
            for start in range(0, len(image), IMAGES_PER_REQUEST)
        ]

    def _text_embeddings(
        self, text: str | list[str], clip_version: str | None
    ) -> Call[dict[str, Any]]:
        return self._clip_call("/clip/embed_text", clip_version, json_object, text=text)

    def _compare(
        self,
        subject: Any,
        prompt: Any,
        subject_type: str,
        prompt_type: str,
        clip_version: str | None,
    ) -> Call[dict[str, Any]]:
        if subject_type not in _TYPES or prompt_type not in _TYPES:
            raise InvalidInputError(
                f"subject_type and prompt_type must each be one of {_TYPES}, got "
                f"{subject_type!r} and {prompt_type!r}"
            )
        return self._clip_call(
            "/clip/compare",
            clip_version,
            json_object,
            subject_type=subject_type,
            prompt_type=prompt_type,
            subject=image_object(subject) if subject_type == "image" else subject,
            prompt=_images(prompt) if prompt_type == "image" else prompt,
        )

    def get_clip_image_embeddings(
        self, inference_input: Any, clip_version: str | None = None
    ) -> ImageEmbeddings:
        """CLIP embeddings of one image (→ dict) or a list of images (→ one dict per image,
        each ``{"frame_id", "time", "embeddings": [[...]]}``; sent ``IMAGES_PER_REQUEST`` a
        request)."""
        return _combine(self._send_each(self._image_embeddings, inference_input, clip_version))

    def get_clip_text_embeddings(
        self, text: str | list[str], clip_version: str | None = None
    ) -> dict[str, Any]:
        """``{"embeddings": [[...], ...], "frame_id", "time", ...}``: one row per text."""
        return self._send(self._text_embeddings, text, clip_version)

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
        return self._send(self._compare, subject, prompt, subject_type, prompt_type, clip_version)

    async def get_clip_image_embeddings_async(
        self, inference_input: Any, clip_version: str | None = None
    ) -> ImageEmbeddings:
        return _combine(
            await self._send_each_async(self._image_embeddings, inference_input, clip_version)
        )

    async def get_clip_text_embeddings_async(
        self, text: str | list[str], clip_version: str | None = None
    ) -> dict[str, Any]:
        return await self._send_async(self._text_embeddings, text, clip_version)

    async def clip_compare_async(
        self,
        subject: Any,
        prompt: Any,
        subject_type: str = "image",
        prompt_type: str = "text",
        clip_version: str | None = None,
    ) -> dict[str, Any]:
        return await self._send_async(
            self._compare, subject, prompt, subject_type, prompt_type, clip_version
        )
