"""The dashboard's own CSS and JS, and plotly.js from the installed plotly package.

plotly.js is served from the wheel's ``package_data`` so the dashboard works offline and
nothing third-party is committed or fetched from a CDN at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import plotly
from fastapi import APIRouter
from fastapi.responses import FileResponse

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


@router.get("/static/dashboard/{name}")
def static_file(name: str) -> FileResponse:
    """Only files directly in static/ (no sub-paths, so no path traversal)."""
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    if name not in files:
        raise NotFoundError(f"no static file {name!r}")
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(files[name], media_type=media, headers=CACHE)
