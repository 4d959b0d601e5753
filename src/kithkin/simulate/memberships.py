"""Memberships: the financial and structural bonds (loyalty tiers, subscriptions, contracts).

Heavier buyers join the loyalty programme more often and reach higher tiers; defectors
let their memberships lapse some time after they leave.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import stats

from kithkin.simulate.arrow_ops import take
from kithkin.simulate.latent import DAY, Latent
from kithkin.simulate.schemas import SimulationParams

TIER_THRESHOLDS = (500.0, 1500.0)  # expected yearly spend for silver, gold
TIERS = ("bronze", "silver", "gold")


def _ended(rng: np.random.Generator, latent: Latent, who: np.ndarray, lapse_days: int,
           end: int) -> tuple[np.ndarray, np.ndarray]:
    ended = latent.defected_at[who] + rng.integers(0, lapse_days * DAY + 1, len(who))
    return ended, (~latent.alive[who]) & (ended < end)


def draw_memberships(
    rng: np.random.Generator, latent: Latent, is_business: np.ndarray, mean_spend: np.ndarray,
    params: SimulationParams, *, end: int,
) -> tuple[np.ndarray, pa.Table]:
    """Return the chunk-local customer of each membership, and the table without ids."""
    n = len(latent.lam)
    # Rank of lambda in [0, 1]: heavier buyers join more.
    heavy = stats.gamma.cdf(latent.lam, params.r, scale=1 / params.alpha)
    parts = []
    loyal = np.flatnonzero(rng.random(n) < 0.15 + 0.35 * heavy)
    started = latent.acquired[loyal] + rng.integers(0, 120 * DAY, len(loyal))
    yearly = latent.lam[loyal] * 365.25 * mean_spend[loyal]
    ended, has_end = _ended(rng, latent, loyal, 180, end)
    ended_valid = has_end & (rng.random(len(loyal)) < 0.6)
    parts.append((loyal, started, ended, ended_valid, "loyalty", "loyalty", "Kithkin Rewards",
                  take(TIERS, np.searchsorted(TIER_THRESHOLDS, yearly))))
    subscribed = np.flatnonzero(rng.random(n) < 0.08)
    started = latent.acquired[subscribed] + rng.integers(0, 365 * DAY, len(subscribed))
    ended, has_end = _ended(rng, latent, subscribed, 30, end)
    parts.append((subscribed, started, ended, has_end, "billing", "subscription",
                  "Premium Delivery", pa.nulls(len(subscribed), pa.string())))
    contracted = np.flatnonzero(is_business & (rng.random(n) < 0.6))
    started = latent.acquired[contracted]
    ended = started + rng.integers(1, 4, len(contracted)) * 365 * DAY
    defected_end = latent.defected_at[contracted]
    ended = np.where(~latent.alive[contracted], np.minimum(ended, defected_end), ended)
    parts.append((contracted, started, ended, ended < end, "billing", "contract",
                  "Business Supply Agreement",
                  take(("standard", "premium"), rng.integers(0, 2, len(contracted)))))
    who, tables = [], []
    for members, start, stop, stop_valid, source, kind, programme, tier in parts:
        # Nobody joins after leaving.
        keep = (start < end) & (latent.alive[members] | (start < latent.defected_at[members]))
        m = int(keep.sum())
        who.append(members[keep])
        tables.append(pa.table({
            "source": pa.array([source] * m, pa.string()),
            "kind": pa.array([kind] * m, pa.string()),
            "programme": pa.array([programme] * m, pa.string()),
            "tier": tier.filter(pa.array(keep)),
            "started_at": pa.array(start[keep], pa.timestamp("s", tz="UTC")),
            "ended_at": pa.array(stop[keep], pa.timestamp("s", tz="UTC"),
                                 mask=~stop_valid[keep]),
        }))
    return np.concatenate(who), pa.concat_tables(tables)
