"""Turn what the operating system or the database refuses into one clear error line.

A read-only workspace or a full disk is not a bug: the user needs one sentence naming
what could not be written and why, not a driver traceback. A value the store refuses is
caught by validation before it gets there; should one slip through, the error still
names the file rather than dumping the driver's SQL.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from kithkin.errors import IngestError, KithkinError, StorageError
from kithkin.imports.ingest.readers import display_name

_SQLITE_STORAGE = ("readonly", "read-only", "disk is full", "disk i/o error",
                   "unable to open database file")
_PG_STORAGE_CLASSES = ("53", "58")  # insufficient resources (disk full), system error
_PG_READ_ONLY = "25006"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def storage_error(exc: Exception, file: str) -> KithkinError | None:
    """The error to raise instead of ``exc``, or None when ``exc`` is fine as it is."""
    if isinstance(exc, KithkinError):
        return None
    if isinstance(exc, OSError):
        where = f" {display_name(Path(exc.filename))}" if exc.filename else ""
        reason = exc.strerror or type(exc).__name__
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "no space left on the device"
        return StorageError(f"cannot write{where}: {reason} (importing {file})")
    original: BaseException = (exc.orig or exc) if isinstance(exc, DBAPIError) else exc
    text = _first_line(original)
    code = str(getattr(original, "sqlstate", "") or "")  # psycopg's SQLSTATE
    storage = (any(marker in text.lower() for marker in _SQLITE_STORAGE)
               if isinstance(original, sqlite3.Error)
               else code == _PG_READ_ONLY or code[:2] in _PG_STORAGE_CLASSES)
    if storage:
        return StorageError(f"the store cannot be written: {text} (importing {file})")
    if isinstance(exc, DataError | IntegrityError):
        return IngestError(f"the store refused a batch: {text}", file=file)
    return None
