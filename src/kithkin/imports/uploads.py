"""Uploaded import files: removed once their job no longer needs them.

Uploads are copied into the workspace (``settings.uploads_dir``) and read by a
background job; nothing else ever deletes them, so rejected and finished uploads would
fill the disk. :func:`remove_stale_uploads` runs at ``kithkin serve`` start and hourly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.imports.models import ImportJob, ImportStatus

log = logging.getLogger(__name__)
ACTIVE_STATUSES = (ImportStatus.PENDING, ImportStatus.RUNNING)


def remove_stale_uploads(*, session: Session, folder: Path, older_than: timedelta,
                         now: datetime | None = None, dry_run: bool = False) -> list[Path]:
    """Delete the files in ``folder`` last modified before ``now - older_than``, except
    those of a pending or running import job; returns the removed paths (with
    ``dry_run``, those that would be removed, leaving them in place)."""
    if not folder.is_dir():
        return []
    in_use = {Path(name).resolve() for name in session.scalars(
        select(ImportJob.filename).where(ImportJob.status.in_(ACTIVE_STATUSES)))}
    cutoff = ((now or datetime.now(UTC)) - older_than).timestamp()
    removed: list[Path] = []
    for path in folder.iterdir():
        try:
            if (not path.is_file() or path.resolve() in in_use
                    or path.stat().st_mtime >= cutoff):
                continue
            if not dry_run:
                path.unlink()
        except FileNotFoundError:  # removed meanwhile (another worker's clean-up)
            continue
        removed.append(path)
    if removed and not dry_run:
        log.info("removed %d upload(s) older than %s from %s", len(removed), older_than, folder)
    return removed
