"""/imports: upload a file to import in the background, poll it, fetch its rejects."""

from __future__ import annotations

import csv
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response

from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import ImportsRead, ImportsWrite
from kithkin.config import Settings, settings_of
from kithkin.errors import ValidationError
from kithkin.imports import service as import_service
from kithkin.imports.filenames import safe_upload_name
from kithkin.imports.ingest.kinds import Kind
from kithkin.imports.ingest.options import build_options
from kithkin.imports.schemas import ImportJobRead
from kithkin.jobs import background

router = APIRouter(prefix="/imports", tags=["imports"])
ALLOWED_SUFFIXES = {".csv", ".txt", ".tsv", ".tab", ".dat", ".parquet", ".jsonl", ".ndjson",
                    ".json", ".gz"}
_CHUNK = 1 << 20


def save_upload(upload: UploadFile, *, settings: Settings) -> Path:
    """Stream the upload into the workspace of ``settings`` under a unique, safe name."""
    original = safe_upload_name(upload.filename or "upload.csv")
    if not any(original.lower().endswith(s) for s in ALLOWED_SUFFIXES):
        raise ValidationError(f"file: {original!r} is not CSV, Parquet or JSON Lines")
    folder = settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{original}"
    with path.open("wb") as handle:
        shutil.copyfileobj(upload.file, handle, _CHUNK)
    return path


@router.post("", status_code=202)
def upload_import(
    request: Request, _: ImportsWrite,
    file: Annotated[UploadFile, File(description="CSV, Parquet or JSON Lines.")],
    kind: Annotated[Kind, Form()],
    strict: Annotated[bool, Form()] = False,
    encoding: Annotated[str, Form(
        description="Text encoding of a CSV or JSON Lines file, e.g. latin-1, or auto "
                    "(detected).")] = "auto",
    mappings: Annotated[list[str] | None, Form(
        alias="map", description="source_col=field, repeatable.")] = None,
    constants: Annotated[list[str] | None, Form(
        alias="set", description="field=value for every row, e.g. source=shop; "
                                 "repeatable.")] = None,
    preset: Annotated[str | None, Form(
        description="Mapping preset: generic, shopify or stripe.")] = None,
    delimiter: Annotated[str, Form(
        description="',', ';', tab, '|', whitespace or auto (detected).")] = "auto",
    header: Annotated[Literal["auto", "yes", "no"], Form(
        description="Whether the first row names the columns: auto (detected), yes or no. "
                    "A choice rather than an optional boolean: a form cannot send null.")
    ] = "auto",
    columns: Annotated[str | None, Form(
        description="Comma-separated names of the columns of a file without header.")
    ] = None,
    create_customers: Annotated[bool, Form(
        description="Rows naming an unknown customer create it.")] = False,
    skip_statuses: Annotated[list[str] | None, Form(
        alias="skip_status", description="Leave out transactions with this status "
                                         "(refunded, cancelled...); repeatable.")] = None,
) -> dict[str, Any]:
    """Start importing the uploaded file; poll ``GET /imports/{job_id}`` for progress."""
    options = build_options(kind=kind.value, preset=preset, columns=mappings,
                            constants=constants, delimiter=delimiter,
                            header=None if header == "auto" else header == "yes",
                            names=columns, create_customers=create_customers,
                            skip_statuses=skip_statuses)
    settings = settings_of(request.app.state)
    path = save_upload(file, settings=settings)
    job_id = background.start_import(engine=request.app.state.engine, settings=settings,
                                     kind=kind.value, path=path, options=options,
                                     strict=strict, encoding=encoding)
    return {"job_id": job_id, "status_url": f"{request.url.path}/{job_id}"}


@router.get("", response_model=list[ImportJobRead])
def list_imports(session: SessionDep, _: ImportsRead) -> list[ImportJobRead]:
    return import_service.list_recent(session=session)


@router.get("/{job_id:int}", response_model=ImportJobRead)
def get_import(job_id: IdPath, session: SessionDep, _: ImportsRead) -> ImportJobRead:
    return import_service.get(session=session, job_id=job_id)


@router.get("/{job_id:int}/rejects", response_model=None)
def get_rejects(job_id: IdPath, session: SessionDep, _: ImportsRead,
                fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "json",
                ) -> Response | list[dict[str, str]]:
    """The job's reject report (row, field, value, reason and the original columns)."""
    job = import_service.get(session=session, job_id=job_id)
    path = Path(job.reject_path) if job.reject_path else None
    if path is None or not path.exists():
        return Response("", media_type="text/csv") if fmt == "csv" else []
    if fmt == "csv":
        return FileResponse(path, media_type="text/csv", filename=path.name)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
