"""Which `running` import jobs still have a live process behind them.

A killed import (``kill -9``, a crash, a lost machine) cannot mark its own job, so the
process holds a lease for as long as the job runs, one the operating system or the server
drops when the process dies: on SQLite a POSIX record lock on byte ``job id`` of a lock
file next to the database, on PostgreSQL a session advisory lock. A job whose lease can
be taken by someone else is stale, and the next import marks it ``interrupted``.

POSIX record locks belong to the process, and closing any descriptor of the file drops
all of them, so the lock file is opened once per process and never closed, and this
process's own jobs are known from :data:`_OWNED` rather than probed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from sqlalchemy import Connection, select, update

from kithkin.database.base import utcnow
from kithkin.imports.models import ImportJob, ImportStatus

PG_LOCK_CLASS = 0x6B69  # first key of pg_advisory_lock(int, int): "ki"
STALE_ERROR = "the importing process ended without finishing (killed or crashed)"

_OWNED: set[tuple[str, int]] = set()
_FILES: dict[str, int] = {}
_GUARD = threading.Lock()


def _lock_file(connection: Connection) -> str | None:
    database = connection.engine.url.database
    if connection.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return f"{Path(database).resolve()}-imports.lock"


def _descriptor(path: str) -> int:
    with _GUARD:
        if path not in _FILES:
            _FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        return _FILES[path]


def _key(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)


def acquire(connection: Connection, job_id: int) -> None:
    """Take the lease of a job just created, before its row is committed, so no other
    process ever sees the job running without it."""
    path = _lock_file(connection)
    if path is not None:
        fcntl.lockf(_descriptor(path), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, job_id)
    elif connection.dialect.name == "postgresql":  # session-level: outlives the transaction
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({PG_LOCK_CLASS}, {int(job_id)})")
    _OWNED.add((_key(connection), job_id))


def release(connection: Connection, job_id: int) -> None:
    """Drop the lease once the job's final status is committed."""
    _OWNED.discard((_key(connection), job_id))
    path = _lock_file(connection)
    if path is not None:
        fcntl.lockf(_descriptor(path), fcntl.LOCK_UN, 1, job_id)
    elif connection.dialect.name == "postgresql":
        # A connection broken by Ctrl-C is closed, and the server drops the lock itself.
        with contextlib.suppress(Exception):
            connection.exec_driver_sql(
                f"SELECT pg_advisory_unlock({PG_LOCK_CLASS}, {int(job_id)})")
            connection.commit()


def _abandoned(connection: Connection, job_id: int) -> bool:
    """Whether nobody holds the lease of ``job_id`` (probing takes and drops it)."""
    if (_key(connection), job_id) in _OWNED:
        return False
    path = _lock_file(connection)
    if path is not None:
        descriptor = _descriptor(path)
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, job_id)
        except OSError:
            return False
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, job_id)
        return True
    if connection.dialect.name == "postgresql":
        taken = bool(connection.exec_driver_sql(
            f"SELECT pg_try_advisory_lock({PG_LOCK_CLASS}, {int(job_id)})").scalar_one())
        if taken:
            connection.exec_driver_sql(
                f"SELECT pg_advisory_unlock({PG_LOCK_CLASS}, {int(job_id)})")
        return taken
    return False


def reap_stale(connection: Connection) -> list[int]:
    """Mark `running` jobs whose process is gone as `interrupted`; return their ids.

    Call it outside a transaction: it commits its own.
    """
    with connection.begin():
        running = connection.execute(
            select(ImportJob.id).where(ImportJob.status == ImportStatus.RUNNING)).scalars().all()
        stale = [job_id for job_id in running if _abandoned(connection, job_id)]
        if stale:
            connection.execute(update(ImportJob).where(ImportJob.id.in_(stale)).values(
                status=ImportStatus.INTERRUPTED, error=STALE_ERROR, finished_at=utcnow()))
    return stale
