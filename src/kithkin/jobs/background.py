"""File imports started over HTTP run in a background thread.

The request returns as soon as the import has registered its ``import_job`` row, so the
client can poll progress; errors that stop an import before it starts (unreadable file,
missing column) are raised to the request instead, where they become a 422.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.database.writelock import bulk_write_lock
from kithkin.errors import ServiceUnavailableError
from kithkin.imports.ingest import pipeline as ingest_pipeline
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.models import ImportJob

JOB_REGISTRATION_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.02


def start_import(*, engine: Engine, settings: Settings, kind: str, path: Path,
                 options: IngestOptions, strict: bool, encoding: str | None = None) -> int:
    """Run ``ingest_file`` in a daemon thread; return its job id once registered."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with bulk_write_lock(engine):
                # Messages name the upload, not where the server keeps it.
                ingest_pipeline.ingest_file(kind=kind, path=path, mapping=options,
                                            strict=strict, engine=engine, label=path.name,
                                            encoding=encoding, settings=settings)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"import-{path.name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + JOB_REGISTRATION_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with Session(engine) as session:
            job_id = session.scalar(select(ImportJob.id).where(ImportJob.filename == str(path)))
        if job_id is not None:
            return job_id
        if not thread.is_alive():
            if failure:
                raise failure[0]
            break
        time.sleep(_POLL_SECONDS)
    raise ServiceUnavailableError(f"the import of {path.name} did not start in time")
