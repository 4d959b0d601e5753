"""Imports: upload a file, watch the job's progress, read its reject report.

The upload goes through the same code as ``POST /api/v1/imports`` (saved into the
workspace, then :func:`kithkin.api.background.start_import`), so a file imported from the
dashboard, the API or the CLI ends in the same job and reject report.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from kithkin.api import background
from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.config import settings_of
from kithkin.dashboard import imports_view, navigation
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.errors import KithkinError
from kithkin.imports import service as import_service
from kithkin.imports.router import ALLOWED_SUFFIXES, save_upload
from kithkin.ingest.kinds import Kind
from kithkin.ingest.options import IngestOptions
from kithkin.public_text import hide_paths
from kithkin.users.models import StaffUser

router = APIRouter(prefix="/imports", route_class=PageRoute, include_in_schema=False)

ImportsUser = Annotated[StaffUser, Depends(require_page(navigation.IMPORTS.key))]


def _imports_page(request: Request, session: SessionDep, user: StaffUser, *,
                  status_code: int = 200, error: str | None = None) -> Response:
    return render(request, "imports.html", user=user, active="imports",
                  status_code=status_code, error=error, kinds=list(Kind),
                  accept=",".join(sorted(ALLOWED_SUFFIXES)),
                  jobs=import_service.list_recent(session=session, limit=20))


@router.get("")
def imports(request: Request, session: SessionDep, user: ImportsUser) -> Response:
    return _imports_page(request, session, user)


@router.post("")
def upload(request: Request, session: SessionDep, user: ImportsUser,
           file: Annotated[UploadFile, File()], kind: Annotated[Kind, Form()],
           strict: Annotated[bool, Form()] = False,
           encoding: Annotated[str, Form()] = "utf-8") -> Response:
    """Start the import in the background and go to its progress page."""
    try:
        settings = settings_of(request.app.state)
        path = save_upload(file, settings=settings)
        job_id = background.start_import(engine=request.app.state.engine, settings=settings,
                                         kind=kind.value, path=path, options=IngestOptions(),
                                         strict=strict, encoding=encoding)
    except KithkinError as exc:  # unreadable file, missing column: say so on the form
        return _imports_page(request, session, user, status_code=400,
                             error=hide_paths(str(exc)))
    return RedirectResponse(f"/imports/{job_id}", status_code=303)


@router.get("/{job_id:int}")
def job(request: Request, session: SessionDep, user: ImportsUser, job_id: IdPath) -> Response:
    found = import_service.get(session=session, job_id=job_id)
    return render(request, "import_job.html", user=user, active="imports", job=found,
                  finished=imports_view.is_finished(found),
                  rejects=imports_view.reject_report(found))


@router.get("/{job_id:int}/status")
def job_status(session: SessionDep, _: ImportsUser, job_id: IdPath) -> dict[str, Any]:
    """Polled by the progress view every second until the job has finished."""
    found = import_service.get(session=session, job_id=job_id)
    return {"status": found.status, "rows_read": found.rows_read,
            "rows_written": found.rows_written, "rows_rejected": found.rows_rejected,
            "finished": imports_view.is_finished(found)}
