"""The OCR call of ``InferenceHTTPClient``, with the official ``inference-sdk`` signature: one
``POST`` per image to the route of the chosen OCR model; one image's answer is a dict, several
images' a list."""

from __future__ import annotations

from typing import Any

from visionflow.client._images import image_object
from visionflow.client._transport import Call, Transport, json_object
from visionflow.errors import InvalidInputError

__all__ = ["OcrMethods"]

# The official SDK's ``OCR_ENDPOINTS``: model name → route.
OCR_ROUTES = {
    "doctr": "/doctr/ocr",
    "trocr": "/ocr/trocr",
    "easy_ocr": "/easy_ocr/ocr",
    "pp_ocr": "/ocr/pp-ocr",
}

OcrResult = dict[str, Any] | list[dict[str, Any]]


def _flat_images(value: Any) -> list[Any]:
    """One image → ``[image]``; (nested) lists are flattened in order, as the official SDK does."""
    if isinstance(value, list | tuple):
        return [image for item in value for image in _flat_images(item)]
    return [value]


def _unwrap(results: list[dict[str, Any]]) -> OcrResult:
    """A single answer on its own (also for a list of one image), as the official SDK does."""
    return results[0] if len(results) == 1 else results


class OcrMethods(Transport):
    """Text recognition; the sync call and its ``*_async`` twin share one builder."""

    def _ocr_requests(
        self,
        inference_input: Any,
        model: str,
        version: str | None,
        quantize: bool | None,
        generate_bounding_boxes: bool | None,
        language_codes: list[str] | None,
    ) -> list[Call[dict[str, Any]]]:
        name = model.lower()
        if name not in OCR_ROUTES:
            raise InvalidInputError(
                f"OCR model {model!r} is not supported: use one of {', '.join(OCR_ROUTES)}"
            )
        fields: dict[str, Any] = {"api_key": self.api_key}
        if version:
            fields[f"{name}_version_id"] = version
        if quantize is not None:
            fields["quantize"] = quantize
        if generate_bounding_boxes is not None:
            fields["generate_bounding_boxes"] = generate_bounding_boxes
        if language_codes is not None:
            fields["language_codes"] = language_codes
        return [
            Call("POST", OCR_ROUTES[name], {**fields, "image": image_object(image)}, json_object)
            for image in _flat_images(inference_input)
        ]

    def ocr_image(
        self,
        inference_input: Any,
        model: str = "doctr",
        version: str | None = None,
        quantize: bool | None = None,
        generate_bounding_boxes: bool | None = None,
        language_codes: list[str] | None = None,
    ) -> OcrResult:
        """Read the text of one image (→ ``{"result", "time", "parent_id"}``) or of a list of
        images (→ one such dict per image, in order; a list of one image gives the dict).

        ``model`` picks the route: ``doctr`` (``/doctr/ocr``), ``trocr`` (``/ocr/trocr``),
        ``easy_ocr`` (``/easy_ocr/ocr``) or ``pp_ocr`` (``/ocr/pp-ocr``); ``version`` is sent as
        ``<model>_version_id`` (e.g. ``trocr-small-printed``, or ``small-none`` for pp_ocr).
        ``generate_bounding_boxes=True`` adds ``image`` and word ``predictions``.
        """
        return _unwrap(
            self._send_each(
                self._ocr_requests,
                inference_input,
                model,
                version,
                quantize,
                generate_bounding_boxes,
                language_codes,
            )
        )

    async def ocr_image_async(
        self,
        inference_input: Any,
        model: str = "doctr",
        version: str | None = None,
        quantize: bool | None = None,
        generate_bounding_boxes: bool | None = None,
        language_codes: list[str] | None = None,
    ) -> OcrResult:
        """``ocr_image`` on the async client: images are encoded in a worker thread, then sent
        concurrently."""
        return _unwrap(
            await self._send_each_async(
                self._ocr_requests,
                inference_input,
                model,
                version,
                quantize,
                generate_bounding_boxes,
                language_codes,
            )
        )
