"""Incremental columnar snapshot of the operational store, as Parquet.

The analytical engines (DuckDB in process, Spark) read Parquet far faster than they could
query the row store, so each store table used by analytics is copied to
``settings.snapshot_dir/<name>/part-NNNNN.parquet``. Only the columns analytics needs are
copied, with one fixed Arrow type per column, so every engine sees the same schema.

Incremental rule, per table: the manifest remembers the largest id copied and a cheap
*fingerprint* of the rows of each part's id range (count plus a few sums, or
``max(updated_at)`` for tables that carry it). On the next run the fingerprints are
recomputed over the same ranges; if they are unchanged only rows with a larger id are
appended as a new part (and only its range is fingerprinted), otherwise (rows updated,
deleted or re-pointed by a merge) the table is rebuilt from scratch. A fingerprint is an
aggregate query per range, far cheaper than re-reading the rows; kept per range, a run
that appends scans the stored rows once, not once more after the append.

Rows are read with the DB-API cursor's ``fetchmany`` straight into Arrow arrays (SQLite:
the stdlib ``sqlite3`` module, ISO datetime strings cast by Arrow in C; PostgreSQL:
psycopg). Large SQLite copies (``ADBC_MIN_ROWS``) use ADBC, which decodes rows to Arrow in
C (faster on large tables; figures in benchmarks/results/code_figures.md), in child
processes, one per core and id range (see :func:`_adbc_copy_in_children` for why).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from kithkin.errors import KithkinError

if TYPE_CHECKING:  # the child process starts faster without SQLAlchemy
    from sqlalchemy import Engine

FETCH_ROWS = 250_000
# Below this many new rows a child process costs more than the faster ADBC read saves.
ADBC_MIN_ROWS = 200_000
# ADBC children copying one table at once (each range at least ADBC_MIN_ROWS ids)
MAX_CHILDREN = 4
MANIFEST = "_manifest.json"

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class TableSpec:
    """How one store table is copied: columns (with Arrow types) and its fingerprint."""

    name: str
    table: str
    columns: tuple[tuple[str, pa.DataType], ...]
    fingerprint: str
    # JSON columns, copied as their JSON text (PostgreSQL drivers would decode them)
    json_columns: tuple[str, ...] = ()
    # Columns computed by the store's SQL while copying: name -> dialect -> expression
    derived: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(list(self.columns))


I64, F64, STR = pa.int64(), pa.float64(), pa.string()

# Customer attribute keys the relationship engine reads (docs/relationships.md).
ATTRIBUTE_KEYS = ("preferences", "account_manager", "price_lock", "integrations",
                  "shared_processes", "customized_orders")


def _attribute_sql(key: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """One attribute decoded by the store's own JSON functions, in two columns:
    ``attr_KEY_text`` (the value when it is a JSON string, split on the engine) and
    ``attr_KEY_size`` (a number's value, 1/0 for true/false, the length of a list or
    object). The engine's JSON support differs too much between DuckDB, PostgreSQL and
    Spark (and ibis' PostgreSQL JSON unwrapping does not compile with sqlglot 30), so the
    typed values are taken where the JSON is stored and everything else is computed on
    the engine (:func:`kithkin.analytics.relationship_features.attribute_inputs`)."""
    path = f"'$.{key}'"
    lite = {
        "text": f"CASE WHEN json_type(attributes, {path}) = 'text' "
                f"THEN json_extract(attributes, {path}) END",
        "size": f"CASE json_type(attributes, {path}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 "
                f"WHEN 'integer' THEN json_extract(attributes, {path}) "
                f"WHEN 'real' THEN json_extract(attributes, {path}) "
                f"WHEN 'array' THEN json_array_length(attributes, {path}) "
                f"WHEN 'object' THEN (SELECT count(*) FROM json_each(attributes, {path})) END",
    }
    value = f"(CAST(attributes AS JSONB) -> '{key}')"
    postgres = {
        "text": f"CASE WHEN jsonb_typeof({value}) = 'string' THEN {value} #>> '{{}}' END",
        "size": f"CASE jsonb_typeof({value}) "
                f"WHEN 'boolean' THEN CASE WHEN {value} = 'true'::jsonb THEN 1 ELSE 0 END "
                f"WHEN 'number' THEN CAST({value} #>> '{{}}' AS DOUBLE PRECISION) "
                f"WHEN 'array' THEN jsonb_array_length({value}) "
                f"WHEN 'object' THEN (SELECT count(*) FROM jsonb_object_keys({value})) END",
    }
    return tuple((f"attr_{key}_{part}", (("sqlite", lite[part]), ("postgresql", postgres[part])))
                 for part in ("text", "size"))


# The first-class preferences (kithkin.preferences): how many items the customer's
# record holds, NULL when nobody has edited them (then the imported attribute counts).
# Saving preferences moves the customer's updated_at, so the fingerprint sees the edit.
_PREFERENCE_ITEMS = ('(SELECT p.item_count FROM customer_preference p '
                     'WHERE p.customer_id = "customer".id)')

ATTRIBUTE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple(
    (f"attr_{key}_{part}", STR if part == "text" else F64)
    for key in ATTRIBUTE_KEYS for part in ("text", "size"))

SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "customers", "customer",
        (("id", I64), ("acquired_at", UTC_TIMESTAMP), ("merged_into_id", I64),
         ("erased_at", UTC_TIMESTAMP), ("account_manager_id", I64),
         ("has_attributes", I64), *ATTRIBUTE_COLUMNS, ("preference_items", I64)),
        "count(*), max(updated_at)",
        derived=(
            ("has_attributes", (("sqlite", "attributes IS NOT NULL"),
                                ("postgresql", "CAST(attributes IS NOT NULL AS INTEGER)"))),
            ("preference_items", (("sqlite", _PREFERENCE_ITEMS),
                                  ("postgresql", _PREFERENCE_ITEMS))),
            *(column for key in ATTRIBUTE_KEYS for column in _attribute_sql(key)),
        ),
    ),
    TableSpec(
        "transactions", "transaction",
        (("id", I64), ("customer_id", I64), ("ordered_at", UTC_TIMESTAMP), ("amount", F64),
         ("cost", F64), ("discount", F64), ("channel", STR)),
        "count(*), sum(customer_id), sum(amount), sum(cost), sum(discount), max(ordered_at)",
    ),
    TableSpec(
        "lines", "transaction_line",
        (("id", I64), ("transaction_id", I64), ("product_id", I64), ("sku", STR),
         ("quantity", F64), ("unit_price", F64), ("discount", F64), ("unit_cost", F64),
         ("bundle", STR)),
        "count(*), sum(transaction_id), sum(product_id), sum(quantity), sum(unit_price), "
        "sum(discount), sum(unit_cost), count(bundle)",
    ),
    TableSpec(
        "products", "product",
        (("id", I64), ("sku", STR), ("category", STR), ("unit_cost", F64),
         ("discontinued_at", UTC_TIMESTAMP)),
        "count(*), max(updated_at)",
    ),
    TableSpec(
        "interactions", "interaction",
        (("id", I64), ("customer_id", I64), ("occurred_at", UTC_TIMESTAMP), ("direction", STR),
         ("kind", STR), ("score", F64), ("score_scale", STR), ("status", STR),
         ("resolved_at", UTC_TIMESTAMP), ("tags", STR)),
        "count(*), sum(customer_id), count(resolved_at), max(resolved_at), sum(score), "
        "max(status), min(status), count(tags)",
        json_columns=("tags",),
    ),
    TableSpec(
        "memberships", "membership",
        (("id", I64), ("customer_id", I64), ("kind", STR), ("tier", STR),
         ("started_at", UTC_TIMESTAMP), ("ended_at", UTC_TIMESTAMP)),
        "count(*), max(updated_at)",
    ),
)


@dataclass(frozen=True)
class TableRefresh:
    """What one snapshot run did to one table."""

    name: str
    mode: str  # "rebuilt", "appended", "unchanged"
    rows_copied: int
    total_rows: int


def select_sql(spec: TableSpec, dialect: str) -> str:
    """Columns cast so every driver hands back plain Python floats (never Decimal) and
    JSON as text; derived columns computed by ``dialect``'s SQL (``sqlite`` or
    ``postgresql``)."""
    derived = {name: dict(by_dialect) for name, by_dialect in spec.derived}
    parts = []
    for column, dtype in spec.columns:
        quoted = f'"{column}"'
        if column in derived:
            expression = derived[column][dialect]
            quoted = (f"CAST({expression} AS DOUBLE PRECISION) AS {quoted}" if dtype == F64
                      else f"{expression} AS {quoted}")
        elif dtype == F64:
            quoted = f"CAST({quoted} AS DOUBLE PRECISION)"
        elif column in spec.json_columns:
            quoted = f"CAST({quoted} AS TEXT)"
        parts.append(quoted)
    return f'SELECT {", ".join(parts)} FROM "{spec.table}"'


def _to_array(array: pa.Array, dtype: pa.DataType) -> pa.Array:
    if dtype == UTC_TIMESTAMP and pa.types.is_string(array.type):
        # SQLite keeps UTC datetimes as ISO text: parse in Arrow, then tag as UTC.
        return array.cast(pa.timestamp("us")).cast(UTC_TIMESTAMP)
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), dtype)
    return array.cast(dtype)


def _range(after_id: int, upto: int | None) -> str:
    bound = "" if upto is None else f" AND id <= {int(upto)}"
    return f"WHERE id > {int(after_id)}{bound} ORDER BY id"


def _dbapi_batches(connection: Any, spec: TableSpec, after_id: int,
                   upto: int | None = None, dialect: str = "sqlite") -> Iterator[pa.RecordBatch]:
    """Any DB-API driver: ``fetchmany`` rows, transposed into Arrow arrays."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"{select_sql(spec, dialect)} {_range(after_id, upto)}")
        while rows := cursor.fetchmany(FETCH_ROWS):
            columns = list(zip(*rows, strict=True))
            arrays = [_to_array(pa.array(col, None if dtype == UTC_TIMESTAMP else dtype), dtype)
                      for col, (_, dtype) in zip(columns, spec.columns, strict=True)]
            yield pa.RecordBatch.from_arrays(arrays, schema=spec.schema)
    finally:
        cursor.close()


def _adbc_batches(database: str, spec: TableSpec, after_id: int,
                  upto: int | None = None) -> Iterator[pa.RecordBatch]:
    """SQLite through ADBC: rows arrive as Arrow batches, decoded in C.

    The driver infers each column's type from the first batch, so a typed sentinel row
    (dropped again) goes first: a column that starts with NULLs still gets its type.
    """
    import adbc_driver_sqlite.dbapi as adbc

    sentinel = {I64: "0", F64: "0.0", STR: "''", UTC_TIMESTAMP: "''"}
    first = ", ".join(f'{sentinel[dtype]} AS "{column}"' for column, dtype in spec.columns)
    sql = (f"SELECT {first} UNION ALL SELECT * FROM ("
           f"{select_sql(spec, 'sqlite')} {_range(after_id, upto)})")
    with adbc.connect(database) as conn, conn.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(FETCH_ROWS)})
        cursor.execute(sql)
        skip = 1
        for batch in cursor.fetch_record_batch():
            batch, skip = batch.slice(skip), 0
            arrays = [_to_array(batch.column(i), dtype)
                      for i, (_, dtype) in enumerate(spec.columns)]
            yield pa.RecordBatch.from_arrays(arrays, schema=spec.schema)


def _adbc_database(engine: Engine) -> str | None:
    """The SQLite file to read with ADBC, when the driver is installed."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return None
    return engine.url.database


def _adbc_copy_in_children(database: str, spec: TableSpec,
                           parts: list[tuple[int, int | None, Path]],
                           meanwhile: Callable[[], Any] | None = None) -> list[int]:
    """Copy each ``(after_id, upto, path)`` range in a child process of its own, all at
    once (decoding rows is most of a copy's CPU time, and one child keeps one core busy);
    ``meanwhile`` runs in this process, e.g. the fingerprint scans, which then cost no
    wall time. Returns the rows copied per range.

    ADBC links its own SQLite library. Two SQLite libraries in one process do not see
    each other's POSIX locks, which gives stale reads (and risks corruption) while the
    parent's sqlite3 connections are open (sqlite.org/howtocorrupt.html, 2.2.1). A child
    process keeps the locking sound.
    """
    children = [subprocess.Popen(
        [sys.executable, "-m", "kithkin.analytics.snapshot", database, spec.name,
         str(after_id), str(path), "" if upto is None else str(upto)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for after_id, upto, path in parts]
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        outputs = [child.communicate() for child in children]
    failed = [err.strip()[-2000:] for child, (_, err) in zip(children, outputs, strict=True)
              if child.returncode != 0]
    if failed:
        raise KithkinError(f"snapshot of {spec.table} failed: {failed[0]}")
    return [int(json.loads(out)[0]) for out, _ in outputs]


def _fingerprint(connection: Any, spec: TableSpec, after_id: int, max_id: int) -> list[Any]:
    """The fingerprint of the rows with ``after_id < id <= max_id``."""
    cursor = connection.cursor()
    try:
        cursor.execute(f'SELECT {spec.fingerprint} FROM "{spec.table}" '
                       f'WHERE id > {int(after_id)} AND id <= {int(max_id)}')
        row = cursor.fetchone()
    finally:
        cursor.close()
    values: list[Any] = json.loads(json.dumps(list(row), default=str))
    return values


def _write_part(batches: Iterator[pa.RecordBatch], spec: TableSpec, path: Path,
                after_id: int) -> tuple[int, int]:
    rows, max_id = 0, after_id
    with pq.ParquetWriter(path, spec.schema, compression="zstd") as writer:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            writer.write_batch(batch)
            rows += batch.num_rows
            max_id = int(batch.column(0)[-1].as_py())
    return rows, max_id


def _max_id(connection: Any, spec: TableSpec) -> int:
    cursor = connection.cursor()
    try:
        cursor.execute(f'SELECT max(id) FROM "{spec.table}"')
        return int(cursor.fetchone()[0] or 0)
    finally:
        cursor.close()


@dataclass(frozen=True)
class _Part:
    """One part file written by a copy: the id range it covers and its fingerprint."""

    after_id: int
    upto: int
    rows: int
    fingerprint: list[Any] | None  # None: not computed during the copy


def _splits(after_id: int, upto: int) -> list[tuple[int, int]]:
    """The id range cut in one range per core the copy can use (ADBC children)."""
    count = max(1, min(os.cpu_count() or 1, MAX_CHILDREN,
                       (upto - after_id) // max(ADBC_MIN_ROWS, 1)))
    bounds = [after_id + (upto - after_id) * i // count for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


def _copy(engine: Engine, connection: Any, spec: TableSpec, folder: Path, part: int,
          after_id: int) -> list[_Part]:
    """Copy rows with id > after_id into new parts numbered from ``part`` (an empty first
    part is kept: it gives the engines the table's columns); returns the parts written,
    none when nothing is new."""
    upto = _max_id(connection, spec)
    if upto - after_id <= 0 and part > 0:
        return []
    database = _adbc_database(engine)
    if database is not None and upto - after_id >= ADBC_MIN_ROWS:
        ranges = _splits(after_id, upto)
        paths = [folder / f"part-{part + i:05d}.parquet" for i in range(len(ranges))]
        fingerprints: list[list[Any]] = []

        def scan() -> None:
            fingerprints.extend(_fingerprint(connection, spec, lo, hi) for lo, hi in ranges)

        counts = _adbc_copy_in_children(
            database, spec, [(lo, hi, path) for (lo, hi), path in zip(ranges, paths,
                                                                       strict=True)], scan)
        written = [_Part(lo, hi, rows, fingerprint) for (lo, hi), rows, fingerprint
                   in zip(ranges, counts, fingerprints, strict=True)]
    else:
        paths = [folder / f"part-{part:05d}.parquet"]
        rows, max_id = _write_part(
            _dbapi_batches(connection, spec, after_id, upto, engine.dialect.name), spec,
            paths[0], after_id)
        written = [_Part(after_id, max_id, rows, None)]
    if not any(p.rows for p in written):
        for path in paths[1 if part == 0 else 0:]:
            path.unlink()
        return written[:1] if part == 0 else []
    return written


def refresh_table(*, engine: Engine, spec: TableSpec, directory: Path) -> TableRefresh:
    """Bring one table's snapshot up to date (append or rebuild), see the module docstring."""
    folder = directory / spec.name
    manifest_path = folder / MANIFEST
    manifest: dict[str, Any] | None = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    )
    raw = engine.raw_connection()
    try:
        if manifest is not None and _unchanged(engine, raw, spec, manifest):
            parts = _copy(engine, raw, spec, folder, manifest["parts"], manifest["max_id"])
        else:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            manifest = {"columns": [c for c, _ in spec.columns], "parts": 0, "max_id": 0,
                        "rows": 0, "ranges": []}
            parts = _copy(engine, raw, spec, folder, 0, 0)
        rebuilt = manifest["parts"] == 0
        for written in parts:
            manifest["ranges"].append([written.after_id, written.upto, written.fingerprint
                                       or _fingerprint(raw, spec, written.after_id,
                                                       written.upto)])
        rows = sum(written.rows for written in parts)
        manifest.update(parts=manifest["parts"] + len(parts),
                        max_id=parts[-1].upto if parts else manifest["max_id"],
                        rows=manifest["rows"] + rows)
        manifest_path.write_text(json.dumps(manifest))
        mode = "rebuilt" if rebuilt else "appended" if rows else "unchanged"
        return TableRefresh(spec.name, mode, rows, manifest["rows"])
    finally:
        raw.close()


def _unchanged(engine: Engine, connection: Any, spec: TableSpec,
               manifest: dict[str, Any]) -> bool:
    """Whether the copied rows are as they were copied: same columns, and every part's
    id range has the fingerprint it had (a manifest of an older layout: rebuilt). The
    ranges of a large copy are scanned at once, one connection each (the drivers release
    the GIL while the store scans)."""
    ranges = manifest.get("ranges")
    if manifest.get("columns") != [c for c, _ in spec.columns] or not isinstance(ranges, list):
        return False
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    workers = 1 if in_memory else min(len(ranges), os.cpu_count() or 1)
    if workers == 1:  # (a memory database is one connection's own)
        return all(_fingerprint(connection, spec, after, upto) == fingerprint
                   for after, upto, fingerprint in ranges)
    # the ranges dealt out by id span, largest first, to the least loaded connection
    shares: list[list[list[Any]]] = [[] for _ in range(workers)]
    spans = [0] * workers
    for found in sorted(ranges, key=lambda found: found[0] - found[1]):
        least = spans.index(min(spans))
        shares[least].append(found)
        spans[least] += found[1] - found[0]

    def same(share: list[list[Any]]) -> bool:
        own = engine.raw_connection()
        try:
            return all(_fingerprint(own, spec, after, upto) == fingerprint
                       for after, upto, fingerprint in share)
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return all(pool.map(same, shares))


def refresh(*, engine: Engine, directory: Path) -> list[TableRefresh]:
    """Refresh every analytics table's snapshot; returns what happened per table.

    Two tables at a time: a large copy runs in a child process (ADBC) or in the driver,
    which release the GIL, so the other tables are copied meanwhile."""
    directory.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # the largest table first, so the others fit in beside it
        started = {spec.name: pool.submit(refresh_table, engine=engine, spec=spec,
                                          directory=directory)
                   for spec in sorted(SPECS, key=lambda spec: spec.name != "transactions")}
        return [started[spec.name].result() for spec in SPECS]


def parquet_glob(directory: Path, name: str) -> str:
    return str(directory / name / "*.parquet")


def main(argv: list[str]) -> None:
    """Child-process entry: DATABASE TABLE AFTER_ID PATH [UPTO] -> prints [rows, max_id]."""
    database, name, after_id, path, *rest = argv
    upto = int(rest[0]) if rest and rest[0] else None
    spec = next(spec for spec in SPECS if spec.name == name)
    batches = _adbc_batches(database, spec, int(after_id), upto)
    print(json.dumps(_write_part(batches, spec, Path(path), int(after_id))))


if __name__ == "__main__":
    main(sys.argv[1:])
