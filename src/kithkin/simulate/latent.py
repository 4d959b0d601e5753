"""Hidden per-person traits: the ground truth the analytics should recover.

Purchases follow the Pareto/NBD story (Schmittlein, Morrison & Colombo 1987): while
alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; the
lifetime is ``Exponential(mu)`` with ``mu ~ Gamma(s, beta)``, independent of lambda.
Order values follow Gamma-Gamma (Fader, Hardie & Lee 2005): value ~ Gamma(p, nu),
``nu ~ Gamma(q, gamma)``. Latent satisfaction is tied to the dropout rate through its
rank (a Gaussian copula), so unhappy customers leave sooner while mu keeps its exact
Gamma marginal. With ``one_time_buyers`` a share of customers leaves within a day of the
first order whatever their mu (real retail logs: most customers buy once and never come
back), which BG/NBD cannot represent (it calls every one-time buyer alive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import row_choice
from kithkin.simulate.schemas import SimulationParams

DAY = 86_400
SATISFACTION_DROPOUT_CORRELATION = 0.6


@dataclass(frozen=True)
class Latent:
    """Arrays of one chunk of persons; times are epoch seconds, rates per day."""

    acquired: np.ndarray
    observed_days: np.ndarray  # T: acquisition to the end of the history
    lam: np.ndarray
    mu: np.ndarray
    lifetime_days: np.ndarray
    alive: np.ndarray
    nu: np.ndarray
    satisfaction: np.ndarray
    price_sensitivity: np.ndarray
    defector_type: np.ndarray  # index into vocab.DEFECTOR_TYPES, -1 while alive
    favourite_category: np.ndarray
    preferred_channel: np.ndarray

    @property
    def active_days(self) -> np.ndarray:
        """Days from acquisition to defection, or to the end for survivors."""
        days: np.ndarray = np.minimum(self.lifetime_days, self.observed_days)
        return days

    @property
    def defected_at(self) -> np.ndarray:
        """Defection time in epoch seconds (meaningless where alive)."""
        return self.acquired + (self.lifetime_days * DAY).astype(np.int64)


def draw_latent(
    rng: np.random.Generator, n: int, params: SimulationParams, start: int, end: int
) -> Latent:
    acquired = rng.integers(start, end, n)
    observed_days = (end - acquired) / DAY
    lam = rng.gamma(params.r, 1 / params.alpha, n)
    mu = rng.gamma(params.s, 1 / params.beta, n)
    lifetime_days = rng.exponential(1 / mu)
    if params.one_time_buyers > 0:  # drawn only when asked: default output is unchanged
        once = rng.random(n) < params.one_time_buyers
        lifetime_days = np.where(once, rng.uniform(0.0, 1.0, n), lifetime_days)
    alive = lifetime_days >= observed_days
    rho = SATISFACTION_DROPOUT_CORRELATION
    dropout_z = special.ndtri(np.clip(stats.gamma.cdf(mu, params.s, scale=1 / params.beta),
                                      1e-12, 1 - 1e-12))
    satisfaction = -rho * dropout_z + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    price_sensitivity = rng.beta(2, 5, n)
    weights = np.tile(np.asarray(vocab.DEFECTOR_WEIGHTS), (n, 1))
    weights[:, vocab.DEFECTOR_TYPES.index("price")] *= 0.5 + 3 * price_sensitivity
    weights[:, vocab.DEFECTOR_TYPES.index("service")] *= np.exp(-0.8 * satisfaction)
    defector_type = np.where(alive, -1, row_choice(rng, weights))
    return Latent(
        acquired=acquired, observed_days=observed_days, lam=lam, mu=mu,
        lifetime_days=lifetime_days, alive=alive,
        nu=rng.gamma(params.q, 1 / params.gamma, n), satisfaction=satisfaction,
        price_sensitivity=price_sensitivity, defector_type=defector_type,
        favourite_category=rng.integers(0, len(vocab.CATEGORIES), n),
        preferred_channel=rng.choice(len(vocab.ORDER_CHANNELS), n,
                                     p=np.asarray(vocab.ORDER_CHANNEL_WEIGHTS)),
    )
