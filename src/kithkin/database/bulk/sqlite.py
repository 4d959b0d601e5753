"""SQLite's fast paths: ``executemany`` of statements compiled from the table, and for
large writes to a SQLite file, ADBC stage files attached to the caller's connection.

SQLite has one writer and no COPY: the fastest a Python process can hand it rows is
``sqlite3``'s ``executemany`` over plain tuples, a prepared statement run once per row
in C. Beyond :data:`kithkin.database.adbc.MIN_ROWS` rows a child process writes the rows
into a file of their own through ADBC (Arrow to SQLite in C, no per-value Python work);
the file is ATTACHed and applied with ``INSERT ... SELECT`` or ``UPDATE ... FROM`` in the
caller's transaction. SQLite cannot DETACH a file the open transaction used, so a stage
stays attached until the connection goes back to the pool (or the next bulk call finds
the transaction ended), and is deleted then.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, Connection, Integer, MetaData, Table, event, exc
from sqlalchemy.sql.expression import ClauseElement

from kithkin.database import adbc
from kithkin.database.bulk.columns import sqlite_rows, sqlite_table

CHUNK_ROWS = 100_000
"""Rows converted to tuples at a time: bounds the Python objects alive at once."""
BULK_CACHE_KIB = 1 << 20
"""Page cache while staged rows are applied (1 GiB at most; it grows only as used)."""
MAX_ATTACHED = 8
"""SQLite attaches at most ten files to a connection; beyond this the driver path runs."""
_ATTACHED = "kithkin_bulk_attached"
_AUTOCHECKPOINT = "kithkin_autocheckpoint"
_names = itertools.count()


def raw_connection(conn: Connection) -> sqlite3.Connection:
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection), "a SQLite connection"
    return raw


def ensure_transaction(conn: Connection) -> None:
    """Open the driver's transaction now: ``sqlite3`` only opens one before DML, and a
    SAVEPOINT outside a transaction would commit on RELEASE."""
    raw = raw_connection(conn)
    if not raw.in_transaction:
        raw.execute("BEGIN")


def compiled(conn: Connection, statement: ClauseElement) -> tuple[str, list[str]]:
    """The statement's SQL and the names of its ``?`` parameters, in order."""
    done: Any = statement.compile(dialect=conn.dialect)  # a SQLCompiler: qmark binds
    return str(done), list(done.positiontup or ())


def executemany(conn: Connection, statement: ClauseElement, rows: pa.Table) -> int:
    """Run ``statement`` (bind names = column names of ``rows``) once per row, in C."""
    sql, order = compiled(conn, statement)
    ordered = rows.select(order) if order else rows
    cursor = raw_connection(conn).cursor()
    changed = 0
    try:
        for start in range(0, rows.num_rows, CHUNK_ROWS):
            cursor.executemany(sql, sqlite_rows(ordered.slice(start, CHUNK_ROWS)))
            changed += max(cursor.rowcount, 0)
    except sqlite3.Error as error:  # as SQLAlchemy would raise it (IntegrityError, ...)
        raise exc.DBAPIError.instance(sql, None, error, sqlite3.Error) from error
    finally:
        cursor.close()
    return changed


def database_file(conn: Connection) -> str | None:
    """The SQLite file behind ``conn`` when ADBC can reach it (installed, not in memory)."""
    url = conn.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return str(url.database) if adbc.available() else None


def start(conn: Connection, tables: Mapping[str, pa.Table]) -> adbc.Pending | None:
    """Start staging conformed ``tables`` in a child process; ``None`` when ADBC cannot
    reach the store (the caller writes through the driver)."""
    database = database_file(conn)
    if database is None or not tables:
        return None
    return adbc.start(database, {name: sqlite_table(t) for name, t in tables.items()})


def _release(raw: sqlite3.Connection | None, attached: list[tuple[str, str]]) -> None:
    for schema, folder in attached:
        if raw is not None:
            with contextlib.suppress(sqlite3.Error):
                raw.execute(f"DETACH DATABASE {schema}")
        path = Path(folder)
        if path.exists():
            for leftover in path.iterdir():
                leftover.unlink()
            path.rmdir()


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    raw = dbapi_connection if isinstance(dbapi_connection, sqlite3.Connection) else None
    attached = record.info.pop(_ATTACHED, None)
    if attached:
        _release(raw, attached)
    pages = record.info.pop(_AUTOCHECKPOINT, None)
    if pages is not None and raw is not None:
        with contextlib.suppress(sqlite3.Error):
            raw.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")


def _listen_checkin(conn: Connection) -> None:
    pool = conn.engine.pool
    if not event.contains(pool, "checkin", _on_checkin):
        event.listen(pool, "checkin", _on_checkin)


def defer_checkpoint(conn: Connection) -> None:
    """No checkpoint at this connection's commits until it goes back to the pool.

    SQLite checkpoints in the committing call once the WAL passes
    ``wal_autocheckpoint`` pages: after a block of a million rows, the writer copies
    some 400 MB from the WAL into the database there (seconds) before it returns.
    :func:`checkpoint` does it afterwards, while others go on (a checkpoint does not
    hold the write lock)."""
    info = conn.connection.info
    if _AUTOCHECKPOINT not in info:
        raw = raw_connection(conn)
        info[_AUTOCHECKPOINT] = int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        raw.execute("PRAGMA wal_autocheckpoint = 0")
        _listen_checkin(conn)


def checkpoint(conn: Connection) -> None:
    """A passive checkpoint: the committed WAL copied into the database file as far as
    no reader still needs it, without waiting for readers or writers. Another
    connection's checkpoint running at the time is no error: the log stays for it or
    the next one (nothing is lost either way)."""
    try:
        raw_connection(conn).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise


def release_finished(conn: Connection) -> None:
    """Detach and delete the stages of transactions that have ended on ``conn``."""
    raw = raw_connection(conn)
    attached = conn.connection.info.get(_ATTACHED)
    if attached and not raw.in_transaction:
        _release(raw, attached)
        attached.clear()


def attach(conn: Connection, pending: adbc.Pending) -> str | None:
    """Wait for a stage and attach it to ``conn``; the schema to read it from, or
    ``None`` (the stage dropped) when the connection has no attachment left."""
    release_finished(conn)
    # attachments live in a driver transaction, so one that is not open any more
    # tells release_finished that the stage can go
    ensure_transaction(conn)
    attached: list[tuple[str, str]] = conn.connection.info.setdefault(_ATTACHED, [])
    if len(attached) >= MAX_ATTACHED:
        pending.cancel()
        return None
    target = pending.wait()
    schema = f"kithkin_stage_{os.getpid()}_{next(_names)}"
    _listen_checkin(conn)
    try:
        raw_connection(conn).execute(f"ATTACH DATABASE ? AS {schema}", (str(target),))
    except BaseException:
        pending.remove()
        raise
    attached.append((schema, str(pending.folder)))
    return schema


def staged_table(schema: str, name: str, like: Table, names: Sequence[str], *,
                 rowid: bool = False) -> Table:
    """The attached stage ``schema.name`` as a table with ``like``'s column types;
    ``rowid`` adds SQLite's row number (rows numbered in the order they were staged)."""
    numbered = [Column("rowid", Integer)] if rowid else []
    return Table(name, MetaData(), *(Column(n, like.c[n].type) for n in names), *numbered,
                 schema=schema)


@contextmanager
def page_cache(conn: Connection, kib: int = BULK_CACHE_KIB) -> Iterator[None]:
    """A larger page cache while bulk statements run (faster inserts of millions of
    rows into indexed tables), then the connection's own setting again."""
    raw = raw_connection(conn)
    before = int(raw.execute("PRAGMA cache_size").fetchone()[0])
    raw.execute(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        # An engine not made by build_engine closes the connection on a Ctrl-C inside
        # a driver call: nothing is left to restore, and the interrupt must stay one.
        with contextlib.suppress(sqlite3.Error):
            raw.execute(f"PRAGMA cache_size = {before}")


SORTER_THREADS = 2
SORTER_CACHE_KIB = 16 * 1024
"""Page cache while indexes are built. SQLite sizes its sorter's runs from it and, with
the store's ``temp_store = FILE``, sorts runs of this size and merges them: 10M entries
(an import's index) took ~8 s (16 MiB runs) instead of ~35 s (one in-memory list, as
``temp_store = MEMORY`` does). At a metrics block's 1M entries the two are even
(benchmarks/results/metrics_store.md)."""


@contextmanager
def index_builds(conn: Connection) -> Iterator[None]:
    """Sorter settings while ``CREATE INDEX`` runs over millions of rows, then the
    connection's own again (shrinking the cache only spills dirty pages to the WAL
    early; the commit writes them)."""
    raw = raw_connection(conn)
    settings = {name: raw.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("threads", "cache_size")}
    raw.execute(f"PRAGMA threads = {SORTER_THREADS}")
    raw.execute(f"PRAGMA cache_size = -{SORTER_CACHE_KIB}")
    try:
        yield
    finally:
        for name, value in settings.items():
            with contextlib.suppress(sqlite3.Error):
                raw.execute(f"PRAGMA {name} = {value}")
