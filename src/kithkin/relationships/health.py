"""Relationship health: one 0-100 score per characteristic of a genuine relationship.

Seed 001 (Peppers & Rogers, *Managing Customer Relationships*) names seven
characteristics: mutual, interactive, iterative, ongoing benefit, change in behaviour,
unique, and trust. Each score below is computed from stated metrics; the formulas and
why they measure their characteristic are in docs/relationships.md. Components are in
[0, 1]; ``saturate(x, r)`` is ``min(1, x / r)``.

Unknown is not zero. Each component names the kind of evidence it reads
(:mod:`kithkin.relationships.signals`); a component whose evidence the data does not
hold at all (no interaction was ever recorded, no cost, no category...) is left out,
and a characteristic with no component left is unknown (NaN, stored as null), not 0.
Where the data does hold a kind of evidence, a customer without it scores 0 on that
component (the firm records dialogue, and had none with this customer). The overall
score is the mean of the known characteristics; ``health_known`` says how many.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from kithkin.relationships.columns import FloatArray, at_least, flag, number, saturate
from kithkin.relationships.signals import ALL_SIGNALS, DataSignals

CHARACTERISTICS = (
    "mutual", "interactive", "iterative", "ongoing_benefit", "behaviour_change", "unique",
    "trust",
)

HEALTH_INPUTS = (
    "days_since_last_purchase", "inbound_90d", "outbound_90d", "has_preferences",
    "active_memberships", "two_way_ratio", "interactions_90d", "frequency", "tenure_days",
    "p_alive", "revenue", "margin", "categories_bought", "customized_orders",
    "has_account_manager", "profile_distinctiveness", "ideas", "reviews", "last_nps",
    "last_csat", "complaints", "complaints_resolved", "satisfaction_trend", "has_contract",
    "referrals",
)

REFERENCE_MARGIN_RATE = 0.30  # a 30 % margin earns the firm-side benefit in full
LAPSE_DAYS = 365  # a customer who bought within this many days takes part (mutual, iterative)


Part = tuple[FloatArray, bool]  # a component in [0, 1] and whether the data can show it


def _mean(*parts: Part, weights: tuple[float, ...] | None = None) -> FloatArray:
    """Weighted mean of the components the data can show (NaN values are left out per
    customer); NaN where none is left."""
    kept = [(values, w) for (values, shown), w in
            zip(parts, weights or (1.0,) * len(parts), strict=True) if shown]
    if not kept:
        return np.full(len(parts[0][0]), np.nan)
    total = np.zeros(len(kept[0][0]))
    weight = np.zeros(len(kept[0][0]))
    for values, w in kept:  # column by column: no stacked copy of the parts
        present = ~np.isnan(values)
        total += np.where(present, values, 0.0) * w
        weight += present * w
    return np.asarray(np.divide(total, weight, out=np.full(len(total), np.nan),
                                where=weight > 0), dtype=float)


def _both(customer: FloatArray, firm: FloatArray) -> FloatArray:
    """Geometric mean of the two sides: 0 when either side is known to be 0 (whatever the
    other one is, so an unknown side does not make it unknown), else NaN where a side is."""
    product = np.sqrt(customer * firm)
    return np.asarray(np.where((customer == 0) | (firm == 0), 0.0, product), dtype=float)


def mutual(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """Both parties take part: geometric mean of the customer's and the firm's side
    (unknown when the data holds nothing of what the firm does for the customer)."""
    bought_this_year = (number(frame, "days_since_last_purchase", np.inf) <= LAPSE_DAYS)
    customer = _mean((bought_this_year.astype(float), True),
                     (at_least(number(frame, "inbound_90d"), 1), signals.interactions))
    firm = _mean((at_least(number(frame, "outbound_90d"), 1), signals.interactions),
                 (flag(frame, "has_preferences"), signals.preferences),
                 (at_least(number(frame, "active_memberships"), 1), signals.memberships))
    return 100 * _both(customer, firm)


def interactive(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """Information is exchanged both ways, and often enough to build on."""
    return 100 * _mean((np.clip(number(frame, "two_way_ratio"), 0, 1), signals.interactions),
                       (saturate(number(frame, "interactions_90d"), 4), signals.interactions))


def iterative(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """A context builds up: repeat purchases and time together, while they go on. Past a
    year without a purchase the context fades, to nothing after two (a regular who
    stopped two years ago is not iterating with the firm any more)."""
    built = _mean((saturate(number(frame, "frequency"), 6), True),
                  (saturate(number(frame, "tenure_days"), 730), True))
    silent = number(frame, "days_since_last_purchase", np.inf)
    going_on = np.clip(2 - silent / LAPSE_DAYS, 0, 1)
    return np.asarray(100 * built * going_on, dtype=float)


def ongoing_benefit(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """Both gain: the customer keeps buying (P(alive)), the firm earns a margin. Unknown
    for a customer whose margin is unknown (no cost): an assumed margin is no evidence."""
    customer = np.clip(number(frame, "p_alive", np.nan), 0, 1)  # unknown: no fitted model
    revenue = number(frame, "revenue")
    margin = number(frame, "margin", np.nan)
    rate = np.divide(margin, revenue, out=np.zeros(len(frame)), where=revenue > 0)
    firm = np.where(np.isnan(margin), np.nan, saturate(rate, REFERENCE_MARGIN_RATE))
    return np.asarray(100 * _both(customer, firm), dtype=float)


def behaviour_change(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """Both adapt: the customer buys beyond a first category; the firm tailors its offer."""
    customer = saturate(number(frame, "categories_bought") - 1, 3)
    firm = _mean((flag(frame, "has_preferences"), signals.preferences),
                 (at_least(number(frame, "customized_orders"), 1), signals.customization))
    tailored = np.where(np.isnan(firm), np.nan, np.ceil(np.nan_to_num(firm)))  # either
    return 100 * _mean((customer, signals.categories),
                       (tailored, signals.preferences or signals.customization))


def unique(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """The relationship differs from the average one: a distinct purchase profile and a
    personal context (account manager, stored preferences, the customer's own voice)."""
    # unknown for a customer without category spend (no profile to compare)
    distinct = np.clip(number(frame, "profile_distinctiveness", np.nan), 0, 1)
    voice = at_least(number(frame, "ideas") + number(frame, "reviews"), 1)
    personal = _mean((flag(frame, "has_account_manager"), signals.account_managers),
                     (flag(frame, "has_preferences"), signals.preferences),
                     (voice, signals.interactions))
    has_personal = bool(signals.account_managers or signals.preferences
                        or signals.interactions)
    return 100 * _mean((distinct, signals.categories), (personal, has_personal),
                       weights=(0.6, 0.4))


def trust(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> FloatArray:
    """Trust and what it produces: satisfaction, fair complaint handling, a rising trend,
    commitment (contract or membership) and referrals; mean of the signals present."""
    nps = number(frame, "last_nps", np.nan) / 10
    csat = (number(frame, "last_csat", np.nan) - 1) / 4
    satisfaction = np.clip(np.where(np.isnan(nps), csat, nps), 0, 1)
    complaints = number(frame, "complaints")
    handled = np.divide(number(frame, "complaints_resolved"), complaints,
                        out=np.full(len(frame), np.nan), where=complaints > 0)
    trend = 0.5 + np.clip(number(frame, "satisfaction_trend", np.nan), -1, 1) / 2
    committed = np.maximum(flag(frame, "has_contract"),
                           at_least(number(frame, "active_memberships"), 1))
    referred = at_least(number(frame, "referrals"), 1)
    return 100 * _mean((satisfaction, True), (np.clip(handled, 0, 1), True), (trend, True),
                       (committed, signals.memberships), (referred, signals.interactions))


SCORERS = {
    "mutual": mutual, "interactive": interactive, "iterative": iterative,
    "ongoing_benefit": ongoing_benefit, "behaviour_change": behaviour_change,
    "unique": unique, "trust": trust,
}


def scorecard(frame: pd.DataFrame, signals: DataSignals = ALL_SIGNALS) -> pd.DataFrame:
    """customer_id, one ``health_<characteristic>`` column per characteristic (NaN where
    the data cannot show it), ``health_overall`` (the unweighted mean of the known ones,
    NaN if none) and ``health_known`` (how many are known), rounded to one decimal."""
    result = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()})
    for name in CHARACTERISTICS:
        result[f"health_{name}"] = np.round(SCORERS[name](frame, signals), 1)
    values = result[[f"health_{name}" for name in CHARACTERISTICS]].to_numpy(dtype=float)
    known = (~np.isnan(values)).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all unknown: NaN, on purpose
        result["health_overall"] = np.round(np.nanmean(values, axis=1), 1)
    result["health_known"] = known.astype("int64")
    return result
