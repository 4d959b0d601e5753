"""Consistent copies of the store while it serves, and their restoration.

- SQLite: ``sqlite3.Connection.backup`` in one step (``pages=-1``) copies the database
  as of one read transaction; in WAL mode writers go on meanwhile, and the copy holds
  every transaction committed before it started.
- PostgreSQL: a REPEATABLE READ transaction exports its snapshot; the row counts are
  taken in it and ``pg_dump --snapshot`` dumps exactly that snapshot, so the manifest
  and the dump agree even while events keep arriving.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from kithkin.errors import KithkinError

SKIPPED_TABLES = frozenset({"sqlite_sequence"})


class BackupError(KithkinError):
    """A backup or restore that could not be made or did not check out."""


def sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite store cannot be backed up")
    return Path(database)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {name: int(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in names if name not in SKIPPED_TABLES}


def backup_sqlite(engine: Engine, target: Path) -> dict[str, int]:
    """Copy the store to ``target``; returns the copy's row count per table."""
    source = sqlite3.connect(sqlite_path(engine), timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # pages=-1: one step, one consistent read transaction
        copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
        return _sqlite_counts(copy)
    finally:
        copy.close()
        source.close()


def count_sqlite_file(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        return _sqlite_counts(connection)
    finally:
        connection.close()


def libpq_url(engine: Engine) -> str:
    """The store's URL as pg_dump/pg_restore read it (no SQLAlchemy driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: PostgreSQL backups need the "
                          "PostgreSQL client tools (apt-get install postgresql-client)")
    return path


def _pg_counts(connection: Connection) -> dict[str, int]:
    rows: list[str] = list(connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "ORDER BY tablename")).scalars().all())
    return {name: int(connection.execute(
        text(f'SELECT count(*) FROM "{name}"')).scalar_one()) for name in rows}


def backup_postgresql(engine: Engine, target: Path) -> dict[str, int]:
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        snapshot: str = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = _pg_counts(conn)
        result = subprocess.run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
             f"--file={target}", "--dbname", libpq_url(engine)],
            capture_output=True, text=True, check=False, env={**os.environ})
        conn.rollback()
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    return counts


def store_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the live store (restore checks them against the manifest)."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        return count_sqlite_file(sqlite_path(engine))
    with engine.connect() as conn:
        return _pg_counts(conn)


def restore_sqlite(engine: Engine, dump: Path) -> None:
    engine.dispose()
    path = sqlite_path(engine)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(dump, path)


def restore_postgresql(engine: Engine, dump: Path) -> None:
    engine.dispose()
    url = make_url(libpq_url(engine))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    result = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
         "--dbname", url.render_as_string(hide_password=False), str(dump)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")
