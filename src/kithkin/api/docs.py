"""The API docs pages (Swagger UI at /docs, ReDoc at /redoc) without a CDN.

FastAPI's defaults load Swagger UI, ReDoc and Google Fonts from the internet, so on a
network without internet access (where a CRM often runs) /docs was a blank page. The
assets come from the installed ``fastapi-offline`` package (its ``static/`` folder holds
swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and a favicon) and are served
from this app; nothing third-party is committed to the repository or fetched at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from kithkin.errors import ConfigurationError, NotFoundError

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/static/api-docs"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
_CACHE = {"Cache-Control": "public, max-age=3600"}


@cache
def assets_dir() -> Path:
    """The installed package's asset folder; a missing file is a broken install."""
    folder = Path(fastapi_offline.__file__).parent / "static"
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise ConfigurationError(f"the fastapi-offline package lacks {', '.join(missing)} "
                                 f"(reinstall it): the API docs pages cannot be served")
    return folder


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def docs_router(app: FastAPI) -> APIRouter:
    """/docs, /redoc, the OAuth2 redirect page and their assets, for ``app``'s schema."""
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"

    @router.get(DOCS_URL)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @router.get(OAUTH2_REDIRECT_URL)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(REDOC_URL)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False,
        )

    @router.get(ASSETS_URL + "/{name}")
    def asset(name: str) -> FileResponse:
        """Only the listed files (no sub-paths, so no path traversal)."""
        if name not in ASSETS:
            raise NotFoundError(f"no API docs asset {name!r}")
        return FileResponse(assets_dir() / name, media_type=ASSETS[name], headers=_CACHE)

    return router


def install_api_docs(app: FastAPI) -> None:
    """Serve the docs pages; build the app with ``docs_url=None, redoc_url=None``."""
    assets_dir()  # fail at start-up, not on the first visit
    app.include_router(docs_router(app))
