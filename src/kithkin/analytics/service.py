"""Writing and reading the per-customer metrics history.

A refresh writes a whole as-of block at once: :func:`replace_as_of` replaces the block in
one transaction, so readers see either the old or the new block, never a mix. A block is
one row per customer, millions on a large store, so it goes through the landing port
(:func:`kithkin.database.bulk.replace_block`), which knows each store's fast path.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.database import bulk
from kithkin.database.base import utcnow
from kithkin.errors import NotFoundError

METRIC_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in CustomerMetric.__table__.columns if column.name != "id"
)


def _columns(metrics: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
    names = [name for name in (metrics.column_names if isinstance(metrics, pa.Table)
                               else metrics.columns) if name in METRIC_COLUMNS and name != "as_of"]
    return metrics.select(names) if isinstance(metrics, pa.Table) else metrics[names]


def stage_ahead(*, engine: Engine, as_of: date, metrics: pd.DataFrame | pa.Table
                ) -> bulk.Ahead:
    """Start staging the columns of the as-of block known so far (the refresh knows the
    value and model columns before it has scored who is at risk); hand the result to
    :func:`replace_as_of` with the whole block."""
    return bulk.stage_ahead(engine, bulk.table_of(CustomerMetric), _columns(metrics),
                            constants={"as_of": as_of})


def replace_as_of(*, session: Session, as_of: date, metrics: pd.DataFrame | pa.Table,
                  run: dict[str, Any], ahead: bulk.Ahead | None = None) -> int:
    """Replace the as-of block and its run record in the session's transaction.

    ``metrics`` has a ``customer_id`` column and any of the contract columns (the others
    are stored as null; counts that went through a pandas outer join come back as
    floats and are stored as integers); ``run`` the :class:`MetricsRun` fields other
    than ``as_of``; ``ahead`` the first columns already staged (:func:`stage_ahead`).
    Returns the rows written. The caller commits (``session_scope`` does), which makes
    the replacement atomic.
    """
    table = bulk.table_of(CustomerMetric)
    block = bulk.conform(table, _columns(metrics), constants={"as_of": as_of}, complete=True)
    session.execute(delete(MetricsRun).where(MetricsRun.as_of == as_of))
    conn = session.connection()
    # the first block (or a re-run of the only one) is the whole table: it is written
    # anew and its indexes are built once after the rows are in, instead of kept in
    # order row by row
    alone = session.execute(select(CustomerMetric.id).where(
        CustomerMetric.as_of != as_of).limit(1)).first() is None
    with bulk.deferred_indexes(conn, table) if alone else nullcontext():
        written = bulk.replace_block(conn, table, block, where={"as_of": as_of},
                                     key=("customer_id", "as_of"), merge=not alone,
                                     ahead=ahead)
    session.add(MetricsRun(as_of=as_of, customers=written, **run))
    session.flush()
    return written


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


def model_error(*, session: Session, as_of: date) -> str | None:
    """Why the refresh of ``as_of`` left the model columns (P(alive), CLV) empty, if it did:
    pages that show "unknown" say why instead of leaving the reader to guess."""
    error: str | None = session.scalar(
        select(MetricsRun.model_error).where(MetricsRun.as_of == as_of))
    return error


def at_risk_error(*, session: Session, as_of: date) -> str | None:
    """Why the refresh of ``as_of`` computed no at-risk score, if it did not (too few
    customers to train on, one class only...), as its run recorded it."""
    params = session.scalar(select(MetricsRun.model_params).where(MetricsRun.as_of == as_of))
    at_risk = (params or {}).get("at_risk")
    error = at_risk.get("error") if isinstance(at_risk, dict) else None
    return str(error) if error else None


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
