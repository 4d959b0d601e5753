"""How well the refresh's purchase model predicts purchases it did not see.

Fader, Hardie & Lee (2005) validate BG/NBD by fitting it on a calibration period and
comparing the purchases it expects in the following holdout period with those customers
actually made (:mod:`kithkin.clv.diagnostics`). The refresh does the same with the last
``holdout_days`` before its as-of: the calibration summary and the holdout counts come
from the analytics engine (:func:`kithkin.analytics.summary.customer_summary` with
``calibration_end``), the chosen purchase model as fitted on the calibration part only
(:mod:`kithkin.atrisk.selection` fits every candidate there) predicts it, and the
result (mean actual vs expected purchases per customer, overall and by calibration
frequency, and the mean absolute error per customer) is stored with the run's model
parameters (``model_params["holdout"]``), printed by ``kithkin refresh`` and shown on the
dashboard's Analytics page. The fitted model the refresh stores is the one on all data.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kithkin.clv import BetaGeo, TransactionModel
from kithkin.clv.diagnostics import holdout_by_frequency
from kithkin.errors import ConvergenceError, KithkinError, ValidationError

MIN_CUSTOMERS = 10  # fewer calibration customers than this: no meaningful check


def calibration_end(as_of: date, holdout_days: int) -> date:
    return as_of - timedelta(days=holdout_days)


def evaluate(split: pd.DataFrame, *, as_of: date, holdout_days: int,
             model: TransactionModel | None = None) -> dict[str, Any]:
    """The holdout check from a calibration/holdout summary (columns ``frequency_cal,
    recency_cal, T_cal, frequency_holdout, duration_holdout``); a dict for the run
    record, with ``error`` instead of figures when the check cannot be made.

    ``model``: the purchase model already fitted on the calibration part (the refresh
    passes the one it chose); without it a BG/NBD is fitted here."""
    record: dict[str, Any] = {"days": holdout_days,
                              "calibration_end": calibration_end(as_of, holdout_days)
                              .isoformat(),
                              "customers": len(split)}
    if len(split) < MIN_CUSTOMERS:
        record["error"] = (f"only {len(split)} customers bought before the calibration end; "
                           f"at least {MIN_CUSTOMERS} are needed")
        return record
    x = split["frequency_cal"].to_numpy(dtype=float)
    tx = split["recency_cal"].to_numpy(dtype=float)
    age = split["T_cal"].to_numpy(dtype=float)
    actual = split["frequency_holdout"].to_numpy(dtype=float)
    length = float(split["duration_holdout"].iloc[0])
    if model is None:
        try:
            model = BetaGeo().fit(frequency=x, recency=tx, T=age)
        except (ConvergenceError, ValidationError) as exc:
            record["error"] = f"BG/NBD on the calibration period: {exc}"
            return record
    try:  # a check, not a step that may fail the refresh
        table = holdout_by_frequency(model, frequency=x, recency=tx, T=age,
                                     holdout_frequency=actual, holdout_length=length)
        predicted = model.expected_purchases(length, x, tx, age)
    except KithkinError as exc:
        record["error"] = f"holdout comparison: {exc}"
        return record
    overall = table.loc["all"]
    record.update({
        "model": type(model).__name__,
        "params": {name: round(float(value), 6) for name, value in model.params_.items()},
        "actual_mean": round(float(overall["actual_mean"]), 4),
        "predicted_mean": round(float(overall["predicted_mean"]), 4),
        "mean_absolute_error": round(float(np.mean(np.abs(predicted - actual))), 4),
        "by_frequency": [
            {"frequency": str(label), "customers": int(row["customers"]),
             "actual_mean": round(float(row["actual_mean"]), 4),
             "predicted_mean": round(float(row["predicted_mean"]), 4)}
            for label, row in table.iterrows() if label != "all"],
    })
    return record
