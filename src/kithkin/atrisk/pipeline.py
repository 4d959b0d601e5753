"""The refresh's "still a customer" steps on the analytics engine, as plain functions
(``kithkin refresh`` and benchmarks/retention_eval.py call the same ones).

1. :func:`choose_model`: the calibration/holdout split of the last ``holdout_days``,
   every candidate purchase model fitted and judged on it (:mod:`.selection`).
2. :func:`fit_full`: the candidates fitted on the whole history (the chosen one gives
   the stored P(alive) and expected purchases; all of them feed the score).
3. :func:`assess`: the at-risk score trained as of the calibration end and scored as of
   the refresh date (:mod:`.scoring`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics.history import split_of
from kithkin.analytics.holdout import calibration_end
from kithkin.analytics.periods import day_of
from kithkin.analytics.summary import customer_summary
from kithkin.atrisk import selection, signals
from kithkin.atrisk.scoring import AtRisk, History, train_and_score
from kithkin.clv import TransactionModel
from kithkin.errors import ValidationError

MIN_CUSTOMERS = 10


@dataclass
class ModelChoice:
    """The calibration split, the calibration fits, every candidate's holdout figures
    and the chosen candidate (None when none could be fitted)."""

    split: pd.DataFrame
    fits: selection.Fitted
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    chosen: str | None = None
    chosen_by: str = ""

    def record(self) -> dict[str, Any]:
        return {"candidates": self.records, "chosen": self.chosen,
                "label": selection.LABELS.get(self.chosen or "", None),
                "chosen_by": self.chosen_by, "customers": len(self.split),
                "fitted_on": self.fits.sample}


def calibration_split(source: analytics_engine.AnalyticsSource, *, as_of: date,
                      holdout_days: int, history: ir.Table | None = None) -> pd.DataFrame:
    """``history``: the refresh's :func:`kithkin.analytics.history.customer_history` with
    the same calibration end, when it has one (the split is a projection of it)."""
    end = calibration_end(as_of, holdout_days)
    expr = (customer_summary(source.transactions, as_of=as_of, calibration_end=end)
            if history is None else split_of(history, as_of=as_of, calibration_end=end))
    return analytics_engine.to_pandas(source, expr)


def choose_model(split: pd.DataFrame, *, holdout_days: int,
                 pinned: str = "auto") -> ModelChoice:
    """Judge every candidate on the split; with no holdout or too few customers the
    default (:data:`selection.DEFAULT`) is used and the record says so. ``pinned`` (a
    key of :data:`selection.CANDIDATES`) overrides the choice; the candidates are still
    judged and recorded, so the run shows what the pin costs."""
    if pinned != "auto" and pinned not in selection.CANDIDATES:
        raise ValidationError(f"purchase model {pinned!r}: use auto or one of "
                              f"{', '.join(selection.CANDIDATES)}")
    choice = _choose(split, holdout_days=holdout_days)
    if pinned != "auto":
        choice.chosen = pinned
        choice.chosen_by = f"pinned by the analyst (--purchase-model {pinned})"
    return choice


def _choose(split: pd.DataFrame, *, holdout_days: int) -> ModelChoice:
    if holdout_days <= 0 or len(split) < MIN_CUSTOMERS:
        why = ("no holdout period (holdout_days = 0)" if holdout_days <= 0 else
               f"only {len(split)} customers before the calibration end")
        return ModelChoice(split=split, fits=selection.Fitted(), chosen=selection.DEFAULT,
                           chosen_by=f"default: {why}")
    records, fits = selection.validate(split)
    chosen = selection.choose(records)
    return ModelChoice(split=split, fits=fits, records=records, chosen=chosen,
                       chosen_by=("holdout ROC AUC of P(alive) for a repeat purchase, "
                                  "ties to the lower mean absolute error")
                       if chosen else "none: no candidate could be fitted")


def fit_full(summary: pd.DataFrame) -> selection.Fitted:
    return selection.fit_all(summary["frequency"].to_numpy(dtype=float),
                             summary["recency"].to_numpy(dtype=float),
                             summary["T"].to_numpy(dtype=float),
                             ids=summary["customer_id"].to_numpy())


def chosen_model(choice: ModelChoice, full: selection.Fitted) -> TransactionModel | None:
    """The chosen candidate fitted on everything; when it failed there, the first
    candidate that fitted (the record keeps the failure)."""
    if choice.chosen and choice.chosen in full.models:
        return full.models[choice.chosen]
    return next(iter(full.models.values()), None)


def signals_frame(source: analytics_engine.AnalyticsSource, *, as_of: date) -> pd.DataFrame:
    return analytics_engine.to_pandas(source, signals.compute(source, as_of=as_of))


def signals_frames(source: analytics_engine.AnalyticsSource, *,
                   dates: Sequence[date]) -> list[pd.DataFrame]:
    """:func:`signals_frame` as of each of ``dates``, from one engine pass
    (:func:`kithkin.atrisk.signals.compute_at`): the score reads the signals as of the
    calibration end and as of the refresh date, and each pass costs a scan of both
    tables and a query compilation."""
    wide = analytics_engine.to_pandas(source, signals.compute_at(source, dates))
    frames = []
    for i in range(len(dates)):
        seen = wide[f"seen_{i}"].to_numpy(dtype=bool)
        frame = wide.loc[seen, ["customer_id", *(f"{c}_{i}" for c in signals.SIGNAL_COLUMNS)]]
        frames.append(frame.set_axis(["customer_id", *signals.SIGNAL_COLUMNS], axis=1)
                      .reset_index(drop=True))
    return frames


def assess(source: analytics_engine.AnalyticsSource, *, as_of: date, holdout_days: int,
           summary: pd.DataFrame, choice: ModelChoice, full: selection.Fitted,
           signals_now: pd.DataFrame | None = None,
           signals_then: pd.DataFrame | None = None) -> tuple[AtRisk, pd.DataFrame]:
    """The at-risk score of every customer of ``summary`` (same order), and the signals
    as of ``as_of`` (the defection rules read the membership ends from them).
    ``signals_then``: the signals as of the calibration end, when the caller has them
    (:func:`signals_frames`)."""
    now_signals = signals_now if signals_now is not None else signals_frame(source,
                                                                            as_of=as_of)
    now = History.of(summary, now_signals, as_of_day=day_of(as_of))
    if holdout_days <= 0 or not choice.fits.models:
        return AtRisk(None, {"error": "no calibration fits (see the model choice)"}), \
            now_signals
    cal_end = calibration_end(as_of, holdout_days)
    then_signals = signals_then if signals_then is not None else signals_frame(
        source, as_of=cal_end)
    then = History.of(choice.split, then_signals,
                      as_of_day=day_of(cal_end), suffix="_cal")
    label = (choice.split["frequency_holdout"].to_numpy(dtype=float) == 0).astype(float)
    result = train_and_score(then=then, label_no_purchase=label, then_fits=choice.fits,
                             now=now, now_fits=full, horizon=float(holdout_days))
    return result, now_signals
