"""Choose the purchase model behind P(alive) on a holdout inside the data.

BG/NBD gives every one-time buyer P(alive) = 1 by construction (a customer can only die
right after a purchase), so on a log where most customers buy once and never again it
ranks the dead first. Pareto/NBD and MBG/NBD let a one-time buyer die too. Which of the
three describes a given business is an empirical question, so each refresh answers it:
all three are fitted on the calibration part of the history (all but the last
``holdout_days``) and judged on the holdout:

- ``auc``: the ROC AUC of P(alive) at the calibration end for "bought again in the
  holdout" -- P(alive) is used to rank customers, so ranking is what it is judged on;
- ``mean_absolute_error``: expected vs actual holdout purchases per customer (recorded;
  it breaks ties within :data:`AUC_TIE` and decides when no AUC can be computed).

The chosen model is then fitted on the whole history for the stored P(alive) and
expected purchases; the run records every candidate's figures and the choice.

Fits of models that do not regroup rows themselves (MBG/NBD, Pareto/NBD) use a seeded
random sample of at most :data:`FIT_SAMPLE` customers, drawn in customer-id order so the
same data gives the same fits (predictions are made for everyone;
BG/NBD, cheap at any size, sees everyone): Pareto/NBD's likelihood costs a special
function per distinct history, which at a million customers would take minutes, while
four population parameters are pinned down by tens of thousands of customers (CDNOW's
classic fits use 2,357). The record says how many customers the sampled fits saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from kithkin.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD, TransactionModel
from kithkin.errors import ConvergenceError, KithkinError, ValidationError

CANDIDATES: dict[str, type[TransactionModel]] = {
    "bg_nbd": BetaGeo, "mbg_nbd": ModifiedBetaGeo, "pareto_nbd": ParetoNBD}
LABELS = {"bg_nbd": "BG/NBD", "mbg_nbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}
AUC_TIE = 0.005
FIT_SAMPLE = 10_000
# when nothing can be judged: the one that does not call every one-time buyer alive
DEFAULT = "pareto_nbd"


def roc_auc(score: npt.ArrayLike, label: npt.ArrayLike) -> float | None:
    """Mann-Whitney ROC AUC (ties count one half); None when one class is absent."""
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(label, dtype=bool)
    keep = np.isfinite(s)
    s, y = s[keep], y[keep]
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass
class Fitted:
    """Per candidate: the model fitted on a history (None when it failed) and why not."""

    models: dict[str, TransactionModel] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    sample: int = 0  # customers the sampled fits saw


def fit_sample(size: int, *, limit: int = 0, seed: int = 0) -> np.ndarray | None:
    """Row indices of the fitting sample (None: every row)."""
    limit = limit or FIT_SAMPLE
    if size <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, limit, replace=False))


def fit_all(x: np.ndarray, tx: np.ndarray, age: np.ndarray,
            names: tuple[str, ...] = tuple(CANDIDATES), *, limit: int = 0,
            ids: np.ndarray | None = None) -> Fitted:
    """Fit every candidate on the sample of :func:`fit_sample`; a failure is recorded,
    not raised (a check must not fail the refresh, and the other candidates may still
    fit).

    ``ids`` (the customer ids of the rows): the sample is drawn from the rows in id
    order, so it does not depend on the order the analytics engine returned them in
    (DuckDB's varies from run to run, and with it the sampled fits)."""
    out = Fitted()
    rows = fit_sample(len(x), limit=limit)
    if ids is not None and rows is not None:
        rows = np.argsort(ids, kind="stable")[rows]
    sx, stx, sage = (x, tx, age) if rows is None else (x[rows], tx[rows], age[rows])
    out.sample = len(sx)
    for name in names:
        model = CANDIDATES[name]
        # a model that regroups rows itself (BG/NBD) is cheap on everyone: no sample
        whole = model._regroups_rows
        try:
            out.models[name] = model().fit(frequency=x if whole else sx,
                                           recency=tx if whole else stx,
                                           T=age if whole else sage)
        except (ConvergenceError, ValidationError) as exc:
            out.errors[name] = str(exc)
    return out


def validate(split: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], Fitted]:
    """Every candidate's holdout figures from a calibration/holdout summary (columns of
    :func:`kithkin.analytics.summary.customer_summary` with ``calibration_end``), and
    the calibration fits (the at-risk score trains on their outputs)."""
    x = split["frequency_cal"].to_numpy(dtype=float)
    tx = split["recency_cal"].to_numpy(dtype=float)
    age = split["T_cal"].to_numpy(dtype=float)
    actual = split["frequency_holdout"].to_numpy(dtype=float)
    length = float(split["duration_holdout"].iloc[0]) if len(split) else 0.0
    fitted = fit_all(x, tx, age, ids=split["customer_id"].to_numpy()
                     if "customer_id" in split else None)
    records: dict[str, dict[str, Any]] = {}
    for name in CANDIDATES:
        if name in fitted.errors:
            records[name] = {"error": fitted.errors[name]}
            continue
        model = fitted.models[name]
        try:
            alive = model.probability_alive(x, tx, age)
            expected = model.expected_purchases(length, x, tx, age)
        except KithkinError as exc:
            records[name] = {"error": str(exc)}
            continue
        auc = roc_auc(alive, actual > 0)
        records[name] = {
            "params": {k: round(float(v), 6) for k, v in model.params_.items()},
            "auc": None if auc is None else round(auc, 4),
            "mean_absolute_error": round(float(np.mean(np.abs(expected - actual))), 4),
            "p_alive_one_time_buyers": _mean_or_none(alive[x == 0]),
        }
    return records, fitted


def _mean_or_none(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 4) if values.size else None


def choose(records: dict[str, dict[str, Any]]) -> str | None:
    """The candidate with the best holdout AUC (ties within :data:`AUC_TIE` go to the
    lower error); the lowest error when no AUC exists; None when none fitted."""
    usable = {name: r for name, r in records.items() if "error" not in r}
    if not usable:
        return None
    with_auc = {name: r for name, r in usable.items() if r["auc"] is not None}
    if with_auc:
        best = max(r["auc"] for r in with_auc.values())
        close = [name for name, r in with_auc.items() if r["auc"] >= best - AUC_TIE]
        return min(close, key=lambda name: (usable[name]["mean_absolute_error"],
                                            name != DEFAULT))
    return min(usable, key=lambda name: usable[name]["mean_absolute_error"])
