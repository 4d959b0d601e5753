"""Figures of the overview and cohort pages, read from the store and the metrics table.

Histograms are binned here, not in the browser: shipping a million CLVs to a page would
cost megabytes for a picture of forty bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, extract, func, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.metrics import reports as metrics_reports
from kithkin.metrics import service as metrics_service
from kithkin.metrics.models import CustomerMetric
from kithkin.prospects.models import Prospect
from kithkin.relationships import workspace as relationships_workspace
from kithkin.relationships.definitions import StageModel
from kithkin.relationships.models import CustomerStage, StageChange, StageCount
from kithkin.transactions.models import Transaction

MONTHS_SHOWN = 24
# Below this P(alive) a customer counts as at risk of having silently left.
AT_RISK_P_ALIVE = 0.5
# The customer pyramid (Zeithaml, Rust & Lemon 2001, "The Customer Pyramid: Creating
# and Serving Profitable Customers", California Management Review 43(4)): tiers by rank
# of value, as (name, share of customers) from the top.
VALUE_TIERS = (("Platinum", 0.01), ("Gold", 0.04), ("Iron", 0.15), ("Lead", 0.80))


@dataclass(frozen=True)
class StoreCounts:
    customers: int
    prospects: int
    transactions: int
    revenue: float


@dataclass(frozen=True)
class MonthlySeries:
    months: list[str]
    revenue: list[float]
    orders: list[int]
    retention: list[float | None]


@dataclass(frozen=True)
class Tier:
    name: str
    customers: int
    clv: float
    min_clv: float


@dataclass(frozen=True)
class AtRiskCustomer:
    customer_id: int
    name: str
    p_alive: float
    revenue: float
    clv: float | None


@dataclass(frozen=True)
class ValueSummary:
    """The latest refresh, seen as a whole."""

    as_of: date
    customers: int
    total_clv: float
    histogram_edges: list[float]
    histogram_counts: list[int]
    tiers: list[Tier]
    at_risk_customers: int
    at_risk_revenue: float
    at_risk_clv: float
    top_at_risk: list[AtRiskCustomer]


def store_counts(*, session: Session) -> StoreCounts:
    customers = session.scalar(select(func.count()).select_from(Customer)
                               .where(Customer.merged_into_id.is_(None))) or 0
    prospects = session.scalar(select(func.count()).select_from(Prospect)) or 0
    orders, revenue = session.execute(
        select(func.count(), func.coalesce(func.sum(Transaction.amount), 0.0))
    ).one()
    return StoreCounts(customers=customers, prospects=prospects, transactions=int(orders),
                       revenue=float(revenue))


def _month_index(column: Any) -> ColumnElement[Any]:
    """Months since year 0: the same integer on SQLite and PostgreSQL, no date parsing."""
    return (extract("year", column) * 12 + extract("month", column) - 1).label("month")


def _label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly_series(*, session: Session, months: int = MONTHS_SHOWN) -> MonthlySeries:
    """Revenue, orders and month-on-month customer retention over the last ``months``.

    Retention of month *m* is the share of customers who bought in *m−1* and bought again
    in *m*: the simplest retention rate a marketer reads (Gupta & Lehmann 2003, "Customers
    as Assets", J. Interactive Marketing 17(1)).
    """
    last = session.scalar(select(func.max(Transaction.ordered_at)))
    if last is None:
        return MonthlySeries(months=[], revenue=[], orders=[], retention=[])
    end = last.year * 12 + last.month - 1
    start = end - months + 1
    month = _month_index(Transaction.ordered_at)
    since = Transaction.ordered_at >= _month_start(start - 1)
    rows: list[Any] = list(session.execute(
        select(month, func.sum(Transaction.amount), func.count()).where(since).group_by(month)
    ))
    totals = {int(m): (float(revenue or 0.0), int(count)) for m, revenue, count in rows}
    active = (select(Transaction.customer_id.label("customer_id"), month)
              .where(since).distinct().subquery())
    following = active.alias("following")
    rows = list(session.execute(
        select(active.c.month, func.count(), func.count(following.c.customer_id))
        .outerjoin(following, (following.c.customer_id == active.c.customer_id)
                   & (following.c.month == active.c.month + 1))
        .group_by(active.c.month)
    ))
    retained = {int(m) + 1: (int(n), int(kept)) for m, n, kept in rows}
    first = min(totals, default=end)
    indexes = list(range(max(start, first), end + 1))  # no empty months before the data
    return MonthlySeries(
        months=[_label(i) for i in indexes],
        revenue=[totals.get(i, (0.0, 0))[0] for i in indexes],
        orders=[totals.get(i, (0.0, 0))[1] for i in indexes],
        retention=[(retained[i][1] / retained[i][0]) if retained.get(i, (0, 0))[0] else None
                   for i in indexes],
    )


def _month_start(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def value_summary(*, session: Session, bins: int = 40, top: int = 10) -> ValueSummary | None:
    """CLV distribution, value tiers and value at risk at the latest as-of, or None when
    no refresh has run."""
    as_of = metrics_service.latest_as_of(session=session)
    if as_of is None:
        return None
    rows = session.execute(
        select(CustomerMetric.clv, CustomerMetric.p_alive, CustomerMetric.revenue)
        .where(CustomerMetric.as_of == as_of)
    ).all()
    clv = np.array([r[0] for r in rows if r[0] is not None], dtype=float)
    p_alive = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
    revenue = np.array([r[2] or 0.0 for r in rows], dtype=float)
    clv_all = np.array([np.nan if r[0] is None else r[0] for r in rows], dtype=float)
    edges, counts = _histogram(clv, bins)
    at_risk = p_alive < AT_RISK_P_ALIVE
    return ValueSummary(
        as_of=as_of, customers=len(rows), total_clv=float(clv.sum()) if clv.size else 0.0,
        histogram_edges=edges, histogram_counts=counts, tiers=_tiers(clv),
        at_risk_customers=int(at_risk.sum()),
        at_risk_revenue=float(revenue[at_risk].sum()),
        at_risk_clv=float(np.nansum(clv_all[at_risk])),
        top_at_risk=_top_at_risk(session=session, as_of=as_of, top=top),
    )


def _histogram(values: np.ndarray, bins: int) -> tuple[list[float], list[int]]:
    """Bins up to the 99th percentile, the tail folded into the last bin, so one whale
    does not squash every other customer into the first bar."""
    if values.size == 0:
        return [], []
    high = float(np.quantile(values, 0.99))
    low = float(values.min())
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(np.clip(values, low, high), bins=bins, range=(low, high))
    return [float(e) for e in edges], [int(c) for c in counts]


def _tiers(values: np.ndarray) -> list[Tier]:
    ordered = np.sort(values)[::-1]
    tiers, start = [], 0
    for position, (name, share) in enumerate(VALUE_TIERS):
        stop = ordered.size if position == len(VALUE_TIERS) - 1 else min(
            ordered.size, start + max(1, round(share * ordered.size)))
        chunk = ordered[start:stop]
        tiers.append(Tier(name=name, customers=int(chunk.size), clv=float(chunk.sum()),
                          min_clv=float(chunk.min()) if chunk.size else 0.0))
        start = stop
    return tiers


def _top_at_risk(*, session: Session, as_of: date, top: int) -> list[AtRiskCustomer]:
    """Customers whose past revenue is most likely walking away: revenue × (1 − P(alive))."""
    loss = CustomerMetric.revenue * (1 - CustomerMetric.p_alive)
    rows = session.execute(
        select(CustomerMetric.customer_id, CustomerMetric.p_alive, CustomerMetric.revenue,
               CustomerMetric.clv, Customer)
        .join(Customer, Customer.id == CustomerMetric.customer_id)
        .where(CustomerMetric.as_of == as_of, CustomerMetric.p_alive < AT_RISK_P_ALIVE,
               CustomerMetric.revenue.is_not(None))
        .order_by(loss.desc()).limit(top)
    ).all()
    return [AtRiskCustomer(customer_id=r[0], name=r[4].display_name, p_alive=r[1] or 0.0,
                           revenue=r[2] or 0.0, clv=r[3]) for r in rows]


COHORTS_SHOWN = 12


@dataclass(frozen=True)
class CohortMatrix:
    """Rows: first-purchase month; columns: months since; cells: share still buying."""

    cohorts: list[str]
    sizes: list[int]
    periods: list[int]
    retention: list[list[float | None]]


def cohort_matrix(*, as_of: date, cohorts: int = COHORTS_SHOWN) -> CohortMatrix | None:
    """Acquisition-cohort retention as a heatmap matrix, from the rows the API serves
    (:func:`kithkin.metrics.reports.cohorts`; Fader & Hardie's "C3" chart, 2009,
    "Probability Models for Customer-Base Analysis", J. Interactive Marketing 23(1)): of
    the customers whose first order fell in month *c*, the share who ordered in *c + k*.

    Returns None when there are no purchases; cells not yet observable are None.
    """
    table = metrics_reports.cohorts(as_of=as_of)
    if not table:
        return None
    starts = sorted({row["cohort"] for row in table})[-cohorts:]
    observed = max(int(row["period_number"]) for row in table if row["cohort"] in starts)
    periods = list(range(min(cohorts, observed + 1)))
    rates = {(row["cohort"], int(row["period_number"])): float(row["rate"]) for row in table}
    sizes = {row["cohort"]: int(row["customers"]) for row in table}
    return CohortMatrix(
        cohorts=[start.strftime("%Y-%m") for start in starts],
        sizes=[sizes[start] for start in starts],
        periods=periods,
        retention=[[rates.get((start, k)) for k in periods] for start in starts],
    )


@dataclass(frozen=True)
class ModelStages:
    """One stage model at the latest relationship refresh: counts by stage (in rank order)
    and the moves that refresh made."""

    model: str
    title: str
    stages: list[str]
    customers: list[int]
    moves: dict[str, int]
    # Per stage: (goal, the metric the goal is judged by), when the model defines them.
    goals: list[tuple[str, str] | None]


def stage_summary(*, session: Session) -> tuple[date, list[ModelStages]] | None:
    """Customers by stage per model and moves up/down at the latest refresh, from the
    relationship engine's ``stage_count`` and ``stage_change`` tables, and the customers
    it assessed for the first time (``customer_stage.assigned_at``; a first assignment
    is not a move); None before the first refresh."""
    as_of = session.scalar(select(func.max(StageCount.as_of)))
    if as_of is None:
        return None
    counts = session.execute(
        select(StageCount.model, StageCount.stage, StageCount.customers)
        .where(StageCount.as_of == as_of).order_by(StageCount.model, StageCount.rank)
    ).all()
    moves: dict[str, dict[str, int]] = {}
    for model, direction, n in session.execute(
        select(StageChange.model, StageChange.direction, func.count())
        .where(StageChange.as_of == as_of).group_by(StageChange.model, StageChange.direction)
    ):
        moves.setdefault(model, {})[direction] = int(n)
    for model, n in session.execute(
        select(CustomerStage.model, func.count()).where(CustomerStage.assigned_at == as_of)
        .group_by(CustomerStage.model)
    ):
        entered = moves.setdefault(model, {})
        entered["new"] = entered.get("new", 0) + int(n)
    definitions = relationships_workspace.available_models()
    models: dict[str, ModelStages] = {}
    for model, stage, n in counts:
        known = definitions.get(model)
        entry = models.setdefault(model, ModelStages(
            model=model, title=known.title if known else model, stages=[], customers=[],
            moves=moves.get(model, {}), goals=[]))
        entry.stages.append(stage)
        entry.customers.append(int(n))
        entry.goals.append(_goal(known, stage))
    return as_of, list(models.values())


def _goal(model: StageModel | None, stage: str) -> tuple[str, str] | None:
    """The stage's goal and the metric it is judged by (BRIEF: one goal per stage)."""
    if model is None:
        return None
    try:
        found = model.stage(stage)
    except KeyError:  # a stage renamed since that refresh
        return None
    return found.goal, found.goal_metric
