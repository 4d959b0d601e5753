"""Which kinds of evidence the data holds, detected at every refresh.

A firm that imports only a transaction log (customer, date, amount) has no interactions,
no stored preferences, no product categories, no costs and no memberships. Rules and
scores that read those signals would then report "no evidence" as if it were a fact
(0 friends among thousands of repeat buyers, health 0 for dialogue nobody recorded).
:func:`detect` looks at the metrics frame once; the health scorecard leaves out what the
data cannot show (unknown, not 0), and :mod:`kithkin.relationships.presets` picks the
stage-model preset for the evidence that exists. The result is shown by ``kithkin
refresh``, stored with the relationship run and shown on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kithkin.relationships.columns import as_flags, number

# Metrics whose non-zero (or non-null) value somewhere in the base shows that the firm
# records interactions at all (contacts, tickets, satisfaction, referrals, ideas...).
INTERACTION_METRICS = (
    "interactions_90d", "inbound_90d", "outbound_90d", "complaints", "service_requests",
    "referrals", "reviews", "ideas",
)
SCORE_METRICS = ("last_nps", "last_csat")  # a score of 0 is evidence too
MEMBERSHIP_METRICS = ("active_memberships",)
MEMBERSHIP_FLAGS = ("has_loyalty", "has_subscription", "has_contract")

SIGNALS = ("transactions", "interactions", "preferences", "categories", "costs",
           "memberships", "account_managers", "customization")
DESCRIPTIONS = {
    "transactions": "orders", "interactions": "interactions (contacts, tickets, scores)",
    "preferences": "stored preferences", "categories": "product categories (order lines)",
    "costs": "costs (margins)", "memberships": "memberships, contracts or loyalty",
    "account_managers": "account managers", "customization": "made-to-order purchases",
}


@dataclass(frozen=True)
class DataSignals:
    """One flag per kind of evidence: True when at least one customer shows it."""

    transactions: bool
    interactions: bool
    preferences: bool
    categories: bool
    costs: bool
    memberships: bool
    account_managers: bool
    customization: bool

    def has(self, name: str) -> bool:
        return bool(getattr(self, name))

    @property
    def available(self) -> list[str]:
        return [name for name in SIGNALS if self.has(name)]

    @property
    def missing(self) -> list[str]:
        return [name for name in SIGNALS if not self.has(name)]

    @property
    def transaction_only(self) -> bool:
        """Orders, but neither dialogue nor stored knowledge of the customer."""
        return self.transactions and not (self.interactions or self.preferences)

    def as_dict(self) -> dict[str, bool]:
        return {name: self.has(name) for name in SIGNALS}

    def describe(self) -> str:
        """"has: ...; lacks: ..." in plain words, for the CLI and the dashboard."""
        has = ", ".join(DESCRIPTIONS[n] for n in self.available) or "nothing"
        lacks = ", ".join(DESCRIPTIONS[n] for n in self.missing) or "nothing"
        return f"has {has}; lacks {lacks}"


ALL_SIGNALS = DataSignals(**dict.fromkeys(SIGNALS, True))


def _any_positive(frame: pd.DataFrame, names: tuple[str, ...]) -> bool:
    return any(bool((number(frame, name) > 0).any()) for name in names if name in frame)


def _any_true(frame: pd.DataFrame, names: tuple[str, ...]) -> bool:
    return any(bool(as_flags(frame[name]).any())
               for name in names if name in frame)


def detect(frame: pd.DataFrame) -> DataSignals:
    """The kinds of evidence present in a metrics frame (one row per customer)."""
    margin = number(frame, "margin", np.nan)
    tiers = frame["membership_tier"].notna().any() if "membership_tier" in frame else False
    return DataSignals(
        transactions=_any_positive(frame, ("orders",)),
        interactions=(_any_positive(frame, INTERACTION_METRICS)
                      or any(bool(frame[n].notna().any()) for n in SCORE_METRICS
                             if n in frame)),
        preferences=_any_true(frame, ("has_preferences",)),
        categories=_any_positive(frame, ("categories_bought",)),
        costs=bool((~np.isnan(margin)).any()),
        memberships=(_any_positive(frame, MEMBERSHIP_METRICS)
                     or _any_true(frame, MEMBERSHIP_FLAGS) or bool(tiers)),
        account_managers=_any_true(frame, ("has_account_manager",)),
        customization=_any_positive(frame, ("customized_orders",)),
    )
