"""Bulk reads and writes of the relationship tables, through the raw driver.

A refresh writes up to a row per customer and model (the current stage rows of its first
assessment) and reads back what the previous one stored. SQLAlchemy's per-value
processing is skipped, so values must already be in the driver's format (dates as ISO
text on SQLite). On a SQLite file, large reads and writes go through
:mod:`kithkin.metrics.staging` (ADBC in C, in a child process): the large inserts and
updates of a refresh are staged in a few files (written while the refresh computes its
next steps), attached to the session's connection, then applied with
``INSERT ... SELECT`` / ``UPDATE ... FROM`` in the session's transaction. Elsewhere:
``executemany`` of plain tuples, or ``COPY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.orm import Session

from kithkin.metrics import staging

WRITE_CHUNK = 20_000


def column_values(series: pd.Series) -> list[Any]:
    """Plain Python values (None for missing) without boxing the whole frame."""
    if series.hasnans:
        return list(series.astype(object).where(series.notna(), None).tolist())
    return list(series.tolist())


def fetch(session: Session, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
    """Rows through the raw DBAPI cursor: SQLAlchemy's row wrapping costs as much as the
    read itself on millions of rows."""
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass(frozen=True)
class Read:
    """A query for :func:`read_frames`: ``columns`` are (name, ``int``/``float``/``str``),
    ``expected_rows`` decides whether the child process is worth its start-up."""

    sql: str
    columns: Sequence[tuple[str, str]]
    parameters: tuple[Any, ...] = ()
    expected_rows: int = 0


def read_frames(session: Session, reads: dict[str, Read]) -> dict[str, pd.DataFrame]:
    """Each query's rows as a frame. Large reads of a SQLite file that this transaction
    has not written to yet are decoded in C, in one child process (which sees committed
    data only)."""
    raw = session.connection().connection.driver_connection
    big = {name: read for name, read in reads.items()
           if read.expected_rows >= staging.MIN_ROWS}
    tables: dict[str, pa.Table] = {}
    if big and not getattr(raw, "in_transaction", True):
        tables = staging.read(session, {
            name: staging.Query(read.sql, [kind for _, kind in read.columns],
                                read.parameters)
            for name, read in big.items()}) or {}
    frames = {}
    for name, read in reads.items():
        names = [column for column, _ in read.columns]
        if name in tables:
            frames[name] = tables[name].rename_columns(names).to_pandas()
        else:
            frames[name] = pd.DataFrame(fetch(session, read.sql, read.parameters),
                                        columns=names)
    return frames


@dataclass
class Writes:
    """Inserts and updates collected during a refresh, applied by :meth:`flush`.

    :meth:`stage` starts staging the large steps queued so far in a child process, so
    the caller's next steps are computed while it writes (one file per call: keep the
    calls few, SQLite attaches at most ten)."""

    session: Session
    steps: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)
    pending: list[tuple[staging.Pending, list[int]]] = field(default_factory=list)
    unstaged: int = 0  # steps before this one went through stage()

    def insert(self, table: str, rows: pd.DataFrame) -> None:
        if not rows.empty:
            self.steps.append(("insert", table, rows.reset_index(drop=True)))

    def update(self, table: str, values: pd.DataFrame, ids: pd.Series) -> None:
        """``UPDATE table`` of ``values``' columns, one row per id."""
        if not values.empty:
            self.steps.append(("update", table, values.reset_index(drop=True).assign(
                id=ids.astype("int64").to_numpy())))

    def stage(self) -> None:
        """Start staging the large steps queued since the last call (SQLite file only)."""
        numbers = [n for n in range(self.unstaged, len(self.steps))
                   if len(self.steps[n][2]) >= staging.MIN_ROWS]
        self.unstaged = len(self.steps)
        if not numbers or self.session.connection().dialect.name != "sqlite":
            return
        pending = staging.start(self.session, {f"w{n}": _arrow(self.steps[n][2])
                                               for n in numbers}, min_rows=0)
        if pending is not None:
            self.pending.append((pending, numbers))

    def discard(self) -> None:
        """Stop the staging children of a refresh that failed before :meth:`flush`."""
        for pending, _ in self.pending:
            pending.cancel()
        self.pending.clear()

    def flush(self) -> None:
        self.stage()
        located: dict[int, str] = {}
        try:
            while self.pending:
                pending, numbers = self.pending[0]
                schema = pending.attach()
                self.pending.pop(0)
                located.update((n, f"{schema}.w{n}") for n in numbers)
        except BaseException:
            self.pending.pop(0)
            self.discard()
            raise
        with staging.page_cache(self.session) if located else nullcontext():
            self._apply(located)
        self.steps.clear()
        self.unstaged = 0

    def _apply(self, located: dict[int, str]) -> None:
        for n, (kind, table, rows) in enumerate(self.steps):
            if kind == "insert":
                insert(self.session, table, rows, staged=located.get(n))
            else:
                _update(self.session, table, rows, staged=located.get(n))


def _arrow(rows: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(rows, preserve_index=False)
    arrays = [column.cast(pa.string()) if pa.types.is_null(column.type) else column
              for column in table.columns]
    return pa.Table.from_arrays(arrays, names=table.column_names)


def insert(session: Session, table: str, rows: pd.DataFrame, *,
           staged: str | None = None) -> None:
    """Bulk insert: from a staged copy, ``COPY`` for PostgreSQL, else ``executemany``."""
    if rows.empty:
        return
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows.columns)
    columns = ", ".join(quote(n) for n in names)
    if staged is not None:
        connection.exec_driver_sql(
            f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {staged}")
        return
    records = list(zip(*(column_values(rows[name]) for name in names), strict=True))
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
                f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({', '.join([marker] * len(names))})"
    for start in range(0, len(records), WRITE_CHUNK):
        connection.exec_driver_sql(sql, records[start:start + WRITE_CHUNK])


def _update(session: Session, table: str, rows: pd.DataFrame, *, staged: str | None) -> None:
    """Primary-key updates (no other index is touched unless an indexed column is set)."""
    names = [name for name in rows.columns if name != "id"]
    if staged is not None:
        assignments = ", ".join(f'"{name}" = s."{name}"' for name in names)
        session.connection().exec_driver_sql(
            f"UPDATE {table} SET {assignments} FROM {staged} AS s WHERE {table}.id = s.id")
        return
    assignments = ", ".join(f"{name} = ?" for name in names)
    records = list(zip(*(column_values(rows[n]) for n in [*names, "id"]), strict=True))
    by_id(session, f"UPDATE {table} SET {assignments} WHERE id = ?", records)


def by_id(session: Session, sql: str, records: list[tuple[Any, ...]]) -> None:
    if not records:
        return
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    for start in range(0, len(records), WRITE_CHUNK):
        connection.exec_driver_sql(sql, records[start:start + WRITE_CHUNK])


def delete_by_id(session: Session, table: str, ids: pd.Series) -> None:
    by_id(session, f"DELETE FROM {table} WHERE id = ?",
          [(i,) for i in ids.astype("int64").tolist()])
