"""Import jobs: created when an import starts, advanced with each committed batch.

Progress is written in the same transaction as the batch it counts, so after a crash
``rows_written`` still equals what the store holds from that run.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kithkin.database.base import utcnow
from kithkin.database.core import get_or_raise
from kithkin.imports.models import ImportJob, ImportStatus
from kithkin.imports.schemas import ImportJobRead


def create(*, session: Session, kind: str, filename: str, file_sha256: str | None,
           strict: bool, ignored_columns: list[str] | None = None) -> ImportJob:
    job = ImportJob(kind=kind, filename=filename, file_sha256=file_sha256,
                    status=ImportStatus.RUNNING, strict=strict, dry_run=False,
                    ignored_columns=ignored_columns or None)
    session.add(job)
    session.flush()
    return job


def record_progress(*, session: Session, job_id: int, rows_read: int, rows_written: int,
                    rows_rejected: int, reject_path: str | None) -> None:
    """Update the counters; call it inside the transaction of the batch it counts."""
    session.execute(
        update(ImportJob).where(ImportJob.id == job_id).values(
            rows_read=rows_read, rows_written=rows_written, rows_rejected=rows_rejected,
            reject_path=reject_path,
        )
    )


def finish(*, session: Session, job_id: int, status: ImportStatus,
           error: str | None = None) -> None:
    """Set the final status of a running job; a finished one keeps its status.

    A Ctrl-C can arrive just after the success status committed, and the job did succeed.
    """
    session.execute(
        update(ImportJob).where(ImportJob.id == job_id,
                                ImportJob.status == ImportStatus.RUNNING).values(
            status=status, error=error, finished_at=utcnow()
        )
    )


def get(*, session: Session, job_id: int) -> ImportJobRead:
    job = get_or_raise(session, ImportJob, job_id, "import job")
    return ImportJobRead.model_validate(job)


def list_recent(*, session: Session, limit: int = 50) -> list[ImportJobRead]:
    jobs = session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit))
    return [ImportJobRead.model_validate(job) for job in jobs]
