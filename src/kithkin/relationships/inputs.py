"""The relationship engine's inputs: the latest stored per-customer metrics (for a
relationship refresh on its own) and the derived inputs the metrics contract does not
carry (see :data:`kithkin.relationships.catalog.RELATIONSHIP_INPUTS`), computed on the
analytics engine by :mod:`kithkin.analytics.relationship_features`, not read from the
store here.

A customer has an account manager when one is assigned (``customer.account_manager_id``)
or named in the attributes. Customer attribute keys read (imported as extra customer
columns): ``preferences``, ``account_manager``, ``price_lock``, ``integrations``,
``shared_processes`` (lists or ``;``-separated text), ``customized_orders`` (a count).
Interactions tagged ``community`` or ``event`` count as community interactions; order
lines with a ``bundle`` as bundles.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics import relationship_features
from kithkin.analytics.models import CustomerMetric
from kithkin.analytics.relationship_features import RelationshipEvents
from kithkin.config import Settings
from kithkin.errors import NotFoundError
from kithkin.prospects.models import Prospect
from kithkin.relationships.catalog import CONTRACT_METRICS


def latest_metrics_as_of(*, session: Session, as_of: date | None = None) -> date:
    query = select(func.max(CustomerMetric.as_of))
    if as_of is not None:
        query = query.where(CustomerMetric.as_of <= as_of)
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFoundError("no per-customer metrics stored; run `kithkin refresh` first")
    return found


def load_metrics(*, session: Session, as_of: date | None = None) -> pd.DataFrame:
    """The metrics block of the latest refresh on or before ``as_of``, one row per customer."""
    block = latest_metrics_as_of(session=session, as_of=as_of)
    columns = [getattr(CustomerMetric, name) for name in ("customer_id", *CONTRACT_METRICS)]
    rows = session.execute(select(*columns).where(CustomerMetric.as_of == block)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["customer_id", *CONTRACT_METRICS])


def event_inputs(*, session: Session, settings: Settings, as_of: date) -> RelationshipEvents:
    """The derived inputs (attribute inputs, community interactions, bundles, category
    spend) computed on the analytics engine of ``settings`` over a fresh snapshot of this
    session's store.
    ``kithkin refresh`` hands over its own (same engine, same snapshot); this is for a
    relationship refresh on its own (``kithkin stages refresh``)."""
    bind = session.get_bind()
    store = bind if isinstance(bind, Engine) else bind.engine
    return analytics_engine.on_demand(
        settings, store, lambda source: relationship_features.compute(source, as_of=as_of))


def enrich(metrics: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Left-join derived inputs onto metrics (columns already in ``metrics`` win)."""
    wanted = [c for c in extra.columns if c == "customer_id" or c not in metrics.columns]
    if len(wanted) <= 1 or extra.empty:
        return metrics
    return metrics.merge(extra[wanted], on="customer_id", how="left")


def open_prospects(*, session: Session) -> int:
    """Prospects not converted into a customer: the strangers a stage model may count in
    its lowest stage (current state; a prospect records no as-of history)."""
    return int(session.execute(select(func.count()).select_from(Prospect).where(
        Prospect.converted_customer_id.is_(None))).scalar_one())
