"""Defection status: the refresh step that dates every stage change and opens exit
interviews, and the reads behind the at-risk list and the customer page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.atrisk import rules
from kithkin.atrisk.models import DefectionChange
from kithkin.atrisk.schemas import (
    AtRiskPage,
    AtRiskRow,
    DefectionChangeRead,
    DefectionStatusRead,
    PAliveRead,
)
from kithkin.atrisk.selection import LABELS
from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.customers.scope import CustomerScope
from kithkin.database import bulk
from kithkin.database.base import utcnow
from kithkin.errors import NotFoundError, ValidationError
from kithkin.relationships.models import SegmentLevel
from kithkin.tasks.models import Task, TaskPriority, TaskStatus

EXIT_REASON = "retention:exit_interview"
EXIT_INTERVIEW_RECENT_DAYS = 90  # older defections found by a first refresh: no task
CHANGES = bulk.table_of(DefectionChange)


def limits(settings: Settings) -> rules.Limits:
    return rules.Limits(at_risk_threshold=settings.at_risk_threshold,
                        at_risk_silence_multiple=settings.at_risk_silence_multiple,
                        defected_silence_multiple=settings.defected_silence_multiple,
                        min_pace_days=settings.min_pace_days)


def previous_stages(*, session: Session, as_of: date) -> pd.DataFrame:
    """Stage and since of every customer at the latest refresh before ``as_of``."""
    before = session.scalar(select(func.max(MetricsRun.as_of)).where(MetricsRun.as_of < as_of))
    columns = ["customer_id", "defection_stage", "defection_since"]
    if before is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    query: Any = select(CustomerMetric.customer_id, CustomerMetric.defection_stage,
                        CustomerMetric.defection_since).where(
        CustomerMetric.as_of == before, CustomerMetric.defection_stage.is_not(None))
    # a million rows: read through the driver's cursor into Arrow, not as row objects
    found: pd.DataFrame = bulk.select_to_arrow(session.connection(), query).to_pandas(
        date_as_object=True)
    return found


def stage_changes(*, session: Session, as_of: date, changes: pd.DataFrame) -> bulk.Plan:
    """Start staging ``changes`` for :func:`storing_changes` (SQLite: a first refresh
    stages some half a million in a child process) without writing anything yet: a
    caller with other writes to do first starts it before them (the refresh lands its
    metrics block meanwhile). ``discard`` the plan if it is not stored."""
    plan = bulk.Plan(session.connection())
    plan.append(CHANGES, changes, constants={"as_of": as_of})
    plan.stage()
    return plan


@contextmanager
def storing_changes(*, session: Session, as_of: date, changes: pd.DataFrame,
                    staged: bulk.Plan | None = None) -> Iterator[int]:
    """Make ``changes`` the changes found by the ``as_of`` refresh (a re-run replaces
    its own rows and nothing else), with the caller's block run while the rows are staged
    (``staged``: by :func:`stage_changes` on this session, else now) and the refresh's
    earlier rows are deleted; they land when the block ends. Yields the rows the
    ``as_of`` block will hold. In the session's transaction: a failure stores nothing."""
    conn = session.connection()
    plan = staged if staged is not None else stage_changes(session=session, as_of=as_of,
                                                           changes=changes)
    try:
        conn.execute(delete(CHANGES).where(CHANGES.c.as_of == as_of))
        yield len(changes)
    except BaseException:
        plan.discard()
        raise
    plan.apply()


def create_exit_interviews(*, session: Session, settings: Settings, as_of: date,
                           revenue: pd.Series, changes: pd.DataFrame | None = None) -> int:
    """One exit-interview task per defection found by this refresh, for customers whose
    revenue to date reaches ``settings.exit_interview_min_value`` and whose defection
    is recent (within :data:`EXIT_INTERVIEW_RECENT_DAYS` of ``as_of``: a first refresh
    over years of history would otherwise ask about departures long past).

    The dedupe key is the customer and the defection *day in the data*, not the refresh:
    two refreshes that both see the same departure (overlapping, repeated or run at
    once) create one task. Returns the tasks newly created.

    ``changes``: the rows :func:`storing_changes` has just made the ``as_of`` block, so
    they need not be read back (without it they are)."""
    recent = as_of - timedelta(days=EXIT_INTERVIEW_RECENT_DAYS)
    columns = ["customer_id", "changed_on", "rule", "evidence"]
    if changes is None:
        stored = DefectionChange.__table__.c
        found = pd.DataFrame(session.execute(select(*(stored[c] for c in columns)).where(
            stored.as_of == as_of, stored.to_stage == rules.DEFECTED,
            stored.changed_on >= recent)).all(), columns=columns)
    else:
        # the rows first, then only their columns: a first refresh's half a million
        # changes are not copied whole (their evidence texts) to keep a tenth of them
        defected = np.flatnonzero((changes["to_stage"] == rules.DEFECTED).to_numpy())
        days = changes["changed_on"].to_numpy(dtype=object)[defected]
        rows = defected[np.fromiter((day is not None and day >= recent for day in days),
                                    dtype=bool, count=len(days))]
        found = pd.DataFrame({name: changes[name].iloc[rows].reset_index(drop=True)
                              for name in columns})
    found["value"] = found["customer_id"].map(revenue).astype(float)
    found = found[found["value"] >= settings.exit_interview_min_value]
    if found.empty:
        return 0
    # one statement for all of them (a first refresh finds tens of thousands); the
    # unique dedupe key keeps what an earlier or concurrent refresh created
    day = found["changed_on"].astype(str)
    now = utcnow()
    tasks = pd.DataFrame({
        "customer_id": found["customer_id"], "title": "Exit interview: ask why they left",
        "reason": EXIT_REASON, "status": TaskStatus.OPEN.value,
        "priority": TaskPriority.NORMAL.value,
        "dedupe_key": "exit_interview:" + found["customer_id"].astype(str) + ":" + day,
        "details": ("Defected on " + day + " (" + found["rule"].str.replace("_", " ")
                    + "); revenue to date " + found["value"].map("{:,.2f}".format)
                    + "; evidence " + found["evidence"].astype(str)),
        "created_at": now, "updated_at": now})
    return bulk.insert_new(session.connection(), bulk.table_of(Task), tasks,
                           key=["dedupe_key"])


# --- reads -----------------------------------------------------------------------------


def latest_run(*, session: Session) -> MetricsRun | None:
    return session.scalars(select(MetricsRun).order_by(MetricsRun.as_of.desc()).limit(1)
                           ).first()


def _level_join() -> Any:
    return and_(SegmentLevel.kind == "rfm_segment",
                SegmentLevel.segment == CustomerMetric.rfm_segment)


def _at_risk_query(as_of: date, *, stage: str | None, segment: str | None,
                   level: str | None, account_manager_id: int | None,
                   scope: CustomerScope | None
                   ) -> Select[CustomerMetric, Customer, str]:
    level_value = func.coalesce(SegmentLevel.override_level, SegmentLevel.recommended_level)
    query: Select[CustomerMetric, Customer, str] = (
        select(CustomerMetric, Customer, level_value.label("level"))
             .join(Customer, Customer.id == CustomerMetric.customer_id)
             .outerjoin(SegmentLevel, _level_join())
             .where(CustomerMetric.as_of == as_of,
                    CustomerMetric.defection_stage.is_not(None)))
    if stage is not None:
        if stage not in rules.STAGES:
            raise ValidationError(f"stage: {stage!r} is not one of {', '.join(rules.STAGES)}")
        query = query.where(CustomerMetric.defection_stage == stage)
    else:  # the at-risk list: who may still be kept
        query = query.where(CustomerMetric.defection_stage.in_((rules.AT_RISK,
                                                                rules.DEFECTED)))
    if segment is not None:
        query = query.where(CustomerMetric.rfm_segment == segment)
    if level is not None:
        query = query.where(level_value == level)
    if account_manager_id is not None:
        query = query.where(Customer.account_manager_id == account_manager_id)
    if scope is not None:
        query = query.where(*scope.customers())
    return query


def at_risk_list(*, session: Session, stage: str | None = None, segment: str | None = None,
                 level: str | None = None, account_manager_id: int | None = None,
                 scope: CustomerScope | None = None, limit: int = 50,
                 offset: int = 0) -> AtRiskPage:
    """Customers ranked by value at risk (CLV x at-risk score; unknown last), as of the
    latest refresh. Without ``stage``: the at-risk and defected customers. ``scope``
    keeps an agent to the customers they manage."""
    run = latest_run(session=session)
    if run is None:
        return AtRiskPage(as_of=None, total=0, rows=[])
    query = _at_risk_query(run.as_of, stage=stage, segment=segment, level=level,
                           account_manager_id=account_manager_id, scope=scope)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(CustomerMetric.value_at_risk.desc().nulls_last(),
                             CustomerMetric.at_risk.desc().nulls_last(),
                             CustomerMetric.customer_id).limit(limit).offset(offset)
    return AtRiskPage(as_of=run.as_of, total=total,
                      rows=[_row(m, c, lv) for m, c, lv in session.execute(ordered).all()])


def _row(metric: CustomerMetric, customer: Customer, level: str | None) -> AtRiskRow:
    last = metric.last_purchase_at
    return AtRiskRow(customer_id=customer.id, name=customer.display_name,
                     stage=metric.defection_stage, since=metric.defection_since,
                     at_risk=metric.at_risk, clv=metric.clv,
                     value_at_risk=metric.value_at_risk, rfm_segment=metric.rfm_segment,
                     level=level, account_manager_id=customer.account_manager_id,
                     last_purchase_on=last.date() if last is not None else None)


CSV_COLUMNS = ("customer_id", "name", "stage", "since", "at_risk", "clv", "value_at_risk",
               "rfm_segment", "level", "account_manager_id", "last_purchase_on")


def at_risk_csv(*, session: Session, stage: str | None = None, segment: str | None = None,
                level: str | None = None, account_manager_id: int | None = None,
                scope: CustomerScope | None = None) -> Iterable[str]:
    """The whole filtered list as CSV text, streamed in pages (a million rows must not
    be held at once)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    offset, page = 0, 5_000
    while True:
        rows = at_risk_list(session=session, stage=stage, segment=segment, level=level,
                            account_manager_id=account_manager_id, scope=scope, limit=page,
                            offset=offset).rows
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            values = row.model_dump()
            writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
        yield buffer.getvalue()
        offset += page


def p_alive_view(metric: CustomerMetric | None, run: MetricsRun | None) -> PAliveRead:
    """P(alive) and the model behind it; no figure where it is no evidence."""
    params = (run.model_params or {}) if run is not None else {}
    key = params.get("purchase_model")
    choice = params.get("model_choice") or {}
    label = LABELS.get(str(key), str(key)) if key else None
    if metric is None or metric.p_alive is None:
        return PAliveRead(value=None, model=label, chosen_by=choice.get("chosen_by"),
                          note="unknown: no purchase model for this customer")
    if key in (None, "bg_nbd") and (metric.frequency or 0) == 0:
        return PAliveRead(value=None, model=label or "BG/NBD", chosen_by=choice.get("chosen_by"),
                          note="unknown: BG/NBD calls every one-time buyer alive by "
                               "construction; see the at-risk score")
    return PAliveRead(value=metric.p_alive, model=label, chosen_by=choice.get("chosen_by"),
                      note=None)


def status(*, session: Session, customer_id: int) -> DefectionStatusRead:
    """The customer's stage at their latest refresh and every change (NotFoundError for
    an unknown customer)."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    metric = session.scalars(select(CustomerMetric).where(
        CustomerMetric.customer_id == customer_id).order_by(CustomerMetric.as_of.desc())
        .limit(1)).first()
    run = (session.scalar(select(MetricsRun).where(MetricsRun.as_of == metric.as_of))
           if metric is not None else None)
    changes = session.execute(select(DefectionChange).where(
        DefectionChange.customer_id == customer_id)
        .order_by(DefectionChange.changed_on.desc(), DefectionChange.id.desc())).scalars()
    return DefectionStatusRead(
        customer_id=customer_id, as_of=metric.as_of if metric else None,
        stage=metric.defection_stage if metric else None,
        since=metric.defection_since if metric else None,
        at_risk=metric.at_risk if metric else None,
        value_at_risk=metric.value_at_risk if metric else None,
        clv=metric.clv if metric else None, p_alive=p_alive_view(metric, run),
        changes=[DefectionChangeRead(id=c.id, as_of=c.as_of, changed_on=c.changed_on,
                                     from_stage=c.from_stage, to_stage=c.to_stage,
                                     rule=c.rule, score=c.score,
                                     evidence=json.loads(c.evidence)) for c in changes])
