"""Set-based writes: bulk-load a batch into a TEMP staging table, then upsert with SQL.

Row-at-a-time ORM inserts top out around ten thousand rows a second; loading the batch
with the driver's fastest path (``executemany`` for sqlite3, ``COPY`` for PostgreSQL)
and resolving references with one JOIN keeps the database doing what it is good at.
Only :class:`StoreDialect` knows which backend it talks to; the SQL is shared.

Large SQLite imports go one step further: customer references are resolved in Arrow
from identifiers loaded once per import, and rows are bound straight into the target
table (a plain INSERT while every key is new), so SQLite's single writer does nothing
but append rows and maintain indexes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from kithkin.database import bulk
from kithkin.database.base import UTCDateTime
from kithkin.database.bulk import columns as bulk_columns
from kithkin.imports.ingest.kinds import FieldType, Reference
from kithkin.imports.ingest.prepare import ROW, ColumnPlan, Prepared, Reject

IMPORT_CACHE_KIB = 1 << 20
"""SQLite page cache of an import's connection (1 GiB): the indexes of 10M orders."""


class StoreDialect:
    """The few things SQLite and PostgreSQL do differently here."""

    def __init__(self, connection: Connection) -> None:
        self.name = connection.dialect.name
        self.quote = connection.dialect.identifier_preparer.quote
        self.placeholder = "?" if self.name == "sqlite" else "%s"

    def now(self, connection: Connection) -> Any:
        """This instant as the driver takes a ``created_at``/``updated_at`` value."""
        return bulk.driver_value(connection, UTCDateTime(), datetime.now(UTC))

    def _sql_type(self, arrow_type: pa.DataType, json: bool) -> str:
        if self.name == "sqlite":
            return ""  # no affinity: values keep the type they were bound with
        if json:
            return "json"
        if pa.types.is_timestamp(arrow_type):
            return "timestamptz"
        if pa.types.is_date(arrow_type):
            return "date"
        if pa.types.is_integer(arrow_type):
            return "bigint"
        if pa.types.is_floating(arrow_type):
            return "double precision"
        if pa.types.is_boolean(arrow_type):
            return "boolean"
        return "text"

    def encode(self, table: pa.Table) -> Any:
        """The batch in the driver's bulk format: CSV bytes for COPY, tuples for sqlite3.

        Runs on the reader thread, so this Python work overlaps the previous batch's SQL.
        """
        if self.name == "postgresql":
            return bulk_columns.csv_bytes(table)
        return bulk_columns.sqlite_rows(table)

    def stage(self, connection: Connection, name: str, schema: pa.Schema, payload: Any,
              json_columns: frozenset[str] = frozenset()) -> None:
        """Create the TEMP table ``name`` and fill it with an encoded batch.

        It is re-created for every batch, inside the batch's transaction: a table left on
        this pooled connection by an earlier import (or restored by a rollback) may have
        another file's columns.
        """
        schema_name = "temp" if self.name == "sqlite" else "pg_temp"
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema_name}.{name}")
        columns = ", ".join(
            f"{self.quote(c)} {self._sql_type(schema.field(c).type, c in json_columns)}"
            for c in schema.names
        )
        connection.exec_driver_sql(f"CREATE TEMP TABLE {name} ({columns})")
        if not payload:
            return
        raw = connection.connection.dbapi_connection
        assert raw is not None
        names = ", ".join(self.quote(c) for c in schema.names)
        if self.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(  # type: ignore[attr-defined]
                f"COPY {name} ({names}) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(payload)
            return
        cursor = raw.cursor()
        try:
            marks = ", ".join("?" * len(schema.names))
            cursor.executemany(f"INSERT INTO {name} ({names}) VALUES ({marks})", payload)
        finally:
            cursor.close()

    def begin_batch(self, connection: Connection) -> None:
        """Per-transaction settings for bulk work (see
        :func:`kithkin.database.bulk.prepare_batch`)."""
        bulk.prepare_batch(connection)

    def differs(self, left: str, right: str, *, json: bool) -> str:
        if json and self.name == "postgresql":
            return f"{left}::text IS DISTINCT FROM {right}::text"
        return f"{left} IS DISTINCT FROM {right}"


def end_transaction(connection: Connection) -> None:
    """Roll back whatever transaction an error or a Ctrl-C left open on ``connection``.

    A Ctrl-C can land in SQLAlchemy's commit after it marked its transaction inactive
    but before the driver committed: SQLAlchemy's rollback then does nothing, the
    driver's transaction stays open, and the next statement (the job's final status)
    would join it, while ``PRAGMA foreign_keys`` cannot be restored inside it. Rolling
    the driver back too is a no-op when nothing is open, and after an invalidated
    connection it reaches the fresh one.
    """
    connection.rollback()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.rollback()


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    values: list[Any] = bulk_columns.sqlite_array(chunked).to_pylist()
    return values


PRELOADABLE = frozenset({"customer_identifier"})
"""Referenced tables small enough to hold in memory for a SQLite import.

Customers are bounded by the business; orders and interactions grow with every import,
so references to them stay set-based joins.
"""
PRELOAD_MIN_ROWS = 5_000
"""Batches smaller than this (REST events, small files) keep the join: loading every
identifier would cost more than it saves."""


class _Lookup:
    """(source, external id) -> id of a :class:`Reference`, loaded once per import.

    Resolving in Arrow on the reader thread takes the join off the database's single
    writer: SQLite then only appends rows and maintains its indexes.
    """

    def __init__(self, connection: Connection, ref: Reference, quote: Callable[[str], str]
                 ) -> None:
        self.ref = ref
        raw = connection.connection.dbapi_connection
        assert raw is not None
        columns = ", ".join(quote(c) for c, _ in ref.on)
        cursor = raw.cursor()
        try:
            cursor.execute(f"SELECT {columns}, {quote(ref.value)} FROM {quote(ref.table)}")
            rows = cursor.fetchall()
        finally:
            cursor.close()
        width = len(ref.on)
        self.keys = _joined([pa.array([r[i] for r in rows], pa.string()) for i in range(width)])
        self.ids = pa.array([r[width] for r in rows], pa.int64())

    def resolve(self, table: pa.Table) -> pa.Array:
        staged = table.column_names
        key = _joined([table[src if src in staged else "source"].combine_chunks().cast(pa.string())
                       for _, src in self.ref.on])
        return pc.take(self.ids, pc.index_in(key, value_set=self.keys))


def _joined(parts: list[pa.Array]) -> pa.Array:
    """One key column; null when any part is null, as an SQL equality join would miss."""
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")


def _append_or_upsert(connection: Connection, append: str, upsert: str,
                      rows: list[tuple[Any, ...]]) -> tuple[int, bool]:
    """Bind ``rows`` with a plain INSERT, or with the upsert if any natural key exists.

    A first import only adds rows, and a plain INSERT skips the conflict clause's
    per-row work. If a key is already stored the INSERT fails on the unique index (at
    the first such row), is rolled back to a savepoint and the batch is upserted.
    Returns the rows changed and whether the plain INSERT went through (all inserted).
    """
    raw = connection.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    cursor = raw.cursor()
    try:
        if not raw.in_transaction:
            # A SAVEPOINT opened outside a transaction would commit on RELEASE.
            cursor.execute("BEGIN")
        cursor.execute("SAVEPOINT kithkin_append")
        try:
            cursor.executemany(append, rows)
        except sqlite3.IntegrityError:
            cursor.execute("ROLLBACK TO kithkin_append")
            cursor.execute("RELEASE kithkin_append")
            return max(cursor.executemany(upsert, rows).rowcount, 0), False
        cursor.execute("RELEASE kithkin_append")
        return len(rows), True
    finally:
        cursor.close()


@dataclass(frozen=True)
class _Resolved:
    """A batch with its references resolved in memory: rows to bind and the misses.

    PostgreSQL gets ``copy`` instead of ``rows``: the resolved rows as CSV for a COPY
    straight into the table. Its misses are not rejected from the snapshot (other
    writers may have added the customer since): ``retry`` goes through the join.
    """

    rows: list[tuple[Any, ...]]
    misses: list[tuple[int, Reference]]
    copy: bytes | None = None
    copied: int = 0
    retry: pa.Table | None = None


@dataclass(frozen=True)
class BatchCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: dict[str, int] | None = None


class SetBasedWriter:
    """Upserts one kind's batches on its natural key, touching only changed rows."""

    def __init__(self, connection: Connection, plan: ColumnPlan) -> None:
        self.connection, self.plan, self.spec = connection, plan, plan.spec
        self.dialect = StoreDialect(connection)
        self.stage_name = f"kithkin_stage_{plan.spec.kind.value}"
        self._sql: dict[str, str] | None = None
        self._lookups: list[_Lookup] | None = None
        # Customers created on the fly (create_customers) would miss a preloaded lookup.
        self._preloadable = bool(self.spec.references) and all(
            ref.table in PRELOADABLE for ref in self.spec.references
        ) and not plan.options.create_customers

    def _references(self, staged: list[str]) -> list[tuple[int, Reference]]:
        return [(i, ref) for i, ref in enumerate(self.spec.references) if ref.trigger in staged]

    def _build(self, staged: list[str]) -> dict[str, str]:
        q, spec = self.dialect.quote, self.spec
        refs = self._references(staged)
        values: dict[str, str] = {}
        for name in staged:
            if name == ROW:
                continue
            spec_field = spec.field_by_name.get(name)
            target = spec_field.target if spec_field else name
            if target:
                values[target] = f"s.{q(name)}"
        for i, ref in refs:
            values[ref.target] = f"r{i}.{q(ref.value)}"
        comparable = [c for c in values if c not in spec.conflict]
        inserted_only = {f.target: f"'{f.default}'" for f in spec.fields
                         if f.default is not None and f.target and f.target not in values}
        stamps = {c: self.dialect.placeholder for c in spec.timestamps}
        columns = {**values, **inserted_only, **stamps}
        joins = " ".join(
            f"LEFT JOIN {q(ref.table)} r{i} ON "
            + " AND ".join(f"r{i}.{q(col)} = s.{q(src if src in staged else 'source')}"
                           for col, src in ref.on)
            for i, ref in refs
        )
        ok = " AND ".join(f"(s.{q(ref.trigger)} IS NULL OR r{i}.{q(ref.value)} IS NOT NULL)"
                          for i, ref in refs if ref.required) or "1 = 1"
        source = f"FROM {self.stage_name} s {joins} WHERE {ok}"
        table = q(spec.table)
        json_targets = {f.target for f in spec.fields if f.type is FieldType.TAGS}
        changed = " OR ".join(
            self.dialect.differs(f"{table}.{q(c)}", f"excluded.{q(c)}", json=c in json_targets)
            for c in comparable
        )
        sets = [f"{q(c)} = excluded.{q(c)}" for c in comparable]
        if spec.touches_updated_at:
            sets.append(f"{q('updated_at')} = excluded.{q('updated_at')}")
        conflict = ", ".join(q(c) for c in spec.conflict)
        action = (f"DO UPDATE SET {', '.join(sets)} WHERE {changed}" if comparable
                  else "DO NOTHING")
        misses = [
            (i, ref, f"(s.{q(ref.trigger)} IS NOT NULL AND r{i}.{q(ref.value)} IS NULL)")
            for i, ref in refs if ref.required
        ]
        on_conflict = f"ON CONFLICT ({conflict}) {action}"
        # The in-memory path binds the staged values and resolved ids row by row.
        direct = {**{c: "?" for c in values}, **inserted_only,
                  **{c: "{now}" for c in stamps}}
        self._copy_columns = ", ".join(q(c) for c in direct)
        self._copy_constants = {**{f.target: f.default for f in spec.fields
                                   if f.target in inserted_only},
                                **dict.fromkeys(stamps)}
        self._direct_columns = [name for name in staged if name != ROW
                                and (spec.field_by_name[name].target
                                     if name in spec.field_by_name else name)]
        sql = {
            "upsert": f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) "
                      f"SELECT {', '.join(columns.values())} {source} {on_conflict}",
            "append": f"INSERT INTO {table} ({', '.join(q(c) for c in direct)}) "
                      f"VALUES ({', '.join(direct.values())})",
            # New rows get ids above the previous maximum (SQLite rowids; SQLite has a
            # single writer), so counting them is a primary-key range scan, not a join.
            "on_conflict": on_conflict,
            "last_id": f"SELECT max({q('id')}) FROM {table}",
            "inserted": f"SELECT count(*) FROM {table} "
                        f"WHERE {q('id')} > {self.dialect.placeholder}",
        }
        if misses:
            sql["misses"] = (
                f"SELECT s.{q(ROW)}, "
                + ", ".join(f"CASE WHEN {cond} THEN 1 ELSE 0 END" for _, _, cond in misses)
                + f" FROM {self.stage_name} s {joins} WHERE "
                + " OR ".join(cond for _, _, cond in misses)
            )
        self._misses = [ref for _, ref, _ in misses]
        self._stamp_count = len(stamps)
        return sql

    def encode(self, prepared: Prepared) -> Prepared:
        lookups = self._lookups  # set once by the writing thread, then only read
        prepared.payload = (self._resolve(prepared.table, lookups) if lookups is not None
                            else self.dialect.encode(prepared.table))
        return prepared

    def _resolve(self, table: pa.Table, lookups: list[_Lookup]) -> _Resolved:
        missed = pa.array(np.zeros(table.num_rows, dtype=bool))
        misses: list[tuple[int, Reference]] = []
        ids = []
        for lookup in lookups:
            found = lookup.resolve(table)
            ids.append(found)
            if lookup.ref.required:
                miss = pc.and_(pc.invert(missed),
                               pc.and_(pc.is_valid(table[lookup.ref.trigger].combine_chunks()),
                                       pc.is_null(found)))
                rows = pc.filter(table[ROW].combine_chunks(), miss).to_pylist()
                misses.extend((int(row), lookup.ref) for row in rows)
                missed = pc.or_(missed, miss)
        keep = pc.invert(missed)
        if self.dialect.name == "postgresql":
            return self._copy_payload(table, keep, ids, missed)
        columns = [_python_values(pc.filter(table[name], keep))
                   for name in self._direct_columns]
        columns += [pc.filter(found, keep).to_pylist() for found in ids]
        misses.sort(key=lambda miss: miss[0])
        return _Resolved(list(zip(*columns, strict=True)), misses)

    def _copy_payload(self, table: pa.Table, keep: pa.Array, ids: list[pa.Array],
                      missed: pa.Array) -> _Resolved:
        """The resolved rows as CSV in the column order of ``_copy_columns``."""
        kept = table.filter(keep)
        columns = [kept[name] for name in self._direct_columns]
        columns += [pc.filter(found, keep) for found in ids]
        now = datetime.now(UTC)
        for value in self._copy_constants.values():
            scalar = (pa.scalar(now, pa.timestamp("us", tz="UTC")) if value is None
                      else pa.scalar(value))
            columns.append(pa.repeat(scalar, kept.num_rows))
        payload = bulk_columns.csv_bytes(
            pa.table(columns, names=[f"c{i}" for i in range(len(columns))]))
        retry = table.filter(missed)
        return _Resolved([], [], payload, kept.num_rows,
                         retry if retry.num_rows else None)

    def _write_copy(self, prepared: Prepared, resolved: _Resolved,
                    original: Callable[[int], dict[str, Any]]) -> tuple[BatchCounts, list[Reject]]:
        """COPY new rows straight into the table (PostgreSQL); upsert if any key exists.

        Like SQLite's plain INSERT: while every natural key is new, COPY skips staging,
        the join and the conflict clause. The first existing key (or a customer erased
        since the snapshot) fails the COPY inside a savepoint, and the batch is then
        staged and upserted as usual.
        """
        import psycopg  # the PostgreSQL driver, only needed here

        assert self._sql is not None and resolved.copy is not None
        raw = self.connection.connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        inserted = 0
        if resolved.copied:
            with raw.cursor() as cursor:
                cursor.execute("SAVEPOINT kithkin_copy")
                try:
                    with cursor.copy(
                        f"COPY {self.dialect.quote(self.spec.table)} ({self._copy_columns}) "
                        "FROM STDIN (FORMAT csv)"
                    ) as copy:
                        copy.write(resolved.copy)
                except (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
                    cursor.execute("ROLLBACK TO SAVEPOINT kithkin_copy")
                    cursor.execute("RELEASE SAVEPOINT kithkin_copy")
                    return self._write_staged(prepared.table, original)
                inserted = max(cursor.rowcount, 0)
                cursor.execute("RELEASE SAVEPOINT kithkin_copy")
        if resolved.retry is None:
            return BatchCounts(inserted=inserted), []
        counts, rejects = self._write_staged(resolved.retry, original)
        return BatchCounts(inserted + counts.inserted, counts.updated, counts.unchanged), rejects

    def write(self, prepared: Prepared, original: Callable[[int], dict[str, Any]]
              ) -> tuple[BatchCounts, list[Reject]]:
        """Stage and upsert a batch (or bind it directly, see :class:`_Lookup`); return
        counts and the rows whose references miss.

        ``original`` gives the input columns of a row number, so a reference miss is
        reported like any other bad row.
        """
        table = prepared.table
        staged = table.column_names
        self.dialect.begin_batch(self.connection)
        if self._sql is None:
            self._sql = self._build(staged)
        if (self._preloadable and self._lookups is None
                and table.num_rows >= PRELOAD_MIN_ROWS):
            refs = self._references(staged)
            self._lookups = [_Lookup(self.connection, ref, self.dialect.quote) for _, ref in refs]
        if self._lookups is not None and not isinstance(prepared.payload, _Resolved):
            prepared.payload = self._resolve(table, self._lookups)
        if isinstance(prepared.payload, _Resolved):
            if prepared.payload.copy is not None:
                return self._write_copy(prepared, prepared.payload, original)
            return self._write_resolved(prepared.payload, original)
        return self._write_staged(table, original, prepared.payload)

    def _write_staged(self, table: pa.Table, original: Callable[[int], dict[str, Any]],
                      payload: Any = None) -> tuple[BatchCounts, list[Reject]]:
        """Stage the batch, find reference misses and upsert with one join."""
        assert self._sql is not None
        json_columns = frozenset(f.name for f in self.spec.fields if f.type is FieldType.TAGS)
        if payload is None:
            payload = self.dialect.encode(table)
        self.dialect.stage(self.connection, self.stage_name, table.schema, payload, json_columns)
        rejects: list[Reject] = []
        if "misses" in self._sql:
            for row in self.connection.exec_driver_sql(self._sql["misses"]):
                ref = self._misses[[int(flag) for flag in row[1:]].index(1)]
                rejects.append(self._reject(int(row[0]), ref, original))
        staged_rows = table.num_rows - len(rejects)
        now = (self.dialect.now(self.connection),) * self._stamp_count
        if self.dialect.name == "postgresql":
            # Concurrent writers draw ids from the same sequence and commit in between,
            # so "ids above the previous maximum" would count their rows as ours. Each
            # upserted row says instead whether this statement created it: a tuple the
            # upsert updated carries the updating transaction in xmax, a new one has 0.
            upserted = self.connection.exec_driver_sql(
                f"{self._sql['upsert']} RETURNING ({self.dialect.quote(self.spec.table)}"
                ".xmax = 0)", now)
            created = [bool(row[0]) for row in upserted]
            inserted = sum(created)
            updated = len(created) - inserted
            return BatchCounts(inserted, updated, staged_rows - inserted - updated), rejects
        last_id = self.connection.exec_driver_sql(self._sql["last_id"]).scalar() or 0
        written = max(self.connection.exec_driver_sql(self._sql["upsert"], now).rowcount, 0)
        inserted = int(self.connection.exec_driver_sql(self._sql["inserted"],
                                                       (last_id,)).scalar_one())
        updated = max(written - inserted, 0)
        return BatchCounts(inserted, updated, staged_rows - inserted - updated), rejects


    def _write_resolved(self, resolved: _Resolved, original: Callable[[int], dict[str, Any]]
                        ) -> tuple[BatchCounts, list[Reject]]:
        """Upsert pre-resolved rows straight into the table (SQLite): no staging, no join."""
        assert self._sql is not None
        rejects = [self._reject(row, ref, original) for row, ref in resolved.misses]
        if not resolved.rows:
            return BatchCounts(), rejects
        last_id = self.connection.exec_driver_sql(self._sql["last_id"]).scalar() or 0
        append = self._sql["append"].replace("{now}",
                                             f"'{self.dialect.now(self.connection)}'")
        written, appended = _append_or_upsert(self.connection, append,
                                              f"{append} {self._sql['on_conflict']}",
                                              resolved.rows)
        # A plain INSERT that went through inserted every row; no need to count them.
        inserted = written if appended else int(self.connection.exec_driver_sql(
            self._sql["inserted"], (last_id,)).scalar_one())
        updated = max(written - inserted, 0)
        return BatchCounts(inserted, updated, len(resolved.rows) - inserted - updated), rejects

    def _reject(self, row: int, ref: Reference, original: Callable[[int], dict[str, Any]]
                ) -> Reject:
        columns = original(row)
        source_column = self.plan.sources.get(ref.trigger, ref.trigger)
        return Reject(row, ref.trigger, columns.get(source_column), ref.reason, columns)
