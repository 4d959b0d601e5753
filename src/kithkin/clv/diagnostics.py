"""Calibration/holdout checks: does a model predict the purchases it did not see?

Fader, Hardie & Lee (2005, Figure 4) validate BG/NBD by splitting each customer's history
at a calibration date, fitting on the first part and comparing the conditional
expectation for the holdout window with what customers actually bought, grouped by
calibration frequency.  These helpers build that split and that table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from kithkin.clv import inputs
from kithkin.clv.base import TransactionModel
from kithkin.errors import ValidationError


def calibration_holdout_summary(
    transactions: pd.DataFrame,
    *,
    customer_column: str,
    date_column: str,
    calibration_end: pd.Timestamp | str,
    holdout_end: pd.Timestamp | str,
    time_unit_days: float = 1.0,
) -> pd.DataFrame:
    """Per-customer (frequency, recency, T) up to ``calibration_end`` and holdout counts.

    Purchases are counted per distinct day (several orders on one day are one purchase
    occasion, as in lifetimes and FHL).  Customers first seen after ``calibration_end``
    are left out.  Times are in units of ``time_unit_days`` days.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer, with columns ``frequency, recency, T, holdout_frequency,
        holdout_length``.
    """
    missing = {customer_column, date_column} - set(transactions.columns)
    if missing:
        raise ValidationError(f"transactions lack columns {sorted(missing)}")
    start, end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    if end <= start:
        raise ValidationError("holdout_end must be after calibration_end")
    days = pd.DataFrame({
        "customer": transactions[customer_column].to_numpy(),
        "day": pd.to_datetime(transactions[date_column]).dt.normalize().to_numpy(),
    }).drop_duplicates()
    days = days[days["day"] <= end]
    first = days.groupby("customer")["day"].transform("min")
    days = days[first <= start].assign(first=first[first <= start])
    calibration = days[days["day"] <= start].groupby("customer").agg(
        purchases=("day", "size"), first=("first", "first"), last=("day", "max")
    )
    holdout = days[days["day"] > start].groupby("customer").size()
    unit = pd.Timedelta(days=time_unit_days)
    return pd.DataFrame({
        "frequency": (calibration["purchases"] - 1).astype("float64"),
        "recency": (calibration["last"] - calibration["first"]) / unit,
        "T": (start - calibration["first"]) / unit,
        "holdout_frequency": holdout.reindex(calibration.index, fill_value=0).astype("float64"),
        "holdout_length": (end - start) / unit,
    })


def holdout_by_frequency(
    model: TransactionModel,
    *,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    holdout_frequency: ArrayLike,
    holdout_length: float,
    max_frequency: int = 7,
) -> pd.DataFrame:
    """Mean actual vs conditionally expected holdout purchases by calibration frequency.

    Frequencies at or above ``max_frequency`` are pooled into one ``"7+"`` row, and a
    final ``"all"`` row totals over every customer.
    """
    history = inputs.history(frequency, recency, T)
    actual = np.atleast_1d(inputs.as_float_array("holdout_frequency", holdout_frequency))
    inputs.same_length("frequency", history.frequency, holdout_frequency=actual)
    predicted = model.expected_purchases(holdout_length, history.frequency, history.recency,
                                         history.T)
    group = np.minimum(history.frequency, max_frequency).astype(int)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    frame = pd.DataFrame({"group": group, "actual": actual, "predicted": predicted})
    table = frame.groupby("group").agg(
        customers=("actual", "size"), actual_mean=("actual", "mean"),
        predicted_mean=("predicted", "mean"),
    )
    table.index = [labels[i] for i in table.index]
    table.loc["all"] = [len(frame), frame["actual"].mean(), frame["predicted"].mean()]
    table["customers"] = table["customers"].astype(int)
    return table
