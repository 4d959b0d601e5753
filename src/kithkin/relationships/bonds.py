"""The bond inventory and the switching barrier it builds.

Seed 003 lists four kinds of bond (after Berry & Parasuraman 1991, *Marketing Services*;
Berry 1995, "Relationship marketing of services", JAMS 23(4)): financial, social,
customization and structural. Berry's levels rank them by how hard a competitor finds
them to copy: financial bonds (level 1) are the easiest to imitate, structural bonds
(level 3) the hardest; the switching-barrier weights follow that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kithkin.relationships.columns import FloatArray, at_least, flag, mean_of, number

BOND_KINDS = ("financial", "social", "customization", "structural")
BARRIER_WEIGHTS = {"financial": 0.15, "social": 0.20, "customization": 0.25,
                   "structural": 0.40}
BOND_INPUTS = (
    "has_loyalty", "membership_tier", "bundles_bought", "has_price_lock",
    "has_subscription", "has_account_manager", "interactions_90d", "two_way_ratio",
    "community_interactions", "has_preferences", "customized_orders", "ideas",
    "integrations", "has_contract", "shared_processes", "referrals",
)


def _signals(frame: pd.DataFrame) -> dict[str, list[FloatArray]]:
    tier = (frame["membership_tier"].notna().to_numpy(dtype=float)
            if "membership_tier" in frame.columns else np.zeros(len(frame)))
    dialogue = (at_least(number(frame, "interactions_90d"), 1)
                * (number(frame, "two_way_ratio") > 0))
    return {
        # volume and frequency rewards; bundles and cross-selling; stable pricing
        "financial": [np.maximum(flag(frame, "has_loyalty"), tier),
                      at_least(number(frame, "bundles_bought"), 1),
                      np.maximum(flag(frame, "has_price_lock"),
                                 flag(frame, "has_subscription"))],
        # personal relationship; continuous dialogue; bonds among customers (community
        # events, and referring others: connections.service logs each referral)
        "social": [flag(frame, "has_account_manager"), dialogue,
                   at_least(number(frame, "community_interactions")
                            + number(frame, "referrals"), 1)],
        # customer intimacy; mass customisation; anticipation and innovation
        "customization": [flag(frame, "has_preferences"),
                          at_least(number(frame, "customized_orders"), 1),
                          at_least(number(frame, "ideas"), 1)],
        # integrated information systems; joint investment (contract); shared processes
        "structural": [at_least(number(frame, "integrations"), 1),
                       flag(frame, "has_contract"),
                       at_least(number(frame, "shared_processes"), 1)],
    }


def inventory(frame: pd.DataFrame) -> pd.DataFrame:
    """customer_id, ``bond_<kind>`` (0-100: share of the kind's three signals present)
    and ``switching_barrier`` (0-100: the weighted sum over kinds)."""
    result = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()})
    barrier = np.zeros(len(frame))
    for kind, parts in _signals(frame).items():
        score = 100 * mean_of(*parts)
        result[f"bond_{kind}"] = np.round(score, 1)
        barrier += BARRIER_WEIGHTS[kind] * score
    result["switching_barrier"] = np.round(barrier, 1)
    return result
