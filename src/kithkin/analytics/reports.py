"""Reading the stored metrics as the API serves them: pages, RFM segments, CLV spread.

Everything reads one as-of block (default: the latest refresh), so a report never mixes
two refreshes; aggregates run in SQL so they stay cheap on a million customers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics import service as metrics_service
from kithkin.analytics.cohorts import cohort_retention
from kithkin.analytics.models import CustomerMetric
from kithkin.analytics.schemas import ClvDistributionRead
from kithkin.config import Settings
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.pagination import SortKey, keyset_page, parse_sort
from kithkin.errors import NotFoundError

SORT_KEYS: tuple[SortKey, ...] = (
    SortKey("customer_id", CustomerMetric.customer_id),
    SortKey("clv", CustomerMetric.clv, float),
    SortKey("p_alive", CustomerMetric.p_alive, float),
    SortKey("revenue", CustomerMetric.revenue, float),
)
_ANALYTICS_LOCK = analytics_engine.CONNECT_LOCK


def resolve_as_of(*, session: Session, as_of: date | None) -> date:
    """``as_of`` if a refresh stored it, else the latest refresh; NotFoundError if none."""
    if as_of is not None:
        metrics_service.get_run(session=session, as_of=as_of)
        return as_of
    latest = metrics_service.latest_as_of(session=session)
    if latest is None:
        raise NotFoundError("no per-customer metrics stored; run `kithkin refresh` first")
    return latest


def metrics_page(*, session: Session, as_of: date | None = None, limit: int,
                 after: str | None = None, sort: str = "customer_id",
                 rfm_segment: str | None = None, min_p_alive: float | None = None,
                 max_p_alive: float | None = None,
                 scope: CustomerScope = EVERYONE) -> tuple[list[CustomerMetric], str | None]:
    """A keyset page of one as-of block. Sorting by a value keeps only the customers
    that have it (no CLV before a second purchase model fits, say), so cursors never
    compare with null."""
    block = resolve_as_of(session=session, as_of=as_of)
    key, descending = parse_sort(sort, SORT_KEYS)
    query = select(CustomerMetric).where(CustomerMetric.as_of == block,
                                         *scope.rows(CustomerMetric.customer_id))
    if key.name != "customer_id":
        query = query.where(key.expression.is_not(None))
    if rfm_segment:
        query = query.where(CustomerMetric.rfm_segment == rfm_segment)
    if min_p_alive is not None:
        query = query.where(CustomerMetric.p_alive >= min_p_alive)
    if max_p_alive is not None:
        query = query.where(CustomerMetric.p_alive <= max_p_alive)
    return keyset_page(session=session, query=query, id_column=CustomerMetric.id, key=key,
                       descending=descending, limit=limit, after=after)


def rfm_segments(*, session: Session, as_of: date | None = None) -> dict[str, Any]:
    """Customers, revenue, CLV and mean P(alive) per named RFM segment, largest first."""
    block = resolve_as_of(session=session, as_of=as_of)
    rows: list[Any] = list(session.execute(
        select(CustomerMetric.rfm_segment, func.count(), func.sum(CustomerMetric.revenue),
               func.sum(CustomerMetric.clv), func.avg(CustomerMetric.p_alive))
        .where(CustomerMetric.as_of == block)
        .group_by(CustomerMetric.rfm_segment)
    ))
    segments = [{"segment": segment or "no purchase", "customers": int(count),
                 "revenue": float(revenue or 0.0), "clv": float(clv or 0.0),
                 "mean_p_alive": None if p_alive is None else float(p_alive)}
                for segment, count, revenue, clv, p_alive in rows]
    segments.sort(key=lambda s: (-int(s["customers"] or 0), str(s["segment"])))
    return {"as_of": block, "segments": segments}


def clv_distribution(*, session: Session, as_of: date | None = None,
                     bins: int = 40) -> ClvDistributionRead:
    """The spread of CLV over customers (histogram and percentiles) with the fitted
    model parameters of that refresh."""
    block = resolve_as_of(session=session, as_of=as_of)
    values = np.fromiter(session.scalars(select(CustomerMetric.clv).where(
        CustomerMetric.as_of == block, CustomerMetric.clv.is_not(None))), dtype=float)
    run = metrics_service.get_run(session=session, as_of=block)
    counts, edges = (np.histogram(values, bins=bins) if values.size
                     else (np.zeros(0, dtype=int), np.zeros(0)))
    percentiles = ({f"p{q}": float(np.percentile(values, q)) for q in (10, 25, 50, 75, 90, 99)}
                   if values.size else {})
    return ClvDistributionRead(
        as_of=block, customers=int(values.size), total=float(values.sum()),
        percentiles=percentiles, bin_edges=[float(e) for e in edges],
        counts=[int(c) for c in counts], model_params=run.model_params,
        model_error=run.model_error,
    )


def cohorts(*, settings: Settings, as_of: date) -> list[dict[str, Any]]:
    """Acquisition-cohort retention rows from the analytics engine of ``settings``
    (:func:`kithkin.analytics.cohorts.cohort_retention`)."""
    with _ANALYTICS_LOCK:
        source = analytics_engine.connect(settings)
        rows = source.backend.to_pyarrow(cohort_retention(
            source.transactions, source.customers, as_of=as_of)).to_pylist()
    return sorted(rows, key=lambda r: (r["cohort"], r["period_number"]))
