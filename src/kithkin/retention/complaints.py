"""Complaint lifecycle and the service reports built on it.

Lifecycle: a complaint is *open* when logged, *responded* when staff first answer
(``responded_at``), *resolved* when its cause is dealt with (``resolved_at``); it has an
owner. Resolving an unanswered complaint answers it too (a resolution is a response).

Reports (all as of a date, reading only what was known by then):

- complaints per 1,000 orders by month and by product category, product or sales
  channel: a complaint is attributed to the customer's latest order on or before it
  (its channel, and every product and category on its lines); the denominator is that
  month's orders with the same channel, product or category;
- hours to first response and to resolution; share resolved;
- service recovery: customers who had bought by a point ``horizon_days`` before the
  as-of date, grouped as never complained / complained, all resolved / complained, some
  unresolved by that point; retention is the share buying again after it;
- what defectors bought last (defection approximated by lapse, see
  :mod:`kithkin.retention.survival`): the products and categories of the last order of
  lapsed customers, beside their share among the last orders of the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.interactions.models import Interaction, TicketStatus

Dimension = Literal["category", "product", "channel"]
UNATTRIBUTED = "(no order before)"
UNKNOWN = "(unknown)"


def _complaint(session: Session, complaint_id: int) -> Interaction:
    row = session.get(Interaction, complaint_id)
    if row is None or row.kind != "complaint":
        raise NotFoundError(f"complaint {complaint_id} does not exist")
    return row


def _aware(moment: datetime) -> datetime:
    """UTC-aware (the store keeps UTC; a naive time is read as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(at: datetime | None) -> datetime:
    return _aware(at or datetime.now(UTC))


def _check_after(row: Interaction, at: datetime, what: str) -> None:
    occurred = _aware(row.occurred_at)
    if at < occurred:
        raise ValidationError(f"{what}: {at.isoformat()} is before the complaint was made "
                              f"({occurred.isoformat()})")


def respond(*, session: Session, complaint_id: int, at: datetime | None = None,
            owner_id: int | None = None) -> Interaction:
    """Record the first answer; answering twice keeps the first time (idempotent)."""
    row = _complaint(session, complaint_id)
    if row.resolved_at is not None:
        raise ConflictError(f"complaint {complaint_id} is already resolved")
    moment = _when(at)
    _check_after(row, moment, "responded_at")
    if row.responded_at is None:
        row.responded_at = moment
    row.status = TicketStatus.RESPONDED
    if owner_id is not None:
        row.owner_id = owner_id
    session.flush()
    return row


def resolve(*, session: Session, complaint_id: int, at: datetime | None = None,
            owner_id: int | None = None) -> Interaction:
    """Mark resolved (answering it too when nobody had); resolving twice is a no-op."""
    row = _complaint(session, complaint_id)
    if row.resolved_at is not None:
        return row
    moment = _when(at)
    _check_after(row, moment, "resolved_at")
    row.responded_at = row.responded_at or moment
    row.resolved_at = moment
    row.status = TicketStatus.RESOLVED
    if owner_id is not None:
        row.owner_id = owner_id
    session.flush()
    return row


def assign(*, session: Session, complaint_id: int, owner_id: int | None) -> Interaction:
    row = _complaint(session, complaint_id)
    row.owner_id = owner_id
    session.flush()
    return row


def lifecycle_state(row: Any) -> str:
    if row.resolved_at is not None or row.status in ("resolved", "closed"):
        return "resolved"
    if row.responded_at is not None or row.status == "responded":
        return "responded"
    return "open"


# --- data -------------------------------------------------------------------------


def _ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="mixed")


def _end_of(as_of: date) -> pd.Timestamp:
    return pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)


def complaints_frame(session: Session, *, as_of: date) -> pd.DataFrame:
    frame = pd.read_sql_query(text(
        "SELECT i.id, i.customer_id, i.occurred_at, i.responded_at, i.resolved_at, "
        "i.status, i.channel AS contact_channel FROM interaction i JOIN customer c "
        "ON c.id = i.customer_id WHERE i.kind = 'complaint' AND c.merged_into_id IS NULL"),
        session.connection())
    for column in ("occurred_at", "responded_at", "resolved_at"):
        frame[column] = _ts(frame[column])
    end = _end_of(as_of)
    frame = frame[frame["occurred_at"] < end].copy()
    # a status without a time (imports) can only be trusted when no later time says when
    closed_by_status = (frame["resolved_at"].isna()
                        & frame["status"].isin(["resolved", "closed"]))
    # what was known by the as-of date: later answers had not happened yet
    for column in ("responded_at", "resolved_at"):
        frame.loc[frame[column] >= end, column] = pd.NaT
    frame["resolved"] = frame["resolved_at"].notna() | closed_by_status
    first = frame["responded_at"].fillna(frame["resolved_at"])
    frame["hours_to_response"] = (first - frame["occurred_at"]).dt.total_seconds() / 3600
    frame["hours_to_resolution"] = ((frame["resolved_at"] - frame["occurred_at"])
                                    .dt.total_seconds() / 3600)
    frame["month"] = frame["occurred_at"].dt.strftime("%Y-%m")
    return frame


def orders_frame(session: Session, *, as_of: date) -> pd.DataFrame:
    """Purchases (positive amounts) with their channel, one row per order."""
    frame = pd.read_sql_query(text(
        "SELECT t.id AS order_id, t.customer_id, t.ordered_at, t.channel FROM "
        "\"transaction\" t WHERE t.amount > 0"), session.connection())
    frame["ordered_at"] = _ts(frame["ordered_at"])
    frame = frame[frame["ordered_at"] < _end_of(as_of)].copy()
    frame["channel"] = frame["channel"].fillna(UNKNOWN)
    frame["month"] = frame["ordered_at"].dt.strftime("%Y-%m")
    return frame


def order_items(session: Session) -> pd.DataFrame:
    """(order_id, product, category) for every order line with a product."""
    return pd.read_sql_query(text(
        "SELECT DISTINCT l.transaction_id AS order_id, coalesce(p.name, l.sku) AS product, "
        "coalesce(p.category, :unknown) AS category FROM transaction_line l "
        "LEFT JOIN product p ON p.id = l.product_id WHERE l.quantity > 0"),
        session.connection(), params={"unknown": UNKNOWN})


def attribute(complaints: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Each complaint with the order it is about: the customer's latest on or before it."""
    left = complaints.sort_values("occurred_at")
    right = orders[["customer_id", "ordered_at", "order_id", "channel"]].sort_values(
        "ordered_at")
    return pd.merge_asof(left, right, left_on="occurred_at", right_on="ordered_at",
                         by="customer_id", direction="backward")


@dataclass(frozen=True)
class RateTable:
    """Complaints per 1,000 orders: ``rates[group][month]`` (None: no orders that month)."""

    dimension: str
    months: list[str]
    groups: list[str]
    complaints: dict[str, dict[str, int]]
    orders: dict[str, dict[str, int]]
    rates: dict[str, dict[str, float | None]]
    unattributed: int


def complaint_rates(session: Session, *, as_of: date, by: Dimension = "category",
                    top: int = 8) -> RateTable:
    complaints = complaints_frame(session, as_of=as_of)
    orders = orders_frame(session, as_of=as_of)
    attributed = attribute(complaints, orders)
    unattributed = int(attributed["order_id"].isna().sum())
    attributed = attributed[attributed["order_id"].notna()]
    if by == "channel":
        hits = attributed[["month", "channel"]].rename(columns={"channel": "group"})
        base = orders[["month", "channel"]].rename(columns={"channel": "group"})
    else:
        items = order_items(session)[["order_id", by]].drop_duplicates()
        hits = attributed[["id", "month", "order_id"]].merge(items, on="order_id")
        hits = hits[["month", by]].rename(columns={by: "group"})
        base = orders[["order_id", "month"]].merge(items, on="order_id")[["month", by]]
        base = base.rename(columns={by: "group"})
    c = hits.groupby(["group", "month"]).size()
    o = base.groupby(["group", "month"]).size()
    months = sorted(set(orders["month"]) | set(complaints["month"]))
    totals = c.groupby(level=0).sum().sort_values(ascending=False)
    groups = sorted(totals.index[:top].tolist())
    counts = {g: {m: int(c.get((g, m), 0)) for m in months} for g in groups}
    bases = {g: {m: int(o.get((g, m), 0)) for m in months} for g in groups}
    rates = {g: {m: (1000 * counts[g][m] / bases[g][m] if bases[g][m] else None)
                 for m in months} for g in groups}
    return RateTable(by, months, groups, counts, bases, rates, unattributed)


@dataclass(frozen=True)
class ServiceTimes:
    complaints: int
    responded: int
    resolved: int
    share_resolved: float | None
    median_hours_to_response: float | None
    median_hours_to_resolution: float | None
    mean_hours_to_resolution: float | None
    by_month: list[dict[str, Any]]


def _median(series: pd.Series) -> float | None:
    values = series.dropna()
    return float(values.median()) if len(values) else None


def service_times(session: Session, *, as_of: date) -> ServiceTimes:
    frame = complaints_frame(session, as_of=as_of)
    months = []
    for month, part in frame.groupby("month", sort=True):
        months.append({"month": month, "complaints": len(part),
                       "share_resolved": float(part["resolved"].mean()),
                       "median_hours_to_response": _median(part["hours_to_response"]),
                       "median_hours_to_resolution": _median(part["hours_to_resolution"])})
    mean = frame["hours_to_resolution"].dropna()
    return ServiceTimes(
        complaints=len(frame), responded=int(frame["hours_to_response"].notna().sum()),
        resolved=int(frame["resolved"].sum()),
        share_resolved=float(frame["resolved"].mean()) if len(frame) else None,
        median_hours_to_response=_median(frame["hours_to_response"]),
        median_hours_to_resolution=_median(frame["hours_to_resolution"]),
        mean_hours_to_resolution=float(mean.mean()) if len(mean) else None,
        by_month=months)


@dataclass(frozen=True)
class RecoveryGroup:
    group: str
    customers: int
    retained: int
    rate: float | None
    lower: float | None
    upper: float | None


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (sound near 0 and 1 and for small n)."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


RECOVERY_GROUPS = ("never complained", "complained, all resolved",
                   "complained, some unresolved")


def service_recovery(session: Session, *, as_of: date, horizon_days: int = 180
                     ) -> tuple[date, list[RecoveryGroup]]:
    """Retention after a point ``horizon_days`` before ``as_of``, by complaint state then."""
    point = as_of - timedelta(days=horizon_days)
    orders = orders_frame(session, as_of=as_of)
    cut = _end_of(point)
    before = set(orders.loc[orders["ordered_at"] < cut, "customer_id"])
    after = set(orders.loc[orders["ordered_at"] >= cut, "customer_id"])
    complaints = complaints_frame(session, as_of=point)
    state = complaints.groupby("customer_id")["resolved"].all()
    groups: dict[str, set[int]] = {name: set() for name in RECOVERY_GROUPS}
    for customer in before:
        if customer not in state.index:
            groups[RECOVERY_GROUPS[0]].add(customer)
        elif bool(state[customer]):
            groups[RECOVERY_GROUPS[1]].add(customer)
        else:
            groups[RECOVERY_GROUPS[2]].add(customer)
    rows = []
    for name, members in groups.items():
        kept = len(members & after)
        lower, upper = wilson(kept, len(members))
        rows.append(RecoveryGroup(name, len(members), kept,
                                  kept / len(members) if members else None, lower, upper))
    return point, rows


@dataclass(frozen=True)
class DefectionDriver:
    dimension: str
    value: str
    defectors: int
    share_of_defectors: float
    share_of_others: float
    lift: float | None


def defection_drivers(session: Session, *, as_of: date, lapse_days: int = 365,
                      top: int = 10) -> list[DefectionDriver]:
    """Products and categories of the last order of lapsed customers vs the others."""
    orders = orders_frame(session, as_of=as_of)
    if orders.empty:
        return []
    last = orders.sort_values(["ordered_at", "order_id"]).groupby("customer_id").tail(1)
    gap = (_end_of(as_of) - last["ordered_at"]).dt.total_seconds() / 86400
    last = last.assign(defected=(gap > lapse_days).to_numpy())
    items = order_items(session)
    joined = last[["order_id", "customer_id", "defected"]].merge(items, on="order_id")
    defectors = int(last["defected"].sum())
    others = len(last) - defectors
    rows: list[DefectionDriver] = []
    for dimension in ("category", "product"):
        seen = joined[["customer_id", "defected", dimension]].drop_duplicates()
        counts = seen.groupby([dimension, "defected"]).size().unstack(fill_value=0)
        for value, row in counts.iterrows():
            d = int(row.get(True, 0))
            share_d = d / defectors if defectors else 0.0
            share_o = int(row.get(False, 0)) / others if others else 0.0
            rows.append(DefectionDriver(dimension, str(value), d, share_d, share_o,
                                        share_d / share_o if share_o > 0 else None))
    rows.sort(key=lambda r: (r.dimension, -r.defectors))
    out: list[DefectionDriver] = []
    for dimension in ("category", "product"):
        out.extend([r for r in rows if r.dimension == dimension][:top])
    return out


def period_retention(session: Session, *, as_of: date, freq: str = "Q") -> list[dict[str, Any]]:
    """Per period: buyers of the period before, those of them buying again, retention and
    churn (1 - retention). The as-of period is left out when incomplete."""
    orders = orders_frame(session, as_of=as_of)
    if orders.empty:
        return []
    periods = orders["ordered_at"].dt.tz_localize(None).dt.to_period(freq)
    active = pd.DataFrame({"customer_id": orders["customer_id"], "p": periods}).drop_duplicates()
    current = pd.Timestamp(as_of).to_period(freq)
    complete = (pd.Timestamp(as_of) + pd.Timedelta(days=1)).to_period(freq) != current
    by_period = {p: set(g["customer_id"]) for p, g in active.groupby("p")}
    rows = []
    for p in sorted(by_period):
        if p == current and not complete:
            continue
        before = by_period.get(p - 1)
        if not before:
            continue
        kept = len(before & by_period[p])
        rows.append({"period": str(p), "buyers_before": len(before), "retained": kept,
                     "retention": kept / len(before), "churn": 1 - kept / len(before)})
    return rows


def customer_complaints(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """The customer's latest 20 complaints with their lifecycle state (the 360 page)."""
    rows = session.scalars(select(Interaction).where(
        Interaction.kind == "complaint", Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc()).limit(20))
    return [{"id": r.id, "occurred_at": r.occurred_at, "subject": r.subject,
             "channel": r.channel, "responded_at": r.responded_at,
             "resolved_at": r.resolved_at, "owner_id": r.owner_id,
             "state": lifecycle_state(r)} for r in rows]
