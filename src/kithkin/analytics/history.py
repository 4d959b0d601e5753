"""Every customer's order history as of a date in one pass over the transactions.

The refresh needs three per-customer views of the same orders: the daily BTYD summary
(:func:`kithkin.analytics.summary.customer_summary`), its calibration/holdout split, and
the value features (:func:`kithkin.analytics.features.customer_features`). Each used to
be its own aggregation over every transaction; here the transactions are grouped once by
customer and day, then once by customer, into the aggregates all three are projections
of (:func:`summary_of`, :func:`split_of`, :func:`value_of`). The rules are those of the
two modules (a purchase is a positive amount; refunds count in revenue and margin only).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.periods import before_end_of, day_number, day_of

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")
SPLIT_COLUMNS = ("customer_id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                 "frequency_holdout", "monetary_value_holdout", "duration_holdout")


def costed_transactions(transactions: ir.Table, totals: ir.Table, *, as_of: date) -> ir.Table:
    """Transactions up to the as-of day with their day, order flag, margin and discount
    (``totals``: the per-transaction line cost and discount)."""
    txns = transactions.filter(before_end_of(transactions.ordered_at, as_of),
                               transactions.customer_id.notnull())
    txns = txns.mutate(day=day_number(txns.ordered_at))
    return txns.left_join(totals, txns.id == totals.transaction_id).select(
        "customer_id", "ordered_at", "day", "amount",
        is_order=txns.amount > 0,
        order_margin=txns.amount - txns.cost.coalesce(totals.line_cost),
        discounted=(txns.discount.fill_null(0.0) > 0) | totals.line_discounted.fill_null(False),
    )


def customer_history(costed: ir.Table, *, as_of: date,
                     calibration_end: date | None = None) -> ir.Table:
    """Per customer with a transaction: the aggregates of :func:`summary_of`,
    :func:`value_of` and (with ``calibration_end``) :func:`split_of`."""
    daily = costed.group_by("customer_id", "day").aggregate(
        orders=_.is_order.sum().cast("int64"),
        revenue=_.amount.sum(),
        margin=_.order_margin.sum(),
        value=_.amount.sum(where=_.is_order),  # null on a day without a purchase
        first_at=_.ordered_at.min(where=_.is_order),
        last_at=_.ordered_at.max(where=_.is_order),
        discounted_orders=(_.is_order & _.discounted).sum().cast("int64"),
    )
    bought = daily.orders > 0
    aggregates: dict[str, ir.Value] = {
        "periods": bought.sum().cast("int64"),
        "first_day": daily.day.min(where=bought),
        "last_day": daily.day.max(where=bought),
        "total": daily.value.sum(),
        "first_value": daily.value.argmin(daily.day, where=bought),
        "orders": daily.orders.sum().cast("int64"),
        "revenue": daily.revenue.sum().cast("float64"),
        "margin": daily.margin.sum().cast("float64"),
        "first_purchase_at": daily.first_at.min(),
        "last_purchase_at": daily.last_at.max(),
        "discounted_orders": daily.discounted_orders.sum().cast("int64"),
    }
    if calibration_end is not None:
        cal = daily.day <= day_of(calibration_end)
        later = bought & ~cal
        aggregates.update({
            "periods_cal": (bought & cal).sum().cast("int64"),
            "last_day_cal": daily.day.max(where=bought & cal),
            "total_cal": daily.value.sum(where=cal),
            "periods_holdout": later.sum().cast("int64"),
            "total_holdout": daily.value.sum(where=~cal),
            "orders_holdout": daily.orders.sum(where=~cal).cast("int64"),
        })
    return daily.group_by("customer_id").aggregate(**aggregates)


def _monetary(periods: ir.IntegerValue, total: ir.NumericValue,
              first_value: ir.NumericValue) -> ir.FloatingValue:
    """Mean value of the repeat periods (the first excluded), 0 without one."""
    return ibis.ifelse(periods > 1, (total - first_value) / (periods - 1), 0.0).cast("float64")


def summary_of(history: ir.Table, *, as_of: date) -> ir.Table:
    """The daily summary of :func:`kithkin.analytics.summary.customer_summary`."""
    end = day_of(as_of)
    buyers = history.filter(history.periods > 0)
    return buyers.select(
        "customer_id",
        frequency=(_.periods - 1).cast("float64"),
        recency=(_.last_day - _.first_day).cast("float64"),
        T=(end - _.first_day).cast("float64"),
        monetary_value=_monetary(_.periods, _.total, _.first_value),
    )


def split_of(history: ir.Table, *, as_of: date, calibration_end: date) -> ir.Table:
    """The daily calibration/holdout split of
    :func:`kithkin.analytics.summary.customer_summary` with ``calibration_end``."""
    cal_day = day_of(calibration_end)
    buyers = history.filter(history.periods_cal > 0)
    return buyers.select(
        "customer_id",
        frequency_cal=(_.periods_cal - 1).cast("float64"),
        recency_cal=(_.last_day_cal - _.first_day).cast("float64"),
        T_cal=(cal_day - _.first_day).cast("float64"),
        monetary_value_cal=_monetary(_.periods_cal, _.total_cal, _.first_value),
        frequency_holdout=_.periods_holdout.cast("float64"),
        monetary_value_holdout=ibis.ifelse(_.orders_holdout > 0,
                                           _.total_holdout / _.orders_holdout, 0.0)
        .cast("float64"),
        # tied to a double column, as customer_summary's (PostgreSQL reads a bare 90.0
        # as numeric)
        duration_holdout=(cal_day - _.first_day).cast("float64") * 0.0
        + float(day_of(as_of) - cal_day),
    )


def value_of(history: ir.Table, *, as_of: date) -> ir.Table:
    """The value columns of :func:`kithkin.analytics.features.customer_features` (without
    the breadth of products and categories bought)."""
    end = day_of(as_of)
    return history.select(
        "customer_id", "orders", "revenue", "margin",
        avg_order_value=ibis.ifelse(_.orders > 0, _.total / _.orders, ibis.null())
        .cast("float64"),
        first_purchase_at=_.first_purchase_at,
        last_purchase_at=_.last_purchase_at,
        days_since_last_purchase=(end - _.last_day).cast("float64"),
        tenure_days=(end - _.first_day).cast("float64"),
        discount_share=ibis.ifelse(_.orders > 0, _.discounted_orders / _.orders, ibis.null())
        .cast("float64"),
    )
