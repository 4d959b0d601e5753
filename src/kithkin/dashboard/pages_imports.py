"""Imports: upload a file, map its columns, dry-run, import; watch the job's progress and
read its reject report.

The upload goes through the same code as ``POST /api/v1/imports`` (saved into the
workspace, then :func:`kithkin.jobs.background.start_import`), so a file imported from the
dashboard, the API or the CLI ends in the same job and reject report. "Preview and map
columns" saves the upload the same way (same size limit) and opens the mapping step
(:mod:`kithkin.dashboard.import_mapping`); the saved file is named in the URL by its
upload name, which only the session that uploaded it may use.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.config import settings_of
from kithkin.dashboard import import_mapping, imports_view, navigation
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.errors import KithkinError, NotFoundError, ValidationError
from kithkin.imports import service as import_service
from kithkin.imports.ingest.kinds import Kind
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.router import ALLOWED_SUFFIXES, save_upload
from kithkin.jobs import background
from kithkin.public_text import hide_paths
from kithkin.users.models import StaffUser

router = APIRouter(prefix="/imports", route_class=PageRoute, include_in_schema=False)

ImportsUser = Annotated[StaffUser, Depends(require_page(navigation.IMPORTS.key))]
UPLOADS_KEY = "import_uploads"  # session: the uploads this session may map and import
UPLOADS_REMEMBERED = 8
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}-[^/\\]+$")


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
           encoding: Annotated[str, Form()] = "utf-8",
           step: Annotated[Literal["import", "map"], Form()] = "import") -> Response:
    """Start the import in the background and go to its progress page, or (``step=map``)
    keep the file and open the mapping step."""
    try:
        settings = settings_of(request.app.state)
        path = save_upload(file, settings=settings)
        if step == "map":
            query = {"kind": kind.value, **({"encoding": encoding}
                                            if encoding != "utf-8" else {})}
            return RedirectResponse(f"/imports/map/{quote(_remember(request, path))}?"
                                    f"{urlencode(query)}", status_code=303)
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


def _remember(request: Request, path: Path) -> str:
    kept = [name for name in request.session.get(UPLOADS_KEY, []) if name != path.name]
    request.session[UPLOADS_KEY] = [*kept[-(UPLOADS_REMEMBERED - 1):], path.name]
    return path.name


def _uploaded(request: Request, name: str) -> Path:
    """A file this session uploaded for mapping (no other path can be named)."""
    if not _UPLOAD_NAME.match(name) or name not in request.session.get(UPLOADS_KEY, []):
        raise NotFoundError("no such upload in this session: upload the file again")
    path = settings_of(request.app.state).uploads_dir / name
    if not path.is_file():
        raise NotFoundError("the uploaded file has been cleaned up: upload it again")
    return path


def _mapping_page(request: Request, user: StaffUser, path: Path, *, kind: Kind,
                  encoding: str | None, delimiter: str | None,
                  chosen: dict[str, str] | None = None,
                  constants: dict[str, str] | None = None, strict: bool = False,
                  dry: import_mapping.DryRun | None = None, error: str | None = None
                  ) -> Response:
    layout = import_mapping.chosen_layout(import_mapping.detect_layout(path),
                                          encoding=encoding, delimiter=delimiter)
    preview = None
    try:
        preview = import_mapping.read_preview(path, layout)
    except ValidationError as exc:
        error = error or str(exc)
    columns = preview.columns if preview else []
    if chosen is None:
        chosen = import_mapping.suggest_mapping(kind, columns)
    return render(request, "imports_map.html", user=user, active="imports",
                  status_code=400 if error else 200, error=error and hide_paths(error),
                  name=path.name, kind=kind, kinds=list(Kind), layout=layout,
                  encodings=import_mapping.ENCODINGS,
                  delimiters=import_mapping.DELIMITERS, preview=preview,
                  fields=import_mapping.fields_of(kind), chosen=chosen,
                  constants=constants or {}, strict=strict, dry=dry)


@router.get("/map/{name}")
def mapping(request: Request, user: ImportsUser, name: str, kind: Kind = Kind.CUSTOMERS,
            encoding: str | None = None, delimiter: str | None = None) -> Response:
    """The mapping step: the file's layout, its first rows, a column for each field."""
    return _mapping_page(request, user, _uploaded(request, name), kind=kind,
                         encoding=encoding, delimiter=delimiter)


@router.post("/map/{name}")
async def mapping_submit(request: Request, user: ImportsUser, name: str) -> Response:
    """Dry-run the mapping (the page again, with the outcome) or import with it; the
    work (files, the store) runs in the thread pool, off the event loop."""
    form = await request.form()
    try:
        kind = Kind(str(form.get("kind", "")))
    except ValueError:
        raise ValidationError(f"kind: {form.get('kind')!r} is not an import kind") from None
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_apply_mapping, request, user, name, kind, values)


def _apply_mapping(request: Request, user: StaffUser, name: str, kind: Kind,
                   form: dict[str, str]) -> Response:
    path = _uploaded(request, name)
    fields = [f.name for f in import_mapping.fields_of(kind)]
    chosen = {name: form.get(f"column:{name}", "") for name in fields}
    constants = {name: form.get(f"constant:{name}", "") for name in fields}
    strict = form.get("strict") == "true"
    encoding, delimiter = form.get("encoding") or None, form.get("delimiter") or None
    page = partial(_mapping_page, request, user, path, kind=kind, encoding=encoding,
                   delimiter=delimiter, chosen=chosen, constants=constants, strict=strict)
    engine, settings = request.app.state.engine, settings_of(request.app.state)
    try:
        layout = import_mapping.chosen_layout(import_mapping.detect_layout(path),
                                              encoding=encoding, delimiter=delimiter)
        columns = import_mapping.read_preview(path, layout).columns
        options = import_mapping.build_options(kind, columns, chosen, constants)
        if form.get("action") == "import":
            job_id = import_mapping.start_import(engine=engine, settings=settings, kind=kind,
                                                 path=path, layout=layout, options=options,
                                                 strict=strict)
            return RedirectResponse(f"/imports/{job_id}", status_code=303)
        dry = import_mapping.dry_run(engine=engine, settings=settings, kind=kind, path=path,
                                     layout=layout, options=options)
    except KithkinError as exc:  # a bad mapping or a file that cannot be imported
        return page(error=str(exc))
    return page(dry=dry)
