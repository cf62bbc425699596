"""``POST /clip/embed_image``, ``/clip/embed_text``, ``/clip/compare`` (wire reference §3.9,
§4.9). Responses keep ``frame_id`` and ``time`` (null allowed): the official SDK reads them.
One request carries 1 to ``VISIONFLOW_CLIP_MAX_BATCH_SIZE`` (8) images, texts or prompts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from visionflow.http.access import authorize
from visionflow.http.deps import elapsed_s, services
from visionflow.http.responses import JSONBody
from visionflow.http.routes.infer import image_refs
from visionflow.http.schemas import ImageObject
from visionflow.service.auth import Principal
from visionflow.service.clip import ClipService, parse_prompts, parse_subject, parse_texts

router = APIRouter(tags=["clip"])


class _ClipRequest(BaseModel):
    """Fields every CLIP request shares; unknown fields are ignored (SDKs add some)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    id: str | None = None
    api_key: str | None = None
    clip_version_id: str | None = None


class ClipImageEmbeddingRequest(_ClipRequest):
    image: ImageObject | list[ImageObject]


class ClipTextEmbeddingRequest(_ClipRequest):
    # Checked by the service, so wrong types get a message rather than a schema dump.
    text: Any = None


class ClipCompareRequest(_ClipRequest):
    subject: Any = None
    subject_type: Any = "image"
    prompt: Any = None
    prompt_type: Any = "text"


def _clip(request: Request, body: _ClipRequest) -> tuple[ClipService, Principal]:
    svc = services(request)
    return svc.clip, authorize(request, body.api_key)


@router.post(
    "/clip/embed_image",
    summary="CLIP image embeddings",
    description=(
        "Embed 1 to `VISIONFLOW_CLIP_MAX_BATCH_SIZE` images with the CLIP model "
        "`clip_version_id` maps to (`VISIONFLOW_CLIP_MODELS`)."
    ),
)
def embed_image(body: ClipImageEmbeddingRequest, request: Request) -> Response:
    clip, principal = _clip(request, body)
    embeddings = clip.image_embeddings(principal, body.clip_version_id, image_refs(body.image))
    return JSONBody(_embedding_body(body, request, embeddings))


@router.post(
    "/clip/embed_text",
    summary="CLIP text embeddings",
    description=(
        "Embed 1 to `VISIONFLOW_CLIP_MAX_BATCH_SIZE` texts with the CLIP model `clip_version_id` "
        "maps to."
    ),
)
def embed_text(body: ClipTextEmbeddingRequest, request: Request) -> Response:
    texts = parse_texts(body.text)
    clip, principal = _clip(request, body)
    embeddings = clip.text_embeddings(principal, body.clip_version_id, texts)
    return JSONBody(_embedding_body(body, request, embeddings))


@router.post(
    "/clip/compare",
    summary="CLIP similarity",
    description=(
        "Cosine similarity of a subject (image or text) to one prompt, a list of prompts or a "
        "dict of named prompts."
    ),
)
def compare(body: ClipCompareRequest, request: Request) -> Response:
    subject = parse_subject(body.subject, body.subject_type)
    prompts = parse_prompts(body.prompt, body.prompt_type)
    clip, principal = _clip(request, body)
    similarity = clip.compare(principal, body.clip_version_id, subject, prompts)
    return JSONBody(
        {
            "inference_id": body.id,
            "frame_id": None,
            "time": elapsed_s(request),
            "similarity": similarity,
            "parent_id": None,
        }
    )


def _embedding_body(body: _ClipRequest, request: Request, embeddings: Any) -> dict[str, Any]:
    return {
        "inference_id": body.id,
        "frame_id": None,
        "time": elapsed_s(request),
        "embeddings": embeddings,
    }
