"""The buy-till-you-die summary (frequency, recency, T, monetary value) per customer.

Exactly the summary of lifetimes' ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data`` [1]_, as an Ibis expression:

- purchases in the same period (day, or Monday-based week) are summed into one;
- ``frequency`` = number of purchase periods minus one (repeat purchases);
- ``recency`` = last minus first purchase period; ``T`` = as-of minus first period;
- ``monetary_value`` = mean value of the repeat periods (the first excluded), 0 if none.

Purchase rule: only transactions with a positive amount are purchases. Refunds and
zero-value orders (amount <= 0) are left out of the summary entirely (they reduce revenue
in :func:`kithkin.analytics.features.customer_features`, not the purchase process the
models describe). Transactions after the as-of date are excluded; a purchase dated before
the customer's acquisition date still counts (the data says they bought).

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers the
   Easy Way: An Alternative to the Pareto/NBD Model". Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.periods import (
    TimeUnit,
    before_end_of,
    day_number,
    day_of,
    period_number,
    period_of_day,
)


def purchases(transactions: ir.Table, *, as_of: date) -> ir.Table:
    """Positive-amount transactions up to and including the as-of day, with their day."""
    bought = transactions.filter(_.amount > 0, _.customer_id.notnull(),
                                 before_end_of(transactions.ordered_at, as_of))
    return bought.mutate(day=day_number(bought.ordered_at))


def _period_summary(bought: ir.Table, *, end_period: int) -> ir.Table:
    # The first period's value comes from arg_min in the same aggregation: one pass over
    # the purchase periods, no join back and no window (a window partitions every period
    # by customer; a join re-reads them), the cheapest form in DuckDB.
    by_period = bought.group_by("customer_id", period=_.day).aggregate(value=_.amount.sum())
    per_customer = by_period.group_by("customer_id").aggregate(
        periods=_.period.count(),
        first_period=_.period.min(),
        last_period=_.period.max(),
        total=_.value.sum(),
        first_value=_.value.argmin(_.period),
    )
    return per_customer.select(
        "customer_id",
        frequency=(_.periods - 1).cast("float64"),
        recency=(_.last_period - _.first_period).cast("float64"),
        T=(end_period - _.first_period).cast("float64"),
        monetary_value=ibis.ifelse(
            _.periods > 1, (_.total - _.first_value) / (_.periods - 1), 0.0
        ).cast("float64"),
    )


def customer_summary(
    transactions: ir.Table,
    *,
    as_of: date,
    time_unit: TimeUnit = "D",
    calibration_end: date | None = None,
    observation_end: date | None = None,
) -> ir.Table:
    """Per customer with a purchase: frequency, recency, T, monetary_value (see module doc).

    With ``calibration_end`` the result is lifetimes' calibration/holdout split:
    ``frequency_cal, recency_cal, T_cal, monetary_value_cal`` up to ``calibration_end`` and
    ``frequency_holdout, monetary_value_holdout, duration_holdout`` after it up to
    ``observation_end`` (default and at most ``as_of``). As in lifetimes, the holdout
    monetary value is the mean of the holdout transactions themselves (not per period).
    """
    end = min(observation_end or as_of, as_of)
    if calibration_end is None:
        bought = purchases(transactions, as_of=end)
        if time_unit != "D":  # daily periods are the days themselves: no second column
            bought = bought.mutate(day=period_number(_.day, time_unit))
        return _period_summary(bought, end_period=period_of_day(day_of(end), time_unit))

    cal_day = day_of(calibration_end)
    calibration = customer_summary(transactions, as_of=calibration_end, time_unit=time_unit)
    calibration = calibration.rename({f"{c}_cal": c for c in calibration.columns
                                      if c != "customer_id"})
    holdout = (
        purchases(transactions, as_of=end)
        .filter(_.day > cal_day)
        .mutate(period=period_number(_.day, time_unit))
        .group_by("customer_id")
        .aggregate(frequency_holdout=_.period.nunique().cast("float64"),
                   monetary_value_holdout=_.amount.mean().cast("float64"))
    )
    duration = period_of_day(day_of(end), time_unit) - period_of_day(cal_day, time_unit)
    joined = calibration.left_join(holdout, "customer_id")
    return joined.select(
        *[calibration[c] for c in calibration.columns],
        frequency_holdout=holdout.frequency_holdout.fill_null(0.0),
        monetary_value_holdout=holdout.monetary_value_holdout.fill_null(0.0),
        # Tied to a double column: ibis renders a float literal bare, PostgreSQL reads a bare
        # 90.0 as numeric, and Arrow will not take its Decimal as a double.
        duration_holdout=calibration.T_cal * 0.0 + float(duration),
    )
