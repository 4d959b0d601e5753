"""The landing port: the one place that knows how each store takes bulk work.

Imports, the metrics block and the relationship tables write millions of rows; the ORM's
per-row work would dominate, so they come here with Arrow tables (or pandas frames) and
a SQLAlchemy :class:`~sqlalchemy.Table`, never SQL text:

- :func:`append` adds rows, :func:`upsert` inserts or updates on a unique key,
  :func:`insert_new` inserts the rows whose unique key is not stored yet,
  :func:`update_by_id` / :func:`delete_by_id` change rows by primary key,
  :func:`replace_block` swaps every row matching some column values atomically,
  :func:`select_to_arrow` reads a ``select`` into Arrow (:func:`select_integers` one
  of integer columns, unordered), :func:`staged` lands rows
  where the caller's own statements can join them with stored ones, and
  :func:`unstored` says which rows' unique key is not stored yet;
- :func:`stage_ahead` starts landing the columns of a coming block that are already
  known, so :func:`replace_block` only has to stage the columns computed since;
- :class:`Plan` queues appends, inserts of new keys and updates so that large ones are
  staged while the caller computes its next step, then applies them in order.

Values are typed once from the column types (:mod:`.columns`); the statements are built
by SQLAlchemy from the tables and run on each store's fast path: ``executemany`` or an
attached ADBC stage on SQLite (:mod:`.sqlite`), ``COPY`` on PostgreSQL
(:mod:`.postgresql`). Callers never branch on the dialect.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    FromClause,
    MetaData,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.types import TypeEngine

from kithkin.database import adbc
from kithkin.database.bulk import packed, postgresql, sqlite
from kithkin.database.bulk.columns import (
    UTC_TIMESTAMP,
    arrow_schema,
    arrow_type,
    arrow_type_of,
    conform,
    decoded,
    from_rows,
)
from kithkin.errors import ValidationError

__all__ = [
    "UTC_TIMESTAMP",
    "Ahead",
    "Plan",
    "allocate_ids",
    "append",
    "arrow_schema",
    "arrow_type",
    "checkpoint",
    "conform",
    "defer_checkpoint",
    "deferred_indexes",
    "delete_by_id",
    "driver_value",
    "import_settings",
    "insert_new",
    "prepare_batch",
    "replace_block",
    "select_integers",
    "select_to_arrow",
    "selects_to_arrow",
    "stage_ahead",
    "staged",
    "unstored",
    "update_by_id",
    "upsert",
]

Rows: TypeAlias = pa.Table | pd.DataFrame
_stage_names = itertools.count()
DELETE_CHUNK = 5_000
"""Ids per DELETE (below SQLite's limit of bound variables)."""


def _binds(table: Table, names: Sequence[str]) -> dict[str, Any]:
    # bind names differ from column names: SQLAlchemy reserves those for its own binds
    return {name: bindparam(f"b_{name}", type_=table.c[name].type) for name in names}


def _bound(rows: pa.Table) -> pa.Table:
    return rows.rename_columns([f"b_{name}" for name in rows.column_names])


def _key_columns(table: Table, key: Sequence[str]) -> list[Column[Any]]:
    missing = [name for name in key if name not in table.c]
    if missing:
        raise ValidationError(f"{table.name}: no key column {', '.join(missing)}")
    return [table.c[name] for name in key]


def table_of(model: type[Any]) -> Table:
    """The :class:`~sqlalchemy.Table` of a mapped class (typed: ``__table__`` is not)."""
    table = model.__table__
    assert isinstance(table, Table), f"{model.__name__} is mapped to a table"
    return table


def _primary_key(table: Table) -> Column[Any]:
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        raise ValidationError(f"{table.name}: bulk updates need a one-column primary key")
    return columns[0]


def _staged(conn: Connection, table: Table, rows: pa.Table, *, rowid: bool = False
            ) -> Table | None:
    """``rows`` staged through ADBC and attached (SQLite file, enough rows), or None;
    ``rowid``: with SQLite's row numbers (the rows' order, from 1)."""
    if conn.dialect.name != "sqlite" or rows.num_rows < adbc.MIN_ROWS:
        return None
    pending = sqlite.start(conn, {"rows": rows})
    schema = None if pending is None else sqlite.attach(conn, pending)
    return None if schema is None else sqlite.staged_table(schema, "rows", table,
                                                           rows.column_names, rowid=rowid)


POSITION = "kithkin_position"
"""The column :func:`staged` adds when asked to number the rows (0, 1, ...)."""


@contextmanager
def staged(conn: Connection, like: Table, rows: Rows, *, numbered: bool = False
           ) -> Iterator[Table]:
    """``rows`` (columns of ``like``) landed where the caller's statements read them,
    as a :class:`~sqlalchemy.Table` with ``like``'s column types: compare or join them
    with stored rows in the store (one statement, no stored row brought into Python).
    ``numbered`` adds :data:`POSITION`, each row's position in ``rows``.

    An attached ADBC stage on a SQLite file with enough rows, else a TEMP table (SQLite:
    ``executemany``; PostgreSQL: ``COPY``). Nothing is written to the store's own
    tables, so a read-only caller (a dry run) may use it. A TEMP table is dropped on
    leaving; an attached stage when the connection goes back to the pool.
    """
    data = conform(like, rows, defaults=False)
    shape = Table(f"kithkin_shape_{next(_stage_names)}", MetaData(),
                  *(Column(name, like.c[name].type) for name in data.column_names))
    if numbered:
        data = data.append_column(POSITION, pa.array(range(data.num_rows), pa.int64()))
        shape.append_column(Column(POSITION, BigInteger()))
    if conn.dialect.name == "postgresql":
        with postgresql.temp_copy(conn, shape, data) as temp:
            yield temp
        return
    stage = _staged(conn, shape, data)
    if stage is not None:
        yield stage
        return
    temp = Table(f"kithkin_stage_{next(_stage_names)}", MetaData(),
                 *(Column(c.name, c.type) for c in shape.columns), prefixes=["TEMPORARY"])
    temp.create(conn)
    try:
        if data.num_rows:
            sqlite.executemany(conn, insert(temp).values(_binds(temp, data.column_names)),
                               _bound(data))
        yield temp
    finally:
        temp.drop(conn)


def unstored(conn: Connection, table: Table, rows: Rows, *, key: Sequence[str]
             ) -> npt.NDArray[np.int64]:
    """The positions (ascending) of the ``rows`` whose ``key`` (a unique constraint of
    ``table``) is not stored yet: only the key columns are staged, and the store joins
    them with its unique index (the stored keys never come into Python)."""
    columns = _key_columns(table, key)
    data = conform(table, rows, defaults=False)
    if data.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    with staged(conn, table, data.select(list(key)), numbered=True) as stage:
        query = select(stage.c[POSITION]).where(~exists().where(
            and_(*(column == stage.c[column.name] for column in columns)))).order_by(
            stage.c[POSITION])
        result = conn.execute(query)
        try:
            found = [row[0] for row in result.cursor.fetchall()] \
                if result.cursor is not None else []
        finally:
            result.close()
    return np.asarray(found, dtype=np.int64)


@contextmanager
def _atomic(conn: Connection) -> Iterator[None]:
    """A savepoint: a failure inside rolls back to it and leaves the rest of the
    caller's transaction as it was."""
    if conn.dialect.name == "sqlite":
        sqlite.ensure_transaction(conn)
    with conn.begin_nested():
        yield


def prepare_batch(conn: Connection) -> None:
    """Per-transaction settings for a bulk batch (PostgreSQL plans each statement for
    its parameters: see :func:`.postgresql.set_custom_plans`)."""
    if conn.dialect.name == "postgresql":
        postgresql.set_custom_plans(conn)


@contextmanager
def import_settings(conn: Connection, cache_kib: int = sqlite.BULK_CACHE_KIB
                    ) -> Iterator[None]:
    """Connection settings for a long import: a larger SQLite page cache (new rows land
    at random places in secondary indexes; once they outgrow the default cache every
    insert reads a page back). It only grows as pages are used, and the pooled
    connection gets its own size back afterwards. Nothing to change on PostgreSQL."""
    with sqlite.page_cache(conn, cache_kib) if conn.dialect.name == "sqlite" \
            else nullcontext():
        yield


@contextmanager
def deferred_indexes(conn: Connection, table: Table) -> Iterator[None]:
    """Drop ``table``'s secondary (non-unique) indexes, then build them again.

    For a write that fills most of a table: one sorted build per index after the rows
    are in costs a fraction of keeping every index in order row by row (a first metrics
    block of a million customers keeps five). In the caller's transaction, so a failure
    leaves the indexes as they were (SQLite and PostgreSQL both roll back DDL). Unique
    indexes stay: conflict handling needs them. SQLite's readers keep reading their
    snapshot meanwhile (WAL); PostgreSQL's would wait on the DROP's lock, so there the
    indexes are deferred only while the table is empty."""
    deferred = [index for index in table.indexes if not index.unique]
    if conn.dialect.name == "sqlite":
        sqlite.ensure_transaction(conn)  # the driver would run a lone DROP outside one
    elif conn.execute(
            select(true()).select_from(table).limit(1)).first() is not None:
        deferred = []
    for index in deferred:
        index.drop(conn)
    yield
    with sqlite.index_builds(conn) if conn.dialect.name == "sqlite" else nullcontext():
        for index in deferred:
            index.create(conn)


def defer_checkpoint(conn: Connection) -> None:
    """Let this connection's commits leave the write-ahead log for a later
    :func:`checkpoint` (until the connection goes back to the pool): a bulk write's
    commit then returns as soon as its rows are durable, instead of first copying them
    into the database file (SQLite; nothing to do on PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        sqlite.defer_checkpoint(conn)


def checkpoint(engine: Engine) -> None:
    """Copy what :func:`defer_checkpoint`'s commits left in the write-ahead log into the
    database file, without blocking readers or the next writer (SQLite's passive
    checkpoint; nothing to do on PostgreSQL or an in-memory store)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sqlite.checkpoint(conn)


def driver_value(conn: Connection, sql_type: TypeEngine[Any], value: Any) -> Any:
    """``value`` as the driver takes it for a column of ``sql_type`` (SQLAlchemy's own
    bind processing, e.g. a UTC datetime as SQLite text), for hand-bound statements."""
    processor = sql_type.bind_processor(conn.dialect)
    return processor(value) if processor is not None else value


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Reserve ``count`` primary keys so rows can be bulk-inserted with known ids.

    PostgreSQL draws them from the table's sequence (safe with concurrent writers);
    SQLite continues after the largest id (SQLite has a single writer).
    """
    pk = _primary_key(table)
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        drawn: list[int] = list(conn.execute(select(func.nextval(func.pg_get_serial_sequence(
            table.name, pk.name))).select_from(func.generate_series(1, int(count)))).scalars())
        return sorted(int(value) for value in drawn)
    last = int(conn.execute(select(func.coalesce(func.max(pk), 0))).scalar_one())
    return list(range(last + 1, last + 1 + count))


# --- writes ----------------------------------------------------------------------------


def _insert_from(conn: Connection, table: Table, source: FromClause,
                 names: Sequence[str]) -> int:
    return _insert_values(conn, table, {n: source.c[n] for n in names})


def _insert_values(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """INSERT ... SELECT of one expression per column (of a staged source)."""
    with sqlite.page_cache(conn) if conn.dialect.name == "sqlite" else nullcontext():
        done = conn.execute(insert(table).from_select(list(values), select(*(
            value.label(name) for name, value in values.items()))))
    return int(max(done.rowcount, 0))


def append(conn: Connection, table: Table, rows: Rows) -> int:
    """Insert ``rows`` (columns named like ``table``'s); the rows inserted."""
    data = conform(table, rows)
    if data.num_rows == 0:
        return 0
    if conn.dialect.name == "postgresql":
        return postgresql.copy(conn, table, data)
    staged = _staged(conn, table, data)
    if staged is not None:
        return _insert_from(conn, table, staged, data.column_names)
    if conn.dialect.name == "sqlite":
        statement = insert(table).values(_binds(table, data.column_names))
        return sqlite.executemany(conn, statement, _bound(data))
    conn.execute(insert(table), data.to_pylist())  # pragma: no cover - other stores
    return int(data.num_rows)  # pragma: no cover


def _conflict_insert(conn: Connection, table: Table, names: Sequence[str],
                     source: FromClause | None,
                     values: Mapping[str, Any] | None = None) -> Any:
    """An INSERT of ``names`` (bound per row, or selected from ``source``, or the
    ``values`` expressions) that takes an ON CONFLICT clause on either store."""
    module: Any = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
    statement = module.insert(table)
    if values is None and source is None:
        return statement.values(_binds(table, names))
    if values is None:
        assert source is not None
        values = {n: source.c[n] for n in names}
    # WHERE true: SQLite cannot otherwise tell the SELECT's end from ON CONFLICT
    return statement.from_select(
        list(names), select(*(values[n].label(n) for n in names)).where(true()))


def _upsert_statement(conn: Connection, table: Table, key: Sequence[str],
                      names: Sequence[str], source: FromClause | None) -> Any:
    others = [n for n in names if n not in key]
    if not others:
        return _insert_new_statement(conn, table, key, names, source)
    statement = _conflict_insert(conn, table, names, source)
    return statement.on_conflict_do_update(
        index_elements=_key_columns(table, key),
        set_={n: statement.excluded[n] for n in others})


def _insert_new_statement(conn: Connection, table: Table, key: Sequence[str],
                          names: Sequence[str], source: FromClause | None,
                          values: Mapping[str, Any] | None = None) -> Any:
    return _conflict_insert(conn, table, names, source, values).on_conflict_do_nothing(
        index_elements=_key_columns(table, key))


def insert_new(conn: Connection, table: Table, rows: Rows, *, key: Sequence[str]) -> int:
    """Insert the ``rows`` whose ``key`` (a unique constraint) is not stored yet; a row
    already stored, by this call or a concurrent one, is left as it is (ON CONFLICT DO
    NOTHING). Returns the rows inserted (one statement per path, so the count is exact).
    """
    data = conform(table, rows)
    _key_columns(table, key)
    if data.num_rows == 0:
        return 0
    names = data.column_names
    if conn.dialect.name == "postgresql":
        with postgresql.temp_copy(conn, table, data) as temp:
            # counted before the temp table's DROP runs on the connection
            inserted = conn.execute(
                _insert_new_statement(conn, table, key, names, temp),
                execution_options={"preserve_rowcount": True}).rowcount
        return int(max(inserted, 0))
    staged = _staged(conn, table, data)
    if staged is not None:
        with sqlite.page_cache(conn):
            done = conn.execute(_insert_new_statement(conn, table, key, names, staged))
        return int(max(done.rowcount, 0))
    return sqlite.executemany(conn, _insert_new_statement(conn, table, key, names, None),
                              _bound(data))


def upsert(conn: Connection, table: Table, rows: Rows, *, key: Sequence[str]) -> int:
    """Insert ``rows``, updating the other columns of rows whose ``key`` (a unique
    constraint of ``table``) is already stored. Running it twice changes nothing more.
    Returns the rows inserted or updated as the driver counts them."""
    data = conform(table, rows)
    _key_columns(table, key)
    if data.num_rows == 0:
        return 0
    names = data.column_names
    if conn.dialect.name == "postgresql":
        with postgresql.temp_copy(conn, table, data) as temp:
            done = conn.execute(_upsert_statement(conn, table, key, names, temp))
        return int(max(done.rowcount, 0))
    staged = _staged(conn, table, data)
    if staged is not None:
        with sqlite.page_cache(conn):
            done = conn.execute(_upsert_statement(conn, table, key, names, staged))
        return int(max(done.rowcount, 0))
    return sqlite.executemany(conn, _upsert_statement(conn, table, key, names, None),
                              _bound(data))


def _update_from(conn: Connection, table: Table, source: Table, names: Sequence[str]) -> int:
    return _update_values(conn, table, {n: source.c[n] for n in names})


def _update_values(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """UPDATE ... FROM a staged source: ``values`` (one expression per column) set on
    the row whose primary key is the ``values``' one."""
    pk = _primary_key(table)
    done = conn.execute(update(table).values(
        {n: value for n, value in values.items() if n != pk.name})
        .where(pk == values[pk.name]))
    return int(max(done.rowcount, 0))


def update_by_id(conn: Connection, table: Table, rows: Rows) -> int:
    """Set the columns of ``rows`` on the stored rows with the same primary key (a
    column of ``rows``); the rows updated. No other index moves unless one of its
    columns is set."""
    data = conform(table, rows, defaults=False)
    pk = _primary_key(table)
    if pk.name not in data.column_names:
        raise ValidationError(f"{table.name}: updates by id need the {pk.name!r} column")
    names = [n for n in data.column_names if n != pk.name]
    if data.num_rows == 0 or not names:
        return 0
    if conn.dialect.name == "postgresql":
        with postgresql.temp_copy(conn, table, data) as temp:
            return _update_from(conn, table, temp, data.column_names)
    staged = _staged(conn, table, data)
    if staged is not None:
        with sqlite.page_cache(conn):
            return _update_from(conn, table, staged, data.column_names)
    statement = (update(table).values(_binds(table, names))
                 .where(pk == bindparam(f"b_{pk.name}", type_=pk.type)))
    return sqlite.executemany(conn, statement, _bound(data))


def delete_by_id(conn: Connection, table: Table, ids: Sequence[int] | pa.Array | pd.Series
                 ) -> int:
    """Delete the rows with these primary keys; the rows deleted."""
    pk = _primary_key(table)
    values = [int(i) for i in (ids.to_pylist() if isinstance(ids, pa.Array) else ids)]
    deleted = 0
    for start in range(0, len(values), DELETE_CHUNK):
        done = conn.execute(delete(table).where(pk.in_(values[start:start + DELETE_CHUNK])))
        deleted += max(done.rowcount, 0)
    return deleted


@dataclass
class Ahead:
    """The first columns of a coming :func:`replace_block`, being staged (SQLite file:
    ADBC in a child process) while the caller computes the rest; see :func:`stage_ahead`.
    """

    table: Table
    rows: pa.Table
    pending: adbc.Pending | None
    used: bool = False

    def discard(self) -> None:
        """Stop the stage of rows that will not be joined (the caller failed, or the
        rows changed since)."""
        if self.pending is not None and not self.used:
            self.pending.cancel()
            self.pending.remove()
        self.used = True


def stage_ahead(engine: Engine, table: Table, rows: Rows, *,
                constants: Mapping[str, Any] | None = None) -> Ahead:
    """Start staging ``rows``, the columns of a block known before the others.

    A large block's stage is most of its write on SQLite; staged while the caller
    computes its last columns it costs the caller almost nothing. Hand the result to
    :func:`replace_block` with the complete rows (same order, these columns unchanged):
    only the columns added since are staged then, and the two stages are joined by row
    number. Elsewhere (PostgreSQL, a memory database, a small block) nothing starts and
    the write goes its usual way; so it does, correctly, when the rows differ."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite" or sqlite.database_file(conn) is None:
            return Ahead(table, pa.table({}), None)  # nothing to stage: not even typed
        data = conform(table, rows, constants=constants, defaults=False)
        pending = sqlite.start(conn, {"rows": data}) if data.num_rows >= adbc.MIN_ROWS \
            else None
    return Ahead(table, data, pending)


def _ahead_source(conn: Connection, ahead: Ahead, data: pa.Table) -> FromClause | None:
    """``data`` as one source: ``ahead``'s stage joined with a stage of the columns not
    in it; None when ``data`` does not extend ``ahead``'s rows as they were staged."""
    names = ahead.rows.column_names
    if ahead.pending is None or not set(names) <= set(data.column_names) \
            or not data.select(names).equals(ahead.rows):
        ahead.discard()
        return None
    ahead.used = True
    schema = sqlite.attach(conn, ahead.pending)
    if schema is None:
        return None
    first = sqlite.staged_table(schema, "rows", ahead.table, names, rowid=True)
    rest = [name for name in data.column_names if name not in names]
    if not rest:
        return first
    last = _staged(conn, ahead.table, data.select(rest), rowid=True)
    if last is None:
        return None
    return select(*(first.c[n] for n in names), *(last.c[n] for n in rest)).select_from(
        first.join(last, first.c.rowid == last.c.rowid)).subquery()


def replace_block(conn: Connection, table: Table, rows: Rows, *, where: Mapping[str, Any],
                  key: Sequence[str] | None = None, merge: bool = True,
                  ahead: Ahead | None = None) -> int:
    """Make ``rows`` the whole block of ``table`` whose columns equal ``where``.

    All or nothing: inside a savepoint, so a failure (a bad value, a broken constraint)
    leaves the block as it was. ``where``'s columns are added to rows lacking them.
    With ``key`` (a unique key including ``where``'s columns) a large block on a SQLite
    file is staged (``ahead``: partly staged already, see :func:`stage_ahead`); with
    ``merge`` it is merged: rows already in the block are updated in place (no index
    entry moves), new ones inserted, the others deleted. Without ``merge`` (the caller
    dropped the indexes, or the block is the table) the old block is deleted and the new
    one inserted, which is cheaper then. Returns the rows of the block.
    """
    present = rows.column_names if isinstance(rows, pa.Table) else list(rows.columns)
    missing = {name: value for name, value in where.items() if name not in present}
    data = conform(table, rows, constants=missing)
    block = and_(*(table.c[name] == value for name, value in where.items()))
    with _atomic(conn):
        staged: FromClause | None = None
        if ahead is not None:
            staged = _ahead_source(conn, ahead, data)
        if staged is None and key:
            staged = _staged(conn, table, data)
        if staged is not None and key and merge:
            rest = [name for name in key if name not in where]
            stored = tuple_(*(table.c[n] for n in rest)) if len(rest) > 1 else table.c[rest[0]]
            kept = select(*(staged.c[n] for n in rest))
            conn.execute(delete(table).where(block, stored.not_in(kept)))
            with sqlite.page_cache(conn):
                conn.execute(_upsert_statement(conn, table, key, data.column_names, staged))
        elif staged is not None:
            conn.execute(delete(table).where(block))
            _insert_from(conn, table, staged, data.column_names)
        else:
            conn.execute(delete(table).where(block))
            append(conn, table, data)
    return int(data.num_rows)


# --- reads -----------------------------------------------------------------------------


def _schema_of(query: Select[Any]) -> pa.Schema:
    fields = []
    for column in query.selected_columns:
        found = arrow_type_of(column.type)
        fields.append((column.name, found if found is not None else pa.string()))
    return pa.schema(fields)


_SENTINEL_KINDS = {pa.int64(): "int", pa.bool_(): "int", pa.float64(): "float"}


def _cast_read(array: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if array.type == target:
        return array
    if pa.types.is_timestamp(target) and pa.types.is_string(array.type):
        naive = pc.cast(array, pa.timestamp("us"))
        return pa.chunked_array([chunk.view(target) for chunk in naive.chunks], target)
    return array.cast(target)


def select_to_arrow(conn: Connection, query: Select[Any], *, expected_rows: int = 0
                    ) -> pa.Table:
    """The rows of ``query`` as Arrow, typed from its columns' SQL types.

    Rows come through the raw driver cursor (SQLAlchemy's row objects cost as much as
    the read on millions of rows). A large read (``expected_rows``) of a SQLite file
    outside a transaction is decoded in C by ADBC in a child process, which sees the
    committed data, so it is only used before the transaction has written.
    """
    return selects_to_arrow(conn, {"q": query}, expected_rows={"q": expected_rows})["q"]


def selects_to_arrow(conn: Connection, queries: Mapping[str, Select[Any]], *,
                     expected_rows: Mapping[str, int] | None = None) -> dict[str, pa.Table]:
    """Several :func:`select_to_arrow` reads; the large ones share one child process."""
    schemas = {name: _schema_of(query) for name, query in queries.items()}
    expected = expected_rows or {}
    big = [name for name in queries if expected.get(name, 0) >= adbc.MIN_ROWS]
    tables: dict[str, pa.Table] = {}
    database = sqlite.database_file(conn) if conn.dialect.name == "sqlite" else None
    if big and database is not None and not sqlite.raw_connection(conn).in_transaction:
        requests = {}
        for name in big:
            sql = str(queries[name].compile(dialect=conn.dialect,
                                            compile_kwargs={"literal_binds": True}))
            requests[name] = adbc.Query(sql, [_SENTINEL_KINDS.get(t, "str")
                                              for t in schemas[name].types])
        for name, read in adbc.read(database, requests).items():
            schema = schemas[name]
            tables[name] = pa.Table.from_arrays(
                [_cast_read(column, target) for column, target
                 in zip(read.columns, schema.types, strict=True)], schema=schema)
    for name, query in queries.items():
        if name in tables:
            continue
        result = conn.execute(query)
        try:
            rows = list(result.cursor.fetchall()) if result.cursor is not None else []
        finally:
            result.close()
        tables[name] = from_rows(rows, schemas[name])
    return {name: tables[name] for name in queries}


def select_integers(conn: Connection, query: Select[Any]) -> pa.Table:
    """The rows of ``query``, whose columns are all integers, as int64 Arrow columns in
    no particular order (a row's values stay together).

    For reading a large set of keys and codes: SQLite aggregates each column into one
    JSON array, parsed in C in this process (:mod:`.packed`: no child process, and it
    sees this transaction's own writes); elsewhere, or where SQLite lacks its JSON
    functions, it is :func:`select_to_arrow`."""
    names = [column.name for column in query.selected_columns]
    wrong = [column.name for column in query.selected_columns
             if arrow_type_of(column.type) != pa.int64()]
    if wrong:
        raise ValidationError(f"select_integers: not integer columns: {', '.join(wrong)}")
    if conn.dialect.name == "sqlite" and packed.available(sqlite.raw_connection(conn)):
        return packed.read(conn, query, names)
    return select_to_arrow(conn, query)


# --- queued writes -----------------------------------------------------------------------


@dataclass
class _Step:
    """One queued append, update by id or sync: conformed rows (small dictionaries kept
    encoded), the constants among their columns (one value for every row) and, for a
    sync, the key the rows are matched on."""

    kind: str  # append | insert_new | update | sync
    table: Table
    rows: pa.Table
    constants: dict[str, Any] = field(default_factory=dict)  # typed like the rows
    key: tuple[str, ...] = ()

    def plain(self) -> pa.Table:
        """The rows as a driver takes them: every value written out."""
        return decoded(self.rows)

    def staged(self) -> pa.Table:
        """What is landed: no constant columns, an encoded column as its codes."""
        return pa.Table.from_arrays(
            [column.chunk(0).indices if pa.types.is_dictionary(column.type) else column
             for name, column in zip(self.rows.column_names, self.rows.columns, strict=True)
             if name not in self.constants],
            names=[n for n in self.rows.column_names if n not in self.constants])

    def source(self, schema: str, name: str) -> dict[str, Any]:
        """Each column's value read from the stage ``schema.name``: a constant bound
        once, an encoded column looked up from its code."""
        landed = self.staged()
        return self.values(Table(name, MetaData(), *(
            Column(n, BigInteger() if pa.types.is_dictionary(self.rows.column(n).type)
                   else self.table.c[n].type) for n in landed.column_names), schema=schema))

    def values(self, stage: FromClause) -> dict[str, Any]:
        """Each column's value read from ``stage`` (the :meth:`staged` columns)."""
        values: dict[str, Any] = {}
        for n, column in zip(self.rows.column_names, self.rows.columns, strict=True):
            sql_type = self.table.c[n].type
            if n in self.constants:
                values[n] = literal(self.constants[n], sql_type)
            elif pa.types.is_dictionary(column.type):
                lookup = column.chunk(0).dictionary.to_pylist()
                values[n] = case({code: literal(value, sql_type)
                                  for code, value in enumerate(lookup)},
                                 value=stage.c[n], else_=null()) if lookup else null()
            else:
                values[n] = stage.c[n]
        return values


@dataclass
class Plan:
    """Appends, inserts of new keys and updates by id collected while a caller
    computes, applied by :meth:`apply` in the order given.

    :meth:`stage` starts staging the large steps queued so far (SQLite file: ADBC in a
    child process), so the caller's next steps are computed while it writes; elsewhere
    it does nothing. Keep the calls few: each is a file SQLite attaches. What is staged
    is kept small: ``constants`` (one value for every row) are not staged but bound
    once, and a dictionary-encoded column with few values (see :func:`conform`) is
    staged as its codes and looked up by the store (e.g. a text per stage of a model).
    """

    conn: Connection
    steps: list[_Step] = field(default_factory=list)
    pending: list[tuple[adbc.Pending, list[int]]] = field(default_factory=list)
    unstaged: int = 0  # steps before this one went through stage()
    packs: dict[int, packed.Packed | None] = field(default_factory=dict)  # by step

    def _queue(self, kind: str, table: Table, rows: Rows,
               constants: Mapping[str, Any] | None, key: Sequence[str] = ()) -> None:
        data = conform(table, rows, constants=constants, defaults=kind != "update",
                       encoded=True)
        typed = {name: pa.scalar(value).cast(arrow_type(table.c[name])).as_py()
                 for name, value in (constants or {}).items()}
        if kind == "sync" or (data.num_rows and (kind != "update" or data.num_columns > 1)):
            self.steps.append(_Step(kind, table, data, typed, tuple(key)))

    def append(self, table: Table, rows: Rows, *,
               constants: Mapping[str, Any] | None = None) -> None:
        self._queue("append", table, rows, constants)

    def insert_new(self, table: Table, rows: Rows, *, key: Sequence[str],
                   constants: Mapping[str, Any] | None = None) -> None:
        """As :func:`insert_new` (the rows whose ``key`` is not stored when applied)."""
        _key_columns(table, key)
        self._queue("insert_new", table, rows, constants, key)

    def update_by_id(self, table: Table, rows: Rows, *,
                     constants: Mapping[str, Any] | None = None) -> None:
        self._queue("update", table, rows, constants)

    def sync(self, table: Table, rows: Rows, *, key: Sequence[str],
             constants: Mapping[str, Any] | None = None) -> None:
        """Make ``rows`` the rows of ``table``, matched on ``key`` (a unique key): the
        rows whose key is not in ``rows`` are deleted, new ones inserted (in the order
        given), and a stored row is updated only when one of the columns of ``rows``
        differs (a missing value equals a missing one). ``constants`` are written with
        the inserted and updated rows but not compared: an unchanged row keeps its own.
        The store compares, so the stored rows never come into Python."""
        _key_columns(table, key)
        self._queue("sync", table, rows, constants, key)

    def stage(self) -> None:
        """Start staging the large steps queued since the last call; on SQLite an
        append or update of integer columns alone (keys and codes) is packed instead,
        to be bound to its statement (:mod:`.packed`: no child process, no file)."""
        numbers = [n for n in range(self.unstaged, len(self.steps))
                   if self.steps[n].rows.num_rows >= adbc.MIN_ROWS]
        self.unstaged = len(self.steps)
        if not numbers or self.conn.dialect.name != "sqlite":
            return
        if packed.available(sqlite.raw_connection(self.conn)):
            for n in [n for n in numbers if self.steps[n].kind in ("append", "update")]:
                self.packs[n] = packed.pack(self.steps[n].staged())
            numbers = [n for n in numbers if self.packs.get(n) is None]
            if not numbers:
                return
        pending = sqlite.start(self.conn, {f"w{n}": self.steps[n].staged() for n in numbers})
        if pending is not None:
            self.pending.append((pending, numbers))

    def discard(self) -> None:
        """Stop the staging children of a plan that will not be applied."""
        for pending, _ in self.pending:
            pending.cancel()
        self.pending.clear()
        self.packs.clear()

    def apply(self) -> None:
        self.stage()
        located: dict[int, dict[str, Any]] = {}
        while self.pending:
            pending, numbers = self.pending.pop(0)
            try:
                schema = sqlite.attach(self.conn, pending)
            except BaseException:
                self.discard()
                raise
            if schema is not None:
                located.update((n, self.steps[n].source(schema, f"w{n}")) for n in numbers)
        with sqlite.page_cache(self.conn) if located or self.packs else nullcontext():
            for n, step in enumerate(self.steps):
                values = located.get(n)
                rows = self.packs.get(n)
                if rows is not None:
                    for source in rows.sources():
                        (_insert_values if step.kind == "append" else _update_values)(
                            self.conn, step.table, step.values(source))
                elif step.kind == "sync":
                    _sync(self.conn, step, values)
                elif values is not None and step.kind == "append":
                    _insert_values(self.conn, step.table, values)
                elif values is not None and step.kind == "insert_new":
                    self.conn.execute(_insert_new_statement(
                        self.conn, step.table, step.key, list(values), None, values))
                elif values is not None:
                    _update_values(self.conn, step.table, values)
                elif step.kind == "append":
                    append(self.conn, step.table, step.plain())
                elif step.kind == "insert_new":
                    insert_new(self.conn, step.table, step.plain(), key=step.key)
                else:
                    update_by_id(self.conn, step.table, step.plain())
        self.steps.clear()
        self.packs.clear()
        self.unstaged = 0


def _sync(conn: Connection, step: _Step, values: Mapping[str, Any] | None) -> None:
    """:meth:`Plan.sync` from a stage's ``values``, or from the rows landed now."""
    table = step.table
    if values is None:
        with staged(conn, table, step.plain()) as landed:
            _sync(conn, step, {n: landed.c[n] for n in step.rows.column_names})
        return
    if conn.execute(select(true()).select_from(table).limit(1)).first() is None:
        _insert_values(conn, table, values)  # nothing to match: a first write
        return
    keys = _key_columns(table, step.key)
    stored = tuple_(*keys) if len(keys) > 1 else keys[0]
    # the gone rows first: a new row then gets the id it would get after a delete
    conn.execute(delete(table).where(stored.not_in(select(*(values[k] for k in step.key)))))
    statement = _conflict_insert(conn, table, list(values), None, values)
    compared = [n for n in values if n not in step.key and n not in step.constants]
    if not compared:
        conn.execute(statement.on_conflict_do_nothing(index_elements=keys))
        return
    # one pass: new keys inserted, a stored row updated only where a value differs
    conn.execute(statement.on_conflict_do_update(
        index_elements=keys,
        set_={n: statement.excluded[n] for n in values if n not in step.key},
        where=or_(*(table.c[n].is_distinct_from(statement.excluded[n]) for n in compared))))
