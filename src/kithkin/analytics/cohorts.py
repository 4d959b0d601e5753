"""Cohort retention and repeat purchase rate.

A customer's cohort is the calendar month (or Monday-based week) of their first purchase
(positive amount, on or before the as-of day) - the acquisition period as the data shows
it, whatever the stored acquisition date says. ``period_number`` counts periods since
acquisition (0 = the acquisition period itself); a customer is *active* in a period when
they made a purchase in it. Periods in which nobody bought anything are absent.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.periods import FIRST_MONDAY
from kithkin.analytics.summary import purchases

Period = Literal["month", "week"]


def _with_period(bought: ir.Table, period: Period) -> ir.Table:
    # Calendar fields of the UTC wall-clock time (every engine runs its session in UTC).
    utc = bought.ordered_at.cast("timestamp")
    if period == "month":
        return bought.mutate(period=month_number(bought.ordered_at),
                             start=utc.truncate("M").date())
    return bought.mutate(period=((bought.day - FIRST_MONDAY) // 7).cast("int64"),
                         start=utc.truncate("W").date())


def _live_customers(customers: ir.Table) -> ir.Table:
    """Customers not merged into another record. Erased ones count: their orders stay
    under a pseudonymous id, so retention does not move when someone is erased."""
    return customers.filter(_.merged_into_id.isnull()).select(
        customer_id=_.id)


def cohort_retention(
    transactions: ir.Table, customers: ir.Table, *, as_of: date, period: Period = "month"
) -> ir.Table:
    """Long table: cohort (first day of the period), period_number, customers, active, rate."""
    bought = _with_period(purchases(transactions, as_of=as_of), period)
    bought = bought.join(_live_customers(customers), "customer_id")
    active = bought.select("customer_id", "period").distinct()
    acquired = bought.group_by("customer_id").aggregate(cohort=_.period.min(),
                                                         start=_.start.min())
    sizes = acquired.group_by("cohort", "start").aggregate(customers=_.count())
    activity = (
        active.join(acquired.drop("start"), "customer_id")
        .mutate(period_number=_.period - _.cohort)
        .group_by("cohort", "period_number")
        .aggregate(active=_.customer_id.nunique())
    )
    grid = sizes.cross_join(active.select(p=_.period).distinct()).filter(_.p >= _.cohort)
    grid = grid.mutate(period_number=_.p - _.cohort)
    table = grid.left_join(activity, ["cohort", "period_number"])
    return table.select(
        cohort=table.start,
        period_number=table.period_number.cast("int64"),
        customers=table.customers.cast("int64"),
        active=table.active.fill_null(0).cast("int64"),
        rate=(table.active.fill_null(0) / table.customers).cast("float64"),
    )


def repeat_purchase_rate(transactions: ir.Table, *, as_of: date) -> ir.Table:
    """One row: customers with a purchase, those with purchases on two or more days, rate."""
    bought = purchases(transactions, as_of=as_of)
    days = bought.group_by("customer_id").aggregate(days=_.day.nunique())
    return days.aggregate(
        customers=_.count().cast("int64"),
        repeat_customers=(_.days >= 2).sum().cast("int64"),
    ).mutate(rate=(_.repeat_customers / _.customers).cast("float64"))


def month_number(ordered_at: ir.TimestampValue) -> ir.IntegerValue:
    """Months since year 0 of the UTC wall-clock time (every engine's session is UTC)."""
    utc = ordered_at.cast("timestamp")
    return (utc.year() * 12 + utc.month() - 1).cast("int64")


def monthly_activity(transactions: ir.Table, *, months: int) -> ir.Table:
    """Revenue, orders and month-on-month retention of the last ``months`` calendar months
    up to the month of the latest transaction (the dashboard's trend).

    Every transaction counts (refunds reduce revenue, each is an order). One row per month
    that has transactions or follows one: ``month`` (months since year 0), ``revenue``,
    ``orders``, and ``buyers_before`` / ``retained``: the customers who bought in the
    month before and those of them who bought again in this one. The month before the
    window is read too, so the first month has its retention.
    """
    dated = transactions.mutate(month=month_number(_.ordered_at))
    recent = dated.filter(_.month >= dated.month.max() - months)
    totals = recent.group_by("month").aggregate(
        revenue=_.amount.sum().cast("float64"), orders=_.count().cast("int64"))
    active = recent.select("customer_id", "month").distinct()
    following = active.view()
    kept = active.left_join(
        following, (active.customer_id == following.customer_id)
        & (following.month == active.month + 1)).select(
        month=active.month + 1, customer_id=active.customer_id,
        again=following.customer_id)
    retention = kept.group_by("month").aggregate(
        buyers_before=_.customer_id.count().cast("int64"),
        retained=_.again.count().cast("int64"))
    joined = totals.outer_join(retention, totals.month == retention.month)
    return joined.select(
        month=totals.month.coalesce(retention.month).cast("int64"),
        revenue=totals.revenue, orders=totals.orders,
        buyers_before=retention.buyers_before, retained=retention.retained)


def transaction_totals(transactions: ir.Table) -> ir.Table:
    """One row: ``orders`` (every transaction, refunds included, as in
    :func:`monthly_activity`) and ``revenue`` (their net sum; null without transactions)."""
    return transactions.aggregate(orders=_.count().cast("int64"),
                                  revenue=_.amount.sum().cast("float64"))
