"""Housekeeping that runs inside `kithkin serve`: old uploads are removed at start and
then every hour, in a worker thread (see :mod:`kithkin.imports.uploads`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI

from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.imports.uploads import remove_stale_uploads
from kithkin.jobs.scheduler import RefreshScheduler

UPLOAD_CLEANUP_INTERVAL_SECONDS = 3600.0


async def start_upload_cleanup(app: FastAPI) -> RefreshScheduler:
    """Clean up once now, then start the hourly clean-up; the caller stops it."""
    settings: Settings = app.state.settings

    def clean() -> None:
        with session_scope(app.state.engine) as session:
            remove_stale_uploads(session=session, folder=settings.uploads_dir,
                                 older_than=timedelta(hours=settings.upload_retention_hours))

    cleaner = RefreshScheduler(interval_seconds=UPLOAD_CLEANUP_INTERVAL_SECONDS, run=clean,
                               name="upload clean-up")
    await asyncio.to_thread(cleaner.run_once)
    cleaner.start()
    app.state.upload_cleanup = cleaner
    return cleaner
