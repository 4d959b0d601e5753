"""The at-risk score: P(no purchase in the next ``horizon`` days), per customer.

Trained on the data's own past, scored on its present: features as of the calibration
end ``T - h`` (purchase history, the three purchase models fitted on the calibration
part, complaints, satisfaction, memberships) with the label "no purchase in (T - h, T]",
then the same features as of ``T`` (models fitted on the whole history) give the score.
A logistic regression (:mod:`kithkin.atrisk.logistic`) combines them, so a model signal
that is useless on this business (BG/NBD's P(alive) of one-time buyers) gets a small
weight instead of the final say, and the silence relative to the customer's own pace
counts for what it is worth here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from kithkin.atrisk import logistic
from kithkin.atrisk.selection import CANDIDATES, Fitted
from kithkin.errors import KithkinError, ValidationError

MIN_TRAINING = 50  # fewer calibration customers: no score (unknown, not a guess)
# Training rows: a seeded sample beyond this (two dozen coefficients need far fewer
# customers; scoring covers everyone)
TRAIN_SAMPLE = 100_000


@dataclass
class History:
    """Purchase summary of customers as of one date, aligned with their signals."""

    customer_id: np.ndarray
    x: np.ndarray
    tx: np.ndarray
    age: np.ndarray
    signals: pd.DataFrame  # DESIGN_SIGNALS, one row per customer in the same order
    as_of_day: int

    @classmethod
    def of(cls, summary: pd.DataFrame, signals: pd.DataFrame | None, *, as_of_day: int,
           suffix: str = "") -> History:
        ids = summary["customer_id"].to_numpy()
        aligned = _align(signals, ids)
        return cls(customer_id=ids,
                   x=summary[f"frequency{suffix}"].to_numpy(dtype=float),
                   tx=summary[f"recency{suffix}"].to_numpy(dtype=float),
                   age=summary[f"T{suffix}"].to_numpy(dtype=float),
                   signals=aligned, as_of_day=as_of_day)


    def take(self, rows: np.ndarray) -> History:
        return History(customer_id=self.customer_id[rows], x=self.x[rows], tx=self.tx[rows],
                       age=self.age[rows], signals=self.signals.iloc[rows]
                       .reset_index(drop=True), as_of_day=self.as_of_day)


# the signals the design reads (numbers; NaN where a customer has none)
DESIGN_SIGNALS = ("complaints", "complaints_recent", "satisfaction", "active_memberships",
                  "ended_memberships", "last_membership_end_day")


def _align(signals: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame:
    """The design's signals of customers ``ids``, in that order (NaN for a customer
    without a row): what a reindex of the frame by customer gives those columns, taken
    column by column as NumPy floats (a reindex of a million-row frame by a million ids,
    object column included, cost more than the score)."""
    if signals is None or len(signals) == 0:
        return pd.DataFrame({c: np.full(len(ids), np.nan) for c in DESIGN_SIGNALS})
    index = (pd.Index(signals["customer_id"]) if "customer_id" in signals
             else signals.index)
    if not index.is_unique:
        raise ValidationError("the signals hold more than one row for a customer")
    where = index.get_indexer(ids)
    missing = where < 0
    columns = {}
    for name in DESIGN_SIGNALS:
        values = signals[name].to_numpy(dtype=float).take(where)
        values[missing] = np.nan
        columns[name] = values
    return pd.DataFrame(columns)


def model_signals(fits: Fitted, history: History, horizon: float) -> dict[str, np.ndarray]:
    """P(alive) and expected purchases in ``horizon`` days of every fitted candidate
    (a model asked again for customers it has just scored, as the refresh's models step
    has, answers P(alive) from its memo: :meth:`kithkin.clv.base.TransactionModel._alive`)."""
    out: dict[str, np.ndarray] = {}
    for name, model in fits.models.items():
        out[f"p_alive_{name}"] = model.probability_alive(history.x, history.tx, history.age)
        out[f"expected_{name}"] = model.expected_purchases(horizon, history.x, history.tx,
                                                           history.age)
    return out


def design(history: History, models: dict[str, np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The feature matrix (see the module docstring) and its column names."""
    columns = design_columns(history, models)
    names = tuple(columns)
    return np.column_stack([columns[n] for n in names]), names


def design_columns(history: History, models: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feature matrix's columns by name, in its order (:func:`design`)."""
    x, tx, age = history.x, history.tx, history.age
    silence = np.maximum(age - tx, 0.0)
    repeat = x > 0
    pace = np.where(repeat, tx / np.maximum(x, 1.0), np.nan)  # own inter-purchase time
    columns: dict[str, np.ndarray] = {
        "log_frequency": np.log1p(x),
        "log_silence": np.log1p(silence),
        "log_age": np.log1p(age),
        "one_time_buyer": (~repeat).astype(float),
        "log_silence_over_pace": np.where(repeat, np.log1p(silence / np.maximum(pace, 1.0)),
                                          0.0),
        "log_pace": np.where(repeat, np.log1p(pace), 0.0),
    }
    for name in CANDIDATES:
        if f"p_alive_{name}" in models:
            alive = np.clip(models[f"p_alive_{name}"], 1e-6, 1 - 1e-6)
            columns[f"logit_p_alive_{name}"] = special.logit(alive)
            columns[f"log_expected_{name}"] = np.log1p(models[f"expected_{name}"])
    s = history.signals
    complaints = s["complaints"].fillna(0).to_numpy(dtype=float)
    satisfaction = s["satisfaction"].to_numpy(dtype=float)
    active = s["active_memberships"].fillna(0).to_numpy(dtype=float)
    ended = s["ended_memberships"].fillna(0).to_numpy(dtype=float)
    end_day = s["last_membership_end_day"].to_numpy(dtype=float)
    lapsed = (ended > 0) & (active == 0)
    columns.update({
        "log_complaints": np.log1p(complaints),
        "log_complaints_recent": np.log1p(s["complaints_recent"].fillna(0)
                                          .to_numpy(dtype=float)),
        "satisfaction": np.where(np.isnan(satisfaction), 0.0, satisfaction - 0.5),
        "satisfaction_unknown": np.isnan(satisfaction).astype(float),
        "member": (active > 0).astype(float),
        "membership_lapsed": lapsed.astype(float),
        "log_days_since_membership_end": np.where(
            lapsed, np.log1p(np.maximum(history.as_of_day - end_day, 0.0)), 0.0),
    })
    return columns


@dataclass
class AtRisk:
    """The score per customer of the scoring history, and what the run records."""

    score: np.ndarray | None
    record: dict[str, Any] = field(default_factory=dict)


def train_and_score(*, then: History, label_no_purchase: np.ndarray, then_fits: Fitted,
                    now: History, now_fits: Fitted, horizon: float) -> AtRisk:
    """Fit on ``then`` (label: no purchase in the following ``horizon`` days) and score
    ``now``. Without enough training customers or both outcomes, no score (None) and the
    record says why."""
    record: dict[str, Any] = {"horizon_days": horizon, "training_customers": len(then.x),
                              "training_base_rate": _rate(label_no_purchase)}
    if len(then.x) < MIN_TRAINING:
        record["error"] = (f"only {len(then.x)} customers bought before the training date; "
                           f"at least {MIN_TRAINING} are needed")
        return AtRisk(None, record)
    # a candidate that failed on either side is left out of both, so columns match
    names = tuple(n for n in CANDIDATES if n in then_fits.models and n in now_fits.models)
    then_fits = Fitted({n: then_fits.models[n] for n in names})
    now_fits = Fitted({n: now_fits.models[n] for n in names})
    if len(then.x) > TRAIN_SAMPLE:
        # drawn from the customers in id order, kept in it: the engine returns rows in
        # an order of its own (DuckDB's varies between runs), and the score must not
        picked = np.sort(np.random.default_rng(0).choice(len(then.x), TRAIN_SAMPLE,
                                                         replace=False))
        rows = np.argsort(then.customer_id, kind="stable")[picked]
        then, label_no_purchase = then.take(rows), label_no_purchase[rows]
        record["training_sample"] = TRAIN_SAMPLE
    X_then, columns = design(then, model_signals(then_fits, then, horizon))
    try:
        fitted = logistic.fit(X_then, label_no_purchase, columns)
    except KithkinError as exc:
        record["error"] = str(exc)
        return AtRisk(None, record)
    score = fitted.predict_columns(design_columns(now, model_signals(now_fits, now,
                                                                     horizon)))
    record.update(fitted.record())
    record["mean_score"] = round(float(score.mean()), 4) if score.size else None
    return AtRisk(score, record)


def _rate(label: np.ndarray) -> float | None:
    return round(float(np.mean(label)), 4) if len(label) else None
