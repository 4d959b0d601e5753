"""Liveness and readiness probes (public: orchestrators call them without credentials)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependency checks, so a slow store does not restart it)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={503: {
    "description": "The store does not answer.",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["status", "detail"],
        "properties": {"status": {"const": "unavailable"}, "detail": {"type": "string"}}}}},
}})
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    """The store answers a trivial query; 503 while it does not."""
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("select 1"))
    except SQLAlchemyError as exc:
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__},
                            status_code=503)
    return {"status": "ready"}
