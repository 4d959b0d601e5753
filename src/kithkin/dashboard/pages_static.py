"""The dashboard's own CSS and JS, and plotly.js from the installed plotly package.

plotly.js is served from the wheel's ``package_data`` so the dashboard works offline and
nothing third-party is committed or fetched from a CDN at run time; its style rules are
served as a stylesheet (:mod:`kithkin.dashboard.plotly_css`) so that pages keep to a
Content-Security-Policy without inline styles.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import plotly
from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from kithkin.dashboard.plotly_css import bundled_styles, plotly_stylesheet
from kithkin.errors import NotFoundError

STATIC_DIR = Path(__file__).parent / "static"
CACHE = {"Cache-Control": "public, max-age=3600"}

router = APIRouter(include_in_schema=False)


@cache
def plotly_js_path() -> Path:
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise NotFoundError(f"plotly.min.js is missing from the plotly package at {path}")
    return path


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(plotly_js_path(), media_type="text/javascript", headers=CACHE)


@cache
def plotly_css() -> str:
    return plotly_stylesheet(plotly_js_path().read_text(encoding="utf-8"))


@cache
def plotly_bundled_style_ids() -> list[str]:
    """Ids pages declare so plotly.js injects no ``<style>`` (its CSS is in plotly.css)."""
    return [style_id for style_id, _ in bundled_styles(plotly_js_path().read_text("utf-8"))]


@router.get("/static/vendor/plotly.css")
def plotly_css_file() -> Response:
    return Response(plotly_css(), media_type="text/css", headers=CACHE)


@router.get("/static/dashboard/{name}")
def static_file(name: str) -> FileResponse:
    """Only files directly in static/ (no sub-paths, so no path traversal)."""
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    if name not in files:
        raise NotFoundError(f"no static file {name!r}")
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(files[name], media_type=media, headers=CACHE)
