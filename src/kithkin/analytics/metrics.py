"""The per-customer metrics block (docs/architecture.md) as one Ibis expression.

Which customers get a row as of a date: every customer not merged into another (erased
ones included: erasure keeps their orders under a pseudonymous id so figures do not move)
who was acquired on or before the date (``acquired_at``), has no acquisition date,
or made a purchase by then (a purchase before the recorded acquisition date counts).
Customers without a purchase get ``orders = 0`` and empty value columns; counts default to
0 and membership flags to false.
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.engine import AnalyticsSource
from kithkin.analytics.features import (
    customer_features,
    interaction_features,
    membership_features,
)
from kithkin.analytics.periods import day_number, day_of
from kithkin.analytics.rfm import rfm_scores
from kithkin.analytics.summary import purchases

FEATURE_COLUMNS: tuple[str, ...] = (
    "orders", "revenue", "margin", "avg_order_value", "first_purchase_at",
    "last_purchase_at", "days_since_last_purchase", "tenure_days", "categories_bought",
    "products_bought", "discount_share",
)
RFM_COLUMNS: tuple[str, ...] = ("rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment")
INTERACTION_COLUMNS: tuple[str, ...] = (
    "interactions_90d", "inbound_90d", "outbound_90d", "two_way_ratio", "complaints",
    "complaints_open", "complaints_resolved", "mean_resolution_hours", "last_nps",
    "last_csat", "satisfaction_trend", "referrals", "reviews", "ideas", "service_requests",
)
MEMBERSHIP_COLUMNS: tuple[str, ...] = (
    "active_memberships", "has_loyalty", "has_subscription", "has_contract",
    "membership_tier",
)
ZERO_WHEN_ABSENT = frozenset({
    "orders", "interactions_90d", "inbound_90d", "outbound_90d", "complaints",
    "complaints_open", "complaints_resolved", "referrals", "reviews", "ideas",
    "service_requests", "active_memberships",
})
FALSE_WHEN_ABSENT = frozenset({"has_loyalty", "has_subscription", "has_contract"})


def customers_as_of(source: AnalyticsSource, *, as_of: date,
                    buyers: ir.Table | None = None) -> ir.Table:
    """Customer ids that belong in the as-of block (see the module docstring).

    ``buyers`` (a table with the ``customer_id`` of every customer with a purchase by the
    as-of date) saves a scan of the transactions when the caller already has it.
    """
    customers = source.customers
    if buyers is None:
        buyers = purchases(source.transactions, as_of=as_of).select("customer_id").distinct()
    return customers.filter(
        customers.merged_into_id.isnull(),
        customers.acquired_at.isnull()
        | (day_number(customers.acquired_at) <= day_of(as_of))
        | customers.id.isin(buyers.customer_id),
    ).select(customer_id=_.id)


def _attach(base: ir.Table, part: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    joined = base.left_join(part, base.customer_id == part.customer_id)
    values = {}
    for name in columns:
        value = part[name]
        if name in ZERO_WHEN_ABSENT:
            value = value.fill_null(0)
        elif name in FALSE_WHEN_ABSENT:
            value = value.fill_null(False)
        values[name] = value
    return joined.select(*[base[c] for c in base.columns], **values)


def value_features(source: AnalyticsSource, *, as_of: date,
                   history: ir.Table | None = None) -> ir.Table:
    """``history``: see :func:`kithkin.analytics.features.customer_features`."""
    return customer_features(source.transactions, source.lines, source.products, as_of=as_of,
                             history=history)


def feature_block(source: AnalyticsSource, *, as_of: date,
                  features: ir.Table | None = None) -> ir.Table:
    """Every non-model metric column, one row per customer of :func:`customers_as_of`.

    ``features`` is :func:`value_features`, ideally materialised (``.cache()``) by the
    caller: RFM ranks and the customer list reuse it, and engines would otherwise repeat
    the aggregation over every transaction for each use.
    """
    if features is None:
        features = value_features(source, as_of=as_of)
    buyers = features.filter(features.orders > 0)
    rfm = rfm_scores(buyers).select("customer_id", *RFM_COLUMNS)
    interactions = interaction_features(source.interactions, as_of=as_of, windows=(90,))
    memberships = membership_features(source.memberships, as_of=as_of)
    block = customers_as_of(source, as_of=as_of, buyers=buyers)
    block = _attach(block, features, FEATURE_COLUMNS)
    block = _attach(block, rfm, RFM_COLUMNS)
    block = _attach(block, interactions, INTERACTION_COLUMNS)
    return _attach(block, memberships, MEMBERSHIP_COLUMNS).order_by("customer_id")

