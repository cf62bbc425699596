"""API documentation that works offline: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load
their scripts from the server (``/static/vendor``, see its README for versions and licences),
never from a CDN."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import HTMLResponse

__all__ = ["DOCS_URL", "OAUTH2_REDIRECT_URL", "REDOC_URL", "router"]

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
_VENDOR = "/static/vendor"
_FAVICON = "/static/favicon.svg"

router = APIRouter(include_in_schema=False)


def _openapi_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + str(request.app.openapi_url)


@router.get(DOCS_URL)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} — API docs",
        swagger_js_url=f"{_VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{_VENDOR}/swagger-ui.css",
        swagger_favicon_url=_FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
    )


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} — ReDoc",
        redoc_js_url=f"{_VENDOR}/redoc.standalone.js",
        redoc_favicon_url=_FAVICON,
        with_google_fonts=False,
    )
