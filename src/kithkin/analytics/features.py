"""Per-customer value, interaction and membership features, as of a date.

Column names follow docs/architecture.md ("Per-customer metrics"). Every function
excludes events after the as-of day and returns one row per customer that has at least
one event; the refresh left-joins them onto the customer list and fills the gaps.

Rules (documented in docs/analytics.md):

- an *order* is a transaction with a positive amount; refunds (amount < 0) and
  zero-value orders reduce/keep revenue and margin but are not orders;
- margin = amount - cost; when the order has no cost, cost is the sum of its lines'
  ``quantity * unit_cost`` (the line's unit cost, else the product's); an order with no
  cost information at all contributes no margin;
- ``discount_share`` = share of orders with a discount (on the order or any line).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.history import costed_transactions, customer_history, value_of
from kithkin.analytics.periods import before_end_of, day_number, day_of

TICKET_KINDS = ("complaint", "service_request")
RESOLVED_STATUSES = ("resolved", "closed")
# Touches that record an ending, not a dialogue: an exit interview is the firm asking a
# former customer why they left. Counted as engagement it lifted defectors up the
# pyramid (inbound_90d >= 1 made them "responsive") and added a social bond.
NOT_ENGAGEMENT = ("exit_interview",)


def line_totals(lines: ir.Table, products: ir.Table) -> ir.Table:
    """Per transaction: cost from lines (line or product unit cost) and any line discount."""
    priced = lines.left_join(products, lines.product_id == products.id).select(
        transaction_id=lines.transaction_id,
        line_cost=lines.quantity * lines.unit_cost.coalesce(products.unit_cost),
        line_discounted=lines.discount.fill_null(0.0) > 0,
    )
    return priced.group_by("transaction_id").aggregate(
        line_cost=_.line_cost.sum(), line_discounted=_.line_discounted.any()
    )


def customer_features(
    transactions: ir.Table, lines: ir.Table, products: ir.Table, *, as_of: date,
    history: ir.Table | None = None,
) -> ir.Table:
    """Orders, revenue, margin, first/last purchase, tenure, breadth, discount share, AOV.

    ``history``: :func:`kithkin.analytics.history.customer_history` of the same
    transactions as of the same date, when the caller has it (the refresh does)."""
    if history is None:
        costed = costed_transactions(transactions, line_totals(lines, products), as_of=as_of)
        history = customer_history(costed, as_of=as_of)
    value = value_of(history, as_of=as_of)
    txns = transactions.filter(before_end_of(transactions.ordered_at, as_of),
                               transactions.customer_id.notnull(), transactions.amount > 0)
    bought = (
        lines.filter(_.quantity > 0)
        .join(txns, lines.transaction_id == txns.id)
        .left_join(products, lines.product_id == products.id)
        .select(
            customer_id=txns.customer_id,
            product=lines.product_id.cast("string").coalesce(lines.sku),
            category=products.category,
        )
    )
    breadth = bought.group_by("customer_id").aggregate(
        products_bought=_.product.nunique().cast("int64"),
        categories_bought=_.category.nunique().cast("int64"),
    )
    joined = value.left_join(breadth, value.customer_id == breadth.customer_id)
    return joined.select(
        customer_id=value.customer_id,
        orders=value.orders,
        revenue=value.revenue,
        margin=value.margin,
        avg_order_value=value.avg_order_value,
        first_purchase_at=value.first_purchase_at,
        last_purchase_at=value.last_purchase_at,
        days_since_last_purchase=value.days_since_last_purchase,
        tenure_days=value.tenure_days,
        categories_bought=breadth.categories_bought.fill_null(0),
        products_bought=breadth.products_bought.fill_null(0),
        discount_share=value.discount_share,
    )


def _normalised_score(scale: ir.StringValue, score: ir.FloatingValue) -> ir.FloatingValue:
    """NPS (0-10) and CSAT (1-5) on one 0-1 scale, so a trend can mix both."""
    return ibis.cases(
        (scale == "nps", score / 10.0),
        (scale == "csat", (score - 1.0) / 4.0),
        else_=ibis.null("float64"),
    )


def _latest_score(events: ir.Table, scale: str, name: str) -> ir.Table:
    scored = events.filter(_.score_scale == scale, _.score.notnull())
    ranked = scored.mutate(
        rn=ibis.row_number().over(group_by="customer_id",
                                  order_by=[ibis.desc("occurred_at"), ibis.desc("id")])
    )
    return ranked.filter(_.rn == 0).select("customer_id", **{name: _.score.cast("float64")})


def interaction_features(
    interactions: ir.Table, *, as_of: date, windows: Sequence[int] = (90, 365)
) -> ir.Table:
    """Counts by kind and direction, tickets, satisfaction, for interactions up to as_of.

    ``interactions_{w}d``/``inbound_{w}d``/``outbound_{w}d`` count the last ``w`` days
    (as-of day included). ``two_way_ratio`` = min(inbound, outbound) / max(inbound,
    outbound) over all time: 1 for a balanced dialogue, 0 for one-way contact.
    Exit interviews (:data:`NOT_ENGAGEMENT`) are left out of these engagement counts.
    A complaint is resolved as of the date when its ``resolved_at`` is on or before it
    (or, lacking a timestamp, its status says resolved/closed); mean resolution hours are
    over tickets (complaints and service requests) resolved by then.
    ``satisfaction_trend`` is the least-squares slope of NPS/CSAT scores (both scaled to
    0-1) over the last 365 days, per 30 days; null with fewer than two distinct days.
    """
    end = day_of(as_of)
    events = interactions.filter(before_end_of(interactions.occurred_at, as_of),
                                 interactions.customer_id.notnull())
    events = events.mutate(day=day_number(events.occurred_at),
                           resolved_day=day_number(events.resolved_at))
    resolved_by_then = ibis.ifelse(
        events.resolved_at.isnull(),
        events.status.isin(RESOLVED_STATUSES).fill_null(False),
        events.resolved_day <= end,
    )
    is_complaint = events.kind == "complaint"
    trend_x = (events.occurred_at.epoch_seconds() - end * 86400) / (86400.0 * 30)
    trend_y = _normalised_score(events.score_scale, events.score)
    in_trend = (events.day > end - 365) & trend_y.notnull()
    events = events.mutate(
        resolved_by_then=resolved_by_then,
        is_complaint=is_complaint,
        engaged=~events.kind.isin(NOT_ENGAGEMENT),
        tx=ibis.ifelse(in_trend, trend_x, ibis.null("float64")),
        ty=ibis.ifelse(in_trend, trend_y, ibis.null("float64")),
        hours=ibis.ifelse(
            events.kind.isin(TICKET_KINDS) & events.resolved_at.notnull()
            & (events.resolved_day <= end),
            (events.resolved_at.epoch_seconds() - events.occurred_at.epoch_seconds()) / 3600.0,
            ibis.null("float64"),
        ),
    )
    metrics: dict[str, ir.Value] = {}
    for window in windows:
        recent = (_.day > end - window) & _.engaged
        metrics[f"interactions_{window}d"] = recent.sum().cast("int64")
        metrics[f"inbound_{window}d"] = (recent & (_.direction == "inbound")).sum().cast("int64")
        metrics[f"outbound_{window}d"] = (recent & (_.direction == "outbound")).sum().cast(
            "int64")
    counts = events.group_by("customer_id").aggregate(
        **metrics,
        inbound=((_.direction == "inbound") & _.engaged).sum(),
        outbound=((_.direction == "outbound") & _.engaged).sum(),
        complaints=_.is_complaint.sum().cast("int64"),
        complaints_resolved=(_.is_complaint & _.resolved_by_then).sum().cast("int64"),
        mean_resolution_hours=_.hours.mean().cast("float64"),
        referrals=(_.kind == "referral").sum().cast("int64"),
        reviews=(_.kind == "review").sum().cast("int64"),
        ideas=(_.kind == "idea").sum().cast("int64"),
        service_requests=(_.kind == "service_request").sum().cast("int64"),
        n=_.tx.count(),
        sx=_.tx.sum(), sy=_.ty.sum(), sxx=(_.tx * _.tx).sum(), sxy=(_.tx * _.ty).sum(),
    )
    denominator = counts.n * counts.sxx - counts.sx * counts.sx
    trend = ibis.ifelse(
        (counts.n >= 2) & (denominator.abs() > 1e-12),
        (counts.n * counts.sxy - counts.sx * counts.sy) / denominator,
        ibis.null("float64"),
    )
    two_way = ibis.ifelse(
        ibis.greatest(counts.inbound, counts.outbound) > 0,
        ibis.least(counts.inbound, counts.outbound)
        / ibis.greatest(counts.inbound, counts.outbound),
        ibis.null("float64"),
    )
    summary = counts.select(
        "customer_id", *metrics,
        two_way_ratio=two_way.cast("float64"),
        complaints=counts.complaints,
        complaints_open=(counts.complaints - counts.complaints_resolved).cast("int64"),
        complaints_resolved=counts.complaints_resolved,
        mean_resolution_hours=counts.mean_resolution_hours,
        satisfaction_trend=trend.cast("float64"),
        referrals=counts.referrals, reviews=counts.reviews, ideas=counts.ideas,
        service_requests=counts.service_requests,
    )
    nps = _latest_score(events, "nps", "last_nps")
    csat = _latest_score(events, "csat", "last_csat")
    with_nps = summary.left_join(nps, "customer_id").drop("customer_id_right")
    return with_nps.left_join(csat, "customer_id").drop("customer_id_right")


def membership_features(memberships: ir.Table, *, as_of: date) -> ir.Table:
    """Bonds inputs: memberships active on the as-of day and the tier of the latest one.

    Active = started on or before the as-of day and not ended by then (``ended_at`` after
    the as-of day or empty). ``membership_tier`` is the tier of the most recently started
    active membership that has one.
    """
    active = memberships.filter(
        memberships.customer_id.notnull(),
        before_end_of(memberships.started_at, as_of),
        memberships.ended_at.isnull() | ~before_end_of(memberships.ended_at, as_of),
    )
    flags = active.group_by("customer_id").aggregate(
        active_memberships=_.count().cast("int64"),
        has_loyalty=(_.kind == "loyalty").any(),
        has_subscription=(_.kind == "subscription").any(),
        has_contract=(_.kind == "contract").any(),
    )
    tiers = (
        active.filter(_.tier.notnull())
        .mutate(rn=ibis.row_number().over(
            group_by="customer_id", order_by=[ibis.desc("started_at"), ibis.desc("id")]))
        .filter(_.rn == 0)
        .select("customer_id", membership_tier=_.tier)
    )
    return flags.left_join(tiers, "customer_id").drop("customer_id_right")
