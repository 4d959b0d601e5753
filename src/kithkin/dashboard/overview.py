"""Figures of the overview and cohort pages: row counts from the store, the stored
metrics and relationship results, and order totals and series computed by the analytics
engine (the one that computes the metrics), never a second computation in SQL.

Histograms are binned here, not in the browser: shipping a million CLVs to a page would
cost megabytes for a picture of forty bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics import reports as metrics_reports
from kithkin.analytics import service as metrics_service
from kithkin.analytics.cohorts import monthly_activity, transaction_totals
from kithkin.analytics.models import CustomerMetric
from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.prospects.models import Prospect
from kithkin.relationships import presets as relationship_presets
from kithkin.relationships import reports as relationship_reports
from kithkin.relationships import workspace as relationships_workspace
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    StageChange,
    StageCount,
)
from kithkin.relationships.tiers import VALUE_TIERS

MONTHS_SHOWN = 24
# Below this P(alive) a customer counts as at risk of having silently left.
AT_RISK_P_ALIVE = 0.5


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
    """A value tier of the relationship engine (most valuable, most growable, ordinary,
    below zero: the one set of tier names every page uses) with its customers' CLV."""

    name: str
    customers: int
    clv: float | None  # None when none of the tier's customers has a CLV
    min_clv: float | None

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


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
    # None when no customer has the figure (the CLV model was not fitted): unknown, not 0.
    total_clv: float | None
    histogram_edges: list[float]
    histogram_counts: list[int]
    tiers: list[Tier]
    at_risk_customers: int | None
    at_risk_revenue: float | None
    at_risk_clv: float | None
    top_at_risk: list[AtRiskCustomer]


def _store(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def overview_figures(*, session: Session, settings: Settings,
                     months: int = MONTHS_SHOWN) -> tuple[StoreCounts, MonthlySeries]:
    """The overview's headline counts and monthly series. Customers and prospects are
    counted in the store (rows, not analytics); orders, revenue and the series are
    computed by the analytics engine (the one that computes the metrics), in one
    connection, as the engine's snapshot check costs seconds on a large store."""
    totals, frame = analytics_engine.on_demand(
        settings, _store(session), lambda source: (
            analytics_engine.to_pandas(source, transaction_totals(source.transactions)),
            analytics_engine.to_pandas(
                source, monthly_activity(source.transactions, months=months))))
    customers = session.scalar(select(func.count()).select_from(Customer)
                               .where(Customer.merged_into_id.is_(None))) or 0
    prospects = session.scalar(select(func.count()).select_from(Prospect)) or 0
    revenue = totals["revenue"].iloc[0] if len(totals) else None
    counts = StoreCounts(customers=customers, prospects=prospects,
                         transactions=int(totals["orders"].iloc[0]) if len(totals) else 0,
                         revenue=0.0 if revenue is None or pd.isna(revenue) else float(revenue))
    return counts, _series(frame, months)


def _label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly_series(*, session: Session, settings: Settings,
                   months: int = MONTHS_SHOWN) -> MonthlySeries:
    """Revenue, orders and month-on-month customer retention over the last ``months``,
    computed by the analytics engine of ``settings`` over the session's store
    (:func:`kithkin.analytics.cohorts.monthly_activity`).

    Retention of month *m* is the share of customers who bought in *m−1* and bought again
    in *m*: the simplest retention rate a marketer reads (Gupta & Lehmann 2003, "Customers
    as Assets", J. Interactive Marketing 17(1)).
    """
    return overview_figures(session=session, settings=settings, months=months)[1]


def _series(frame: pd.DataFrame, months: int) -> MonthlySeries:
    """The monthly rows of :func:`monthly_activity` as the page's series."""
    totals = {int(r.month): (float(r.revenue), int(r.orders))
              for r in frame.itertuples() if pd.notna(r.orders)}
    if not totals:
        return MonthlySeries(months=[], revenue=[], orders=[], retention=[])
    retained = {int(r.month): (int(r.buyers_before), int(r.retained))
                for r in frame.itertuples() if pd.notna(r.buyers_before)}
    end = max(totals)
    indexes = list(range(max(end - months + 1, min(totals)), end + 1))  # none before data
    return MonthlySeries(
        months=[_label(i) for i in indexes],
        revenue=[totals.get(i, (0.0, 0))[0] for i in indexes],
        orders=[totals.get(i, (0.0, 0))[1] for i in indexes],
        retention=[(retained[i][1] / retained[i][0]) if retained.get(i, (0, 0))[0] else None
                   for i in indexes],
    )


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
    risk_known = bool((~np.isnan(p_alive)).any())
    return ValueSummary(
        as_of=as_of, customers=len(rows), total_clv=float(clv.sum()) if clv.size else None,
        histogram_edges=edges, histogram_counts=counts,
        tiers=value_tiers(session=session, as_of=as_of),
        at_risk_customers=int(at_risk.sum()) if risk_known else None,
        at_risk_revenue=float(revenue[at_risk].sum()) if risk_known else None,
        at_risk_clv=float(np.nansum(clv_all[at_risk])) if risk_known and clv.size else None,
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


def value_tiers(*, session: Session, as_of: date) -> list[Tier]:
    """Customers and CLV (at ``as_of``) per value tier of the latest relationship
    refresh, in the engine's order; empty before the first relationship refresh."""
    rows = session.execute(
        select(RelationshipProfile.value_tier, func.count(),
               func.sum(CustomerMetric.clv), func.min(CustomerMetric.clv))
        .outerjoin(CustomerMetric, (CustomerMetric.customer_id
                                    == RelationshipProfile.customer_id)
                   & (CustomerMetric.as_of == as_of))
        .group_by(RelationshipProfile.value_tier)
    ).all()
    found = {str(r[0]): Tier(name=str(r[0]), customers=int(r[1]),
                             clv=None if r[2] is None else float(r[2]),
                             min_clv=None if r[3] is None else float(r[3])) for r in rows}
    order = [*VALUE_TIERS, *sorted(set(found) - set(VALUE_TIERS))]
    return [found[name] for name in order if name in found]


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


@dataclass(frozen=True)
class CohortMatrix:
    """Rows: first-purchase month; columns: months since; cells: share still buying."""

    cohorts: list[str]
    sizes: list[int]
    periods: list[int]
    retention: list[list[float | None]]

    @property
    def later_peak(self) -> float | None:
        """The highest share after the first month (month 0 is 100% by definition), or
        None when no cohort is older than a month."""
        later = [v for row in self.retention for v in row[1:] if v is not None]
        return max(later) if later else None


def cohort_matrix(*, settings: Settings, as_of: date) -> CohortMatrix | None:
    """Acquisition-cohort retention as a heatmap matrix over the whole history, from the
    rows the API serves (:func:`kithkin.analytics.reports.cohorts`; Fader & Hardie's "C3"
    chart, 2009, "Probability Models for Customer-Base Analysis", J. Interactive Marketing
    23(1)): of the customers whose first order fell in month *c*, the share who ordered
    in *c + k*. Every cohort and every month since the first the API returns is shown.

    Returns None when there are no purchases; cells not yet observable are None.
    """
    table = metrics_reports.cohorts(settings=settings, as_of=as_of)
    if not table:
        return None
    starts = sorted({row["cohort"] for row in table})
    periods = list(range(max(int(row["period_number"]) for row in table) + 1))
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
    # open prospects counted in the lowest stage (never transacted, no customer record)
    prospects: int = 0


def stage_summary(*, session: Session,
                  settings: Settings) -> tuple[date, list[ModelStages]] | None:
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
    definitions = relationships_workspace.available_models(home=settings.home)
    # the presets the latest run assigned with (transaction-only data): their titles
    for name, preset in relationship_reports.presets_used(session=session).items():
        chosen = relationship_presets.load_preset(name, preset)
        if chosen is not None:
            definitions[name] = chosen
    models: dict[str, ModelStages] = {}
    for model, stage, n in counts:
        known = definitions.get(model)
        entry = models.setdefault(model, ModelStages(
            model=model, title=known.title if known else model, stages=[], customers=[],
            moves=moves.get(model, {}), goals=[],
            prospects=relationship_reports.prospects_in_lowest_stage(session=session,
                                                                     model=known)
            if known else 0))
        entry.stages.append(stage)
        entry.customers.append(int(n))
        entry.goals.append(known.goal_of(stage) if known else None)
    return as_of, list(models.values())

