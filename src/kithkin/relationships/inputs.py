"""Reading the engine's inputs from the store: the latest per-customer metrics and the
relationship inputs the metrics contract does not carry (see
:data:`kithkin.relationships.catalog.RELATIONSHIP_INPUTS`).

A customer has an account manager when one is assigned (``customer.account_manager_id``)
or named in the attributes. Customer attribute keys read (imported as extra customer
columns): ``preferences``, ``account_manager``, ``price_lock``, ``integrations``,
``shared_processes`` (lists or ``;``-separated text), ``customized_orders`` (a count).
Interactions tagged ``community`` or ``event`` count as community interactions; order
lines with a ``bundle`` as bundles.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics import relationship_features
from kithkin.analytics.relationship_features import RelationshipEvents
from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.errors import NotFoundError
from kithkin.metrics.models import CustomerMetric
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


def _count(value: Any) -> int:
    if value is None or value == "" or value is False:
        return 0
    if isinstance(value, list | tuple | dict):
        return len(value)
    if isinstance(value, str):
        return len([part for part in value.split(";") if part.strip()])
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    return 1


def attribute_inputs(*, session: Session) -> pd.DataFrame:
    rows = session.execute(
        select(Customer.id, Customer.attributes, Customer.account_manager_id)
        .where(or_(Customer.attributes.is_not(None), Customer.account_manager_id.is_not(None)))
    ).all()
    records = []
    for customer_id, attributes, manager_id in rows:
        attrs: dict[str, Any] = attributes if isinstance(attributes, dict) else {}
        records.append({
            "customer_id": customer_id,
            "has_preferences": _count(attrs.get("preferences")) > 0,
            "has_account_manager": (manager_id is not None
                                    or _count(attrs.get("account_manager")) > 0),
            "has_price_lock": _count(attrs.get("price_lock")) > 0,
            "integrations": _count(attrs.get("integrations")),
            "shared_processes": _count(attrs.get("shared_processes")),
            "customized_orders": _count(attrs.get("customized_orders")),
        })
    return pd.DataFrame.from_records(records, columns=[
        "customer_id", "has_preferences", "has_account_manager", "has_price_lock",
        "integrations", "shared_processes", "customized_orders"])


def event_inputs(*, session: Session, settings: Settings, as_of: date) -> RelationshipEvents:
    """The event aggregates (community interactions, bundles, category spend) computed
    on the analytics engine of ``settings`` over a fresh snapshot of this session's store.
    ``kithkin refresh`` hands over its own (same engine, same snapshot); this is for a
    relationship refresh on its own (``kithkin stages refresh``)."""
    bind = session.get_bind()
    store = bind if isinstance(bind, Engine) else bind.engine
    return analytics_engine.on_demand(
        settings, store, lambda source: relationship_features.compute(source, as_of=as_of))


def relationship_inputs(*, session: Session, events: pd.DataFrame) -> pd.DataFrame:
    """All derived inputs (attributes and the per-customer event aggregates), one row per
    customer that has any (others default to none)."""
    frame = attribute_inputs(session=session).astype({"customer_id": "int64"})
    return frame.merge(events.astype({"customer_id": "int64"}), on="customer_id",
                       how="outer")


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
