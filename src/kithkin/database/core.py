"""Engines and sessions for the operational store.

SQLite is the embedded default, tuned for a single writer with concurrent readers (WAL);
PostgreSQL is the production store. Both run through the same SQLAlchemy code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kithkin.audit import capture as _audit_capture  # noqa: F401  (session audit events)
from kithkin.config import get_settings
from kithkin.errors import NotFoundError

SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",  # durable at checkpoints; WAL keeps the file consistent on crash
    "foreign_keys": "ON",
    "busy_timeout": "10000",
    "cache_size": "-65536",  # 64 MiB page cache
    # large sorts (an index built over millions of rows) spill to a file the OS caches;
    # SQLite's in-memory spill sorts in one list, far slower at 10M entries (see
    # kithkin.database.bulk.sqlite.SORTER_CACHE_KIB)
    "temp_store": "FILE",
    "mmap_size": "268435456",
}


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for name, value in SQLITE_PRAGMAS.items():
        cursor.execute(f"PRAGMA {name}={value}")
    cursor.close()


def _keep_sqlite_connection(context: ExceptionContext) -> None:
    """Keep a SQLite connection through a Ctrl-C instead of closing it mid-statement.

    SQLAlchemy treats KeyboardInterrupt during a statement like a lost connection: it
    closes the DBAPI connection but not the statement's cursor, and sqlite3 then keeps
    the closed connection alive, write transaction and lock included, until that cursor
    is garbage-collected. Every other connection, the importer's own status write
    included, waited ``busy_timeout`` and failed with "database is locked". sqlite3 only
    raises between C calls, never inside one, so the connection is intact: SQLAlchemy now
    closes the cursor, and the caller's rollback ends the transaction as for any error.
    """
    if not isinstance(context.original_exception, Exception):
        context.is_disconnect = False


def build_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        if engine.dialect.driver == "pysqlite":
            event.listen(engine, "handle_error", _keep_sqlite_connection)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **kwargs)


@cache
def _engine_for(url: str) -> Engine:
    return build_engine(url)


def get_engine(url: str | None = None) -> Engine:
    return _engine_for(url or get_settings().resolved_database_url)


def dispose_engines() -> None:
    """Forget cached engines (tests switch databases between cases)."""
    _engine_for.cache_clear()


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit ``session`` on success, roll it back on any error, close it either way."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def session_scope(engine: Engine | None = None) -> AbstractContextManager[Session]:
    """A unit of work on a new session of ``engine`` (default: the configured store)."""
    return unit_of_work(session_factory(engine)())


T = TypeVar("T")


def get_or_raise(session: Session, model: type[T], key: object, label: str) -> T:
    """The row of ``model`` with primary key ``key``; NotFoundError naming it otherwise."""
    row = session.get(model, key)
    if row is None:
        raise NotFoundError(f"{label} {key} does not exist")
    return row


def add_once(session: Session, row: T, *, key_column: Any, key: str | None) -> T:
    """Insert ``row``, or return the row already stored under the unique ``key``.

    Safe under concurrency: the insert runs in a savepoint, and a unique-key conflict
    (another transaction got there first) answers with the stored row. Without a key the
    row is simply added."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        if key is None:
            raise
        stored: T | None = session.scalar(select(type(row)).where(key_column == key))
        if stored is None:
            raise
        return stored
    return row
