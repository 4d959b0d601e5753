"""The model step of a refresh: a purchase model + Gamma-Gamma on the as-of summary.

The purchase model is BG/NBD unless the caller passes one already fitted: ``kithkin
refresh`` passes the one its holdout chose among BG/NBD, MBG/NBD and Pareto/NBD
(:mod:`kithkin.atrisk.selection`), stored under its own key (``bg_nbd``, ``mbg_nbd``,
``pareto_nbd``) with ``purchase_model`` naming it.

Kept apart from the Ibis code because it runs in NumPy (kithkin.clv) on the summary in
memory. Time unit: days (the summary is daily), so ``expected_purchases_90d`` uses t = 90.

CLV is the discounted expected margin over ``horizon_days`` (default 365, i.e. 12
months) [1]_: margin ratio x expected spend x discounted expected purchases. The margin
ratio is the option given, or the data's own ratio (total margin / revenue of customers
whose margin is known, clipped to [0, 1]), or, when no cost is known at all, the one
documented assumption ``Settings.default_margin`` (``KITHKIN_DEFAULT_MARGIN``, 0.25): the
run records which (``margin_source``: option, data or assumed) so every page can say
"assumed" instead of passing an assumption off as a measured margin.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: Using Iso-Value
   Curves for Customer Base Analysis". Journal of Marketing Research 42(4), 415-430.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kithkin.clv import BetaGeo, GammaGamma, TransactionModel
from kithkin.errors import ConvergenceError, ValidationError

MODEL_COLUMNS: tuple[str, ...] = ("p_alive", "expected_purchases_90d", "expected_spend", "clv")
PREDICTION_DAYS = 90


@dataclass(frozen=True)
class ModelOptions:
    horizon_days: float = 365.0
    discount_rate_annual: float = 0.10
    margin: float | None = None  # None: the data's margin ratio
    holdout_days: int = 90  # the fit check of kithkin.analytics.holdout; 0: none
    # the purchase model behind P(alive): "auto" (the holdout's choice, kithkin.atrisk),
    # or one of bg_nbd, mbg_nbd, pareto_nbd pinned by the analyst
    purchase_model: str = "auto"


@dataclass
class ModelOutput:
    """Per-customer predictions (customer_id + MODEL_COLUMNS) and what was fitted."""

    predictions: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # seconds per part: "fit BG/NBD", "fit Gamma-Gamma", "score" (benchmarks/clv_vs_lifetimes)
    timings: dict[str, float] = field(default_factory=dict)


MarginSource = Literal["option", "data", "assumed"]


def margin_ratio(features: pd.DataFrame) -> float | None:
    """Total margin over the revenue of customers whose margin is known; None when no
    customer's margin is known (no cost in the data: the margin is unknown, not 100 %)."""
    known = features["margin"].notna() & features["revenue"].notna()
    revenue = float(features.loc[known, "revenue"].sum())
    if revenue <= 0:
        return None
    return float(np.clip(features.loc[known, "margin"].sum() / revenue, 0.0, 1.0))


def choose_margin(features: pd.DataFrame, *, option: float | None,
                  default_margin: float) -> tuple[float, MarginSource]:
    """The margin ratio CLV uses and where it comes from: the ``--margin`` option, else
    the data's own ratio, else the configured assumption (``default_margin``)."""
    if option is not None:
        return option, "option"
    measured = margin_ratio(features)
    if measured is not None:
        return measured, "data"
    return default_margin, "assumed"


def fit_and_predict(summary: pd.DataFrame, *, margin: float, options: ModelOptions,
                    margin_source: MarginSource = "option",
                    purchase_model: tuple[str, TransactionModel] | None = None
                    ) -> ModelOutput:
    """Fit BG/NBD (or take ``purchase_model``, a (key, fitted model) pair) and
    Gamma-Gamma; on a convergence failure keep what could be computed.

    A BG/NBD failure (e.g. every customer has frequency 0) leaves all model columns empty;
    a Gamma-Gamma failure leaves spend and CLV empty. The error text is returned so the
    refresh reports it and stores it with the run.
    """
    out = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()})
    for name in MODEL_COLUMNS:
        out[name] = np.nan
    output = ModelOutput(predictions=out, params={**vars(options), "margin": margin,
                                                   "margin_source": margin_source})
    if summary.empty:
        output.error = "no customer has a purchase on or before the as-of date"
        return output
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    age = summary["T"].to_numpy(dtype=float)
    spend = summary["monetary_value"].to_numpy(dtype=float)
    clock = time.perf_counter()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        output.timings[part] = output.timings.get(part, 0.0) + now - clock
        clock = now

    key = "bg_nbd"
    bg: TransactionModel
    if purchase_model is not None:
        key, bg = purchase_model
    else:
        try:
            bg = BetaGeo().fit(frequency=x, recency=tx, T=age)
        except (ConvergenceError, ValidationError) as exc:
            output.error = f"BG/NBD: {exc}"
            return output
        finally:
            lap("fit BG/NBD")
    output.params["purchase_model"] = key
    output.params[key] = json.loads(bg.to_json())
    out["p_alive"] = bg.probability_alive(x, tx, age)
    out["expected_purchases_90d"] = bg.expected_purchases(PREDICTION_DAYS, x, tx, age)
    lap("score")
    try:
        gg = GammaGamma().fit(frequency=x, monetary_value=spend)
    except (ConvergenceError, ValidationError) as exc:
        output.error = f"Gamma-Gamma: {exc}"
        return output
    finally:
        lap("fit Gamma-Gamma")
    output.params["gamma_gamma"] = json.loads(gg.to_json())
    out["expected_spend"] = gg.expected_spend(x, spend)
    out["clv"] = gg.customer_lifetime_value(
        bg, frequency=x, recency=tx, T=age, monetary_value=spend,
        horizon_days=options.horizon_days, discount_rate_annual=options.discount_rate_annual,
        margin=margin, time_unit_days=1.0,
    )
    lap("score")
    return output
