"""Relationship health: one 0-100 score per characteristic of a genuine relationship.

Seed 001 (Peppers & Rogers, *Managing Customer Relationships*) names seven
characteristics: mutual, interactive, iterative, ongoing benefit, change in behaviour,
unique, and trust. Each score below is computed from stated metrics; the formulas and
why they measure their characteristic are in docs/relationships.md. Components are in
[0, 1]; ``saturate(x, r)`` is ``min(1, x / r)``; missing inputs count as 0 (no evidence)
except in *trust*, which averages only the signals that exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kithkin.relationships.columns import (
    FloatArray,
    at_least,
    flag,
    mean_of,
    number,
    saturate,
)

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


def _mean(*parts: FloatArray) -> FloatArray:
    return mean_of(*parts)


def mutual(frame: pd.DataFrame) -> FloatArray:
    """Both parties take part: geometric mean of the customer's and the firm's side."""
    bought_this_year = (number(frame, "days_since_last_purchase", np.inf) <= 365)
    customer = _mean(bought_this_year.astype(float), at_least(number(frame, "inbound_90d"), 1))
    firm = _mean(at_least(number(frame, "outbound_90d"), 1), flag(frame, "has_preferences"),
                 at_least(number(frame, "active_memberships"), 1))
    return 100 * np.sqrt(customer * firm)


def interactive(frame: pd.DataFrame) -> FloatArray:
    """Information is exchanged both ways, and often enough to build on."""
    return 100 * _mean(np.clip(number(frame, "two_way_ratio"), 0, 1),
                       saturate(number(frame, "interactions_90d"), 4))


def iterative(frame: pd.DataFrame) -> FloatArray:
    """A context builds up: repeat purchases and time together."""
    return 100 * _mean(saturate(number(frame, "frequency"), 6),
                       saturate(number(frame, "tenure_days"), 730))


def ongoing_benefit(frame: pd.DataFrame) -> FloatArray:
    """Both gain: the customer keeps buying (P(alive)), the firm earns a margin."""
    customer = np.clip(number(frame, "p_alive"), 0, 1)
    revenue = number(frame, "revenue")
    rate = np.divide(number(frame, "margin"), revenue, out=np.zeros(len(frame)),
                     where=revenue > 0)
    firm = saturate(rate, REFERENCE_MARGIN_RATE)
    return 100 * np.sqrt(customer * firm)


def behaviour_change(frame: pd.DataFrame) -> FloatArray:
    """Both adapt: the customer buys beyond a first category; the firm tailors its offer."""
    customer = saturate(number(frame, "categories_bought") - 1, 3)
    firm = np.maximum(flag(frame, "has_preferences"),
                      at_least(number(frame, "customized_orders"), 1))
    return 100 * _mean(customer, firm)


def unique(frame: pd.DataFrame) -> FloatArray:
    """The relationship differs from the average one: a distinct purchase profile and a
    personal context (account manager, stored preferences, the customer's own voice)."""
    distinct = np.clip(number(frame, "profile_distinctiveness"), 0, 1)
    voice = at_least(number(frame, "ideas") + number(frame, "reviews"), 1)
    personal = _mean(flag(frame, "has_account_manager"), flag(frame, "has_preferences"), voice)
    return 100 * (0.6 * distinct + 0.4 * personal)


def trust(frame: pd.DataFrame) -> FloatArray:
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
    signals = np.vstack([satisfaction, np.clip(handled, 0, 1), trend, committed, referred])
    return np.asarray(100 * np.nanmean(signals, axis=0), dtype=float)


SCORERS = {
    "mutual": mutual, "interactive": interactive, "iterative": iterative,
    "ongoing_benefit": ongoing_benefit, "behaviour_change": behaviour_change,
    "unique": unique, "trust": trust,
}


def scorecard(frame: pd.DataFrame) -> pd.DataFrame:
    """customer_id, one ``health_<characteristic>`` column per characteristic, and
    ``health_overall`` (their unweighted mean), all rounded to one decimal."""
    result = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()})
    for name in CHARACTERISTICS:
        result[f"health_{name}"] = np.round(SCORERS[name](frame), 1)
    columns = [f"health_{name}" for name in CHARACTERISTICS]
    result["health_overall"] = np.round(result[columns].mean(axis=1), 1)
    return result
