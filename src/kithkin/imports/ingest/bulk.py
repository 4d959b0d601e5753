"""Bulk-load mode for large SQLite imports: the whole file in one transaction, with the
target table's secondary indexes dropped first and rebuilt by sorting at the end.

Rows arrive in file order, so a secondary index such as ``(customer_id, ordered_at)``
gets one random B-tree insert per row, and every commit writes back each index page a
batch dirtied: that, not parsing, is what bounded large imports. ``CREATE INDEX`` instead
sorts all entries once (on a second core with ``PRAGMA threads``) and writes each page
once. Unique indexes stay: they are the natural keys the upsert resolves conflicts on.

SQLite DDL is transactional, so the drop, every batch and the rebuild commit together: a
crash, ``kill -9`` or Ctrl-C rolls all of it back and the store keeps its indexes and its
previous rows; running the import again does the whole job. The price is that SQLite's
single write lock is held for the whole import, and progress becomes visible at the end.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from kithkin.database.bulk import sqlite as bulk_sqlite
from kithkin.imports.ingest.kinds import Kind

BULK_MIN_ROWS = 500_000
"""Smaller imports keep per-batch commits: they take seconds either way, and per-batch
commits let other writers in between batches and show progress to other readers."""
BULK_RATIO = 1.0
"""Bulk mode when the file has at least this many rows per row already in the table:
rebuilding sorts the old entries too, so it only pays when the import is large next to
the table (measured: ~1.5-2 us a row to rebuild, ~5 us a row or more to insert at random
into a live index of a million rows)."""
BULK_CACHE_KIB = 256 * 1024
"""Page cache while rows are loaded: with the random-order index dropped, rows and the
natural-key index mostly append, and dirty pages spilled to the WAL are written once
either way, so the 1 GiB cache of a per-batch import would only add memory."""


def applies(connection: Connection, *, kind: Kind, table: str, incoming: int | None,
            requested: bool | None) -> bool:
    """Whether this import runs in bulk mode; ``requested`` True/False forces it."""
    if connection.dialect.name != "sqlite" or kind is Kind.CUSTOMERS:
        # Customers are matched with look-ups on their own secondary indexes.
        return False
    if requested is not None:
        return requested
    if incoming is None or incoming < BULK_MIN_ROWS:
        return False
    # max(id) is an index seek, count(*) a full scan: close enough for the decision.
    stored = int(connection.exec_driver_sql(
        f'SELECT coalesce(max(id), 0) FROM "{table}"').scalar_one())
    return incoming >= BULK_RATIO * stored


def secondary_indexes(connection: Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's non-unique indexes, in creation order."""
    listed = connection.exec_driver_sql(f'PRAGMA index_list("{table}")').all()
    names = [row[1] for row in reversed(listed) if not row[2] and row[3] == "c"]
    if not names:
        return []
    found: dict[str, str] = dict(connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        f"AND name IN ({', '.join('?' * len(names))})", (table, *names)).all())
    return [(name, found[name]) for name in names]


@contextmanager
def unchecked_foreign_keys(connection: Connection, active: bool) -> Iterator[None]:
    """Skip SQLite's per-row foreign-key look-ups for the bulk transaction.

    Safe there and only there: the transaction takes the write lock before anything is
    read (``BEGIN IMMEDIATE`` in :func:`deferred_indexes`), and every referenced id is
    read under that lock, from the identifier snapshot or a join, so no referenced row
    can disappear before the commit; rows are only inserted or updated, never deleted,
    so no cascade is skipped. The pragma only changes outside a transaction, hence this
    wraps the whole transaction.
    """
    raw = connection.connection.dbapi_connection
    if not active or not isinstance(raw, sqlite3.Connection):
        yield
        return
    previous = int(raw.execute("PRAGMA foreign_keys").fetchone()[0])
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        # An engine not made by build_engine closes the connection on Ctrl-C in the driver.
        with contextlib.suppress(sqlite3.Error):
            raw.execute(f"PRAGMA foreign_keys = {previous}")


@contextmanager
def deferred_indexes(connection: Connection, table: str, *, rebuild: bool = True
                     ) -> Iterator[list[str]]:
    """Drop the table's secondary indexes; re-create them when the body succeeds.

    Must run inside the import's transaction: a rollback then restores the indexes.
    ``rebuild`` False (a dry run, rolled back anyway) skips the rebuild.
    """
    assert connection.in_transaction(), "indexes must be dropped inside the transaction"
    raw = connection.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    if not raw.in_transaction:
        # sqlite3 begins implicitly only before DML; DDL would autocommit. IMMEDIATE also
        # takes the write lock now, so nothing changes under the identifier snapshot.
        raw.execute("BEGIN IMMEDIATE")
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")  # import_settings restores it
    indexes = secondary_indexes(connection, table)
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield [name for name, _ in indexes]
    if not rebuild or not indexes:
        return
    with bulk_sqlite.index_builds(connection):
        for _, create in indexes:
            connection.exec_driver_sql(create)
