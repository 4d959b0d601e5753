"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
after each repeat purchase they drop out with probability p ~ Beta(a, b).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from kithkin.clv import nbd
from kithkin.clv.base import FloatArray, TransactionModel, horizon, purchase_count
from kithkin.clv.compression import Column
from kithkin.clv.special import log_hyp2f1


class BetaGeo(TransactionModel):
    """BG/NBD: Poisson purchasing, beta-geometric dropout after each repeat purchase.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters, ``penalizer * (r^2 + alpha^2 + a^2 + b^2)`` added to
        the mean negative log-likelihood (as in lifetimes).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy
    way: An alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)
    _has_gradient: ClassVar[bool] = True

    @staticmethod
    def _log_likelihood(params: FloatArray, x: Column, tx: Column, T: Column) -> FloatArray:
        """FHL (2005) eq. 6 in log space.

        ``log L = log G(r+x) - log G(r) + r log alpha
        + log[ B(a, b+x)/B(a, b) (alpha+T)^-(r+x)
               + [x>0] B(a+1, b+x-1)/B(a, b) (alpha+t_x)^-(r+x) ]``
        """
        return _likelihood_parts(params, x, tx, T).log_likelihood

    @staticmethod
    def _log_likelihood_with_gradient(params: FloatArray, x: Column, tx: Column,
                                      T: Column) -> tuple[FloatArray, list[FloatArray]]:
        """Per-row log-likelihood and d/d(r, alpha, a, b), sharing the common terms.

        With w the share of the "still alive" term A in ``logaddexp(A, B)``, every
        derivative is ``d(common) + dB + w (dA - dB)``; the digamma terms depend on x only
        and are evaluated on its distinct values.
        """
        r, alpha, a, b = params
        parts = _likelihood_parts(params, x, tx, T)
        w = parts.alive_share
        ab = digamma(a + b)

        def on_repeat(values: FloatArray, v: FloatArray) -> FloatArray:
            return np.where(v > 0, values, 0.0)

        def da_dropped(v: FloatArray) -> FloatArray:
            return on_repeat(digamma(a + 1.0) - digamma(a) + ab - digamma(a + b + v), v)

        def db_dropped(v: FloatArray) -> FloatArray:
            return on_repeat(
                digamma(b + np.maximum(v, 1.0) - 1.0) - digamma(a + b + v) - digamma(b) + ab, v)

        inverse_age = T.map(lambda v: 1.0 / (alpha + v))
        inverse_last = tx.map(lambda v: 1.0 / (alpha + v))
        d_r = (x.map(lambda v: digamma(r + v) - digamma(r)) + np.log(alpha)
               - parts.log_last - w * (parts.log_age - parts.log_last))
        d_alpha = r / alpha - parts.exponent * (inverse_last + w * (inverse_age - inverse_last))
        d_a = x.map(da_dropped) + w * x.map(lambda v: ab - digamma(a + b + v) - da_dropped(v))
        d_b = x.map(db_dropped) + w * x.map(
            lambda v: digamma(b + v) - digamma(a + b + v) - digamma(b) + ab - db_dropped(v))
        return parts.log_likelihood, [d_r, d_alpha, d_a, d_b]

    def _probability_alive(self, params: tuple[float, ...], x: FloatArray, tx: FloatArray,
                           T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

        Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model", eq. 2.
        """
        r, alpha, a, b = params
        x_safe = np.where(x > 0, x, 1.0)
        log_odds_dead = (np.log(a) - np.log(b + x_safe - 1.0)
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
        return np.asarray(np.where(x > 0, expit(-log_odds_dead), 1.0), dtype=np.float64)

    def _expected_if_alive(self, params: tuple[float, ...], t: FloatArray | np.float64,
                           x: FloatArray, T: FloatArray) -> FloatArray:
        """FHL (2005) eq. 10 without its P(alive) factor.

        ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
        2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]``; the power and the 2F1 are combined in
        log space so neither overflows for heavy buyers.
        """
        r, alpha, a, b = params
        age = alpha + T
        log_term = ((r + x) * (np.log(age) - np.log(age + t))
                    + log_hyp2f1(r + x, b + x, a + b + x - 1.0, t / (age + t)))
        return np.asarray((a + b + x - 1.0) / (a - 1.0) * -np.expm1(log_term), dtype=np.float64)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].

        FHL (2005) eq. 9.
        """
        r, alpha, a, b = self._params()
        horizon_ = horizon("t", t)
        log_term = (r * (np.log(alpha) - np.log(alpha + horizon_))
                    + log_hyp2f1(r, b, a + b - 1.0, horizon_ / (alpha + horizon_)))
        return np.asarray((a + b - 1.0) / (a - 1.0) * -np.expm1(log_term), dtype=np.float64)

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n), FHL (2005) eq. 8.

        ``B(a, b+n)/B(a, b) NBD(n; t) + [n>0] B(a+1, b+n-1)/B(a, b) P(NBD(t) >= n)``.
        """
        r, alpha, a, b = self._params()
        count, horizon_ = np.broadcast_arrays(purchase_count(n), horizon("t", t))
        pmf, tail = nbd.pmf_and_tail(count, horizon_, r=r, alpha=alpha)
        base = betaln(a, b)
        n_safe = np.where(count > 0, count, 1.0)
        dropped = np.where(count > 0, np.exp(betaln(a + 1.0, b + n_safe - 1.0) - base) * tail,
                           0.0)
        return np.asarray(np.exp(betaln(a, b + count) - base) * pmf + dropped, dtype=np.float64)


@dataclass(frozen=True)
class _Parts:
    log_likelihood: FloatArray
    alive_share: FloatArray
    log_age: FloatArray
    log_last: FloatArray
    exponent: FloatArray


def _likelihood_parts(params: FloatArray, x: Column, tx: Column, T: Column) -> _Parts:
    """The terms of FHL eq. 6 that the likelihood and its gradient share."""
    r, alpha, a, b = params
    base = betaln(a, b)
    exponent = r + x.full
    log_age = T.map(lambda v: np.log(alpha + v))
    log_last = tx.map(lambda v: np.log(alpha + v))
    survived = x.map(lambda v: betaln(a, b + v) - base) - exponent * log_age
    dropped = (x.map(lambda v: np.where(
                   v > 0, betaln(a + 1.0, b + np.maximum(v, 1.0) - 1.0) - base, -np.inf))
               - exponent * log_last)
    total = np.logaddexp(survived, dropped)
    log_likelihood = x.map(lambda v: gammaln(r + v) - gammaln(r)) + r * np.log(alpha) + total
    return _Parts(log_likelihood=np.asarray(log_likelihood, dtype=np.float64),
                  alive_share=np.exp(survived - total), log_age=log_age, log_last=log_last,
                  exponent=exponent)
