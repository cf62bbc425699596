"""The web playground at ``/`` and the files it (and ``/docs``) load from ``/static/…``.

The files live in the package (``visionflow/http/static``): plain HTML, CSS and JavaScript, no
build step and nothing fetched from the internet at run time.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from visionflow.errors import NotFoundError

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


def _file(relative: str) -> Path:
    """``relative`` under the static folder; anything else (``..``, absolute, missing) is a 404."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise NotFoundError(f"no static file {relative!r}")
    return path


def _send(path: Path, cache: str) -> Response:
    media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
    return FileResponse(path, media_type=media, headers={"Cache-Control": cache})


@router.get("/")
def playground() -> Response:
    return _send(_file("index.html"), "no-cache")


@router.get("/static/{relative:path}")
def static_file(relative: str) -> Response:
    # Vendored files never change within a version; the playground's own may, between versions.
    cache = "public, max-age=86400" if relative.startswith("vendor/") else "no-cache"
    return _send(_file(relative), cache)
