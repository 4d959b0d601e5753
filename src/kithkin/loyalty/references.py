"""The ledger's foreign keys for a bulk grant, checked once per parent, not per entry.

SQLite checks each inserted entry's customer and order as the row goes in, one B-tree
search of the parent table per entry and key: on a first grant of a long history that
was most of the insert's time (``benchmarks/results/loyalty_steps.md``, "inserts").
The refresh's grant therefore runs on a connection with SQLite's checks off (a pragma
that only takes effect outside a transaction, so it is set before the grant's first
statement and set back after its commit) and, before it commits and still holding the
write lock, looks up every distinct parent its new entries name, once, in id order
(:func:`check`). An entry naming a missing customer, order or user fails the grant as
the per-row check would: an ``IntegrityError``, nothing kept. Deleting a parent still
cascades: that is done by the deleting connection, whose checks are on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Table, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kithkin.database.core import unit_of_work


def _pragma(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


@contextmanager
def checked_once(engine: Engine) -> Iterator[Session]:
    """A unit of work (commit on success, rollback on error) whose SQLite connection does
    not check references row by row; the grant calls :func:`check` before it returns.
    Other dialects: a plain unit of work. The connection goes back to the pool with its
    checks on, or is discarded."""
    if engine.dialect.name != "sqlite":
        with unit_of_work(Session(engine, expire_on_commit=False)) as session:
            yield session
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        conn.commit()  # ends SQLAlchemy's own transaction; SQLite began none
        try:
            with unit_of_work(Session(conn, expire_on_commit=False)) as session:
                yield session
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            restored = _pragma(conn)
            conn.commit()
            if not restored:
                conn.invalidate()  # never hand out a connection that skips the checks


def unchecked(conn: Connection) -> bool:
    """Whether ``conn`` is a SQLite connection whose per-row reference checks are off."""
    return conn.dialect.name == "sqlite" and not _pragma(conn)


def check(conn: Connection, table: Table, *, after_id: int) -> None:
    """Every reference of ``table``'s rows with an id above ``after_id`` names a stored
    row: each distinct value looked up once. Raises ``IntegrityError`` otherwise."""
    for key in table.foreign_keys:
        child, parent = key.parent, key.column
        named = select(child.label("ref")).where(
            table.c.id > after_id, child.is_not(None)).distinct().subquery()
        missing = conn.scalar(select(func.count()).select_from(named).where(
            ~exists().where(parent == named.c.ref)))
        if missing:
            raise IntegrityError(
                f"{table.name}.{child.name} -> {parent.table.name}.{parent.name}", None,
                sqlite3.IntegrityError(
                    f"FOREIGN KEY constraint failed: {missing} new {table.name} rows name "
                    f"a {parent.table.name} that does not exist"))
