"""One bulk writer at a time on a SQLite store, across threads and worker processes.

SQLite allows a single writer, and a deferred transaction that has read before it writes
fails at once with "database is locked" when another connection committed in between
(it cannot wait to upgrade its lock). The API therefore serialises its bulk writes
(event batches, file imports) with an advisory file lock next to the database, skips its
own small bookkeeping writes while a bulk write runs, and retries an event batch that
still lost the race (safe: ingestion upserts on natural keys). PostgreSQL needs none.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

_thread_lock = threading.Lock()
T = TypeVar("T")
RETRIES = 3


def _lock_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(f"{engine.url.database}.write-lock")


@contextmanager
def bulk_write_lock(engine: Engine, *, wait: bool = True) -> Iterator[bool]:
    """Hold the store's bulk-write lock; yields False (not held) only when ``wait`` is
    False and another writer has it. A no-op that yields True on PostgreSQL."""
    path = _lock_path(engine)
    if path is None:
        yield True
        return
    if not _thread_lock.acquire(blocking=wait):
        yield False
        return
    try:
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _thread_lock.release()


def _is_sqlite_lock(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


def with_lock_retries(engine: Engine, write: Callable[[], T]) -> T:
    """Run an idempotent bulk ``write`` under the lock, retrying a lost SQLite race."""
    for attempt in range(RETRIES):
        try:
            with bulk_write_lock(engine):
                return write()
        except OperationalError as exc:
            if not _is_sqlite_lock(exc) or attempt == RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
