"""Writing and reading the per-customer metrics history.

A refresh writes a whole as-of block at once: :func:`replace_as_of` replaces the block in
one transaction, so readers see either the old or the new block, never a mix. Bulk paths
are native because a block is one row per customer, millions on a large store: a large
block on a SQLite file is staged through ADBC (:mod:`kithkin.metrics.staging`) and
upserted in C; otherwise sqlite3 ``executemany`` or PostgreSQL ``COPY`` after a delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from kithkin.database.base import UTCDateTime, utcnow
from kithkin.errors import NotFoundError
from kithkin.metrics import staging
from kithkin.metrics.catalog import CONTRACT_COLUMNS
from kithkin.metrics.models import CustomerMetric, MetricsRun

# Every stored column but the row id: the block's key, then the contract's metrics.
METRIC_COLUMNS: tuple[str, ...] = ("as_of", "customer_id", *CONTRACT_COLUMNS)
BATCH_ROWS = 100_000


def _sqlite_columns(block: pa.Table) -> list[list[Any]]:
    """Python values in SQLAlchemy's SQLite storage format (UTC text datetimes, ISO dates)."""
    columns = []
    for name in METRIC_COLUMNS:
        column = block.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us")).cast(pa.string())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.string())
        columns.append(column.to_pylist())
    return columns


def _insert_sqlite(session: Session, block: pa.Table) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    placeholders = ", ".join("?" for _ in METRIC_COLUMNS)
    names = ", ".join(f'"{name}"' for name in METRIC_COLUMNS)
    sql = f"INSERT INTO customer_metric ({names}) VALUES ({placeholders})"
    cursor = raw.cursor()
    try:
        for start in range(0, block.num_rows, BATCH_ROWS):
            columns = _sqlite_columns(block.slice(start, BATCH_ROWS))
            cursor.executemany(sql, zip(*columns, strict=True))
    finally:
        cursor.close()


def _insert_postgres(session: Session, block: pa.Table) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{name}"' for name in METRIC_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(
        f"COPY customer_metric ({names}) FROM STDIN"
    ) as copy:
        for start in range(0, block.num_rows, BATCH_ROWS):
            part = block.slice(start, BATCH_ROWS)
            columns = [part.column(name).to_pylist() for name in METRIC_COLUMNS]
            for values in zip(*columns, strict=True):
                copy.write_row(values)


def _upsert_staged(session: Session, staged: str, as_of: date) -> None:
    """Replace the as-of block from a staged copy, in C: rows of customers already in the
    block are updated in place (no index entry moves, unlike a delete and re-insert),
    new ones inserted, and those no longer in the block deleted."""
    names = ", ".join(f'"{name}"' for name in METRIC_COLUMNS)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in METRIC_COLUMNS
                        if name not in ("as_of", "customer_id"))
    connection = session.connection()
    connection.exec_driver_sql(
        f"DELETE FROM customer_metric WHERE as_of = ? AND customer_id NOT IN "
        f"(SELECT customer_id FROM {staged})", (as_of.isoformat(),))
    connection.exec_driver_sql(
        f"INSERT INTO customer_metric ({names}) SELECT {names} FROM {staged} WHERE true "
        f"ON CONFLICT (as_of, customer_id) DO UPDATE SET {updates}")


def _arrow_type(sql_type: TypeEngine[Any]) -> pa.DataType:
    if isinstance(sql_type, UTCDateTime):
        return pa.timestamp("us", tz="UTC")
    python_type = sql_type.python_type
    return {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string(),
            date: pa.date32()}[python_type]


def _conform(frame: pd.DataFrame | pa.Table, as_of: date) -> pa.Table:
    """The metric columns in table order, typed like the model (missing ones null).

    Counts that went through a pandas outer join come back as floats; they are cast back
    to integers here (nulls stay null).
    """
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame, preserve_index=False)
    arrays = []
    for column in CustomerMetric.__table__.columns:
        if column.name == "id":
            continue
        dtype = _arrow_type(column.type)
        if column.name == "as_of":
            arrays.append(pa.array([as_of] * table.num_rows, dtype))
        elif column.name in table.column_names:
            arrays.append(table.column(column.name).cast(dtype))
        else:
            arrays.append(pa.nulls(table.num_rows, dtype))
    return pa.Table.from_arrays(arrays, names=list(METRIC_COLUMNS))


def replace_as_of(*, session: Session, as_of: date, metrics: pd.DataFrame | pa.Table,
                  run: dict[str, Any]) -> int:
    """Replace the as-of block and its run record in the session's transaction.

    ``metrics`` has a ``customer_id`` column and any of the contract columns; ``run`` the
    :class:`MetricsRun` fields other than ``as_of``. Returns the rows written. The caller
    commits (``session_scope`` does), which makes the replacement atomic.
    """
    block = _conform(metrics, as_of)
    session.execute(delete(MetricsRun).where(MetricsRun.as_of == as_of))
    dialect = session.get_bind().dialect.name
    schema = staging.attach(session, {"block": staging.sqlite_values(block)}) \
        if dialect == "sqlite" else None
    if schema is not None:
        with staging.page_cache(session):
            _upsert_staged(session, f"{schema}.block", as_of)
    else:
        session.execute(delete(CustomerMetric).where(CustomerMetric.as_of == as_of))
        if dialect == "sqlite":
            _insert_sqlite(session, block)
        elif dialect == "postgresql":
            _insert_postgres(session, block)
        else:  # pragma: no cover - only the two supported stores are tested
            session.execute(insert(CustomerMetric), block.to_pylist())
    session.add(MetricsRun(as_of=as_of, customers=block.num_rows, **run))
    session.flush()
    return int(block.num_rows)


def latest_as_of(*, session: Session, on_or_before: date | None = None) -> date | None:
    query = select(func.max(MetricsRun.as_of))
    if on_or_before is not None:
        query = query.where(MetricsRun.as_of <= on_or_before)
    return session.execute(query).scalar_one_or_none()


def for_customer(*, session: Session, customer_id: int,
                 as_of: date | None = None) -> CustomerMetric | None:
    """The customer's metrics at ``as_of`` (default: their latest); an index seek."""
    query = select(CustomerMetric).where(CustomerMetric.customer_id == customer_id)
    if as_of is not None:
        query = query.where(CustomerMetric.as_of == as_of)
    return session.scalars(query.order_by(CustomerMetric.as_of.desc()).limit(1)).first()


def latest_values(*, session: Session, customer_id: int) -> dict[str, Any] | None:
    """The customer's latest metrics as JSON-ready values (dates as ISO text), without
    the row and customer ids; None before the first refresh. The customer 360 shows it."""
    metric = for_customer(session=session, customer_id=customer_id)
    if metric is None:
        return None
    values = {name: getattr(metric, name) for name in METRIC_COLUMNS if name != "customer_id"}
    return {name: value.isoformat() if isinstance(value, date | datetime) else value
            for name, value in values.items()}


def history(*, session: Session, customer_id: int) -> Sequence[CustomerMetric]:
    """Every stored as-of of one customer, oldest first."""
    return session.scalars(
        select(CustomerMetric).where(CustomerMetric.customer_id == customer_id)
        .order_by(CustomerMetric.as_of)
    ).all()


def get_run(*, session: Session, as_of: date) -> MetricsRun:
    run = session.scalars(select(MetricsRun).where(MetricsRun.as_of == as_of)).first()
    if run is None:
        raise NotFoundError(f"no refresh stored for as-of {as_of}")
    return run


def load_block(*, session: Session, as_of: date | None = None) -> pd.DataFrame:
    """Every customer's metrics at ``as_of`` (default: the latest refresh), one frame."""
    block = as_of or latest_as_of(session=session)
    if block is None:
        raise NotFoundError("no per-customer metrics stored; run `kithkin refresh` first")
    columns = [getattr(CustomerMetric, name) for name in METRIC_COLUMNS]
    rows = session.execute(select(*columns).where(CustomerMetric.as_of == block)).all()
    return pd.DataFrame([tuple(row) for row in rows], columns=list(METRIC_COLUMNS))


def finish_run(*, session: Session, as_of: date, timings: dict[str, float],
               finished_at: datetime | None = None) -> None:
    """Record the final step timings once the block is committed."""
    run = get_run(session=session, as_of=as_of)
    run.timings = timings
    run.finished_at = finished_at or utcnow()
