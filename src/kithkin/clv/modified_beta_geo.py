"""The MBG/NBD model (Batislam, Denizel & Filiztekin 2007).

Like BG/NBD, but a customer may also drop out right after the first purchase (time 0),
so customers without repeat purchases are not assumed to be alive for certain.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, expit, gammaln

from kithkin.clv import nbd
from kithkin.clv.base import FloatArray, TransactionModel, horizon, purchase_count
from kithkin.clv.compression import Column
from kithkin.clv.special import log_hyp2f1


class ModifiedBetaGeo(TransactionModel):
    """MBG/NBD: BG/NBD with a dropout opportunity at time zero too.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters added to the mean negative log-likelihood.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and
    comparison of models for customer base analysis. International Journal of Research
    in Marketing 24(3), 201-209.
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)

    @staticmethod
    def _log_likelihood(params: FloatArray, x: Column, tx: Column, T: Column) -> FloatArray:
        """Batislam et al. (2007) likelihood in log space.

        ``log L = log G(r+x) - log G(r) + r log alpha + log B(a, b+x+1) - log B(a, b)
        - (r+x) log(alpha+T) + log[1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)]``
        """
        r, alpha, a, b = params
        exponent = r + x.full
        log_age = T.map(lambda v: np.log(alpha + v))
        log_odds_dead = (x.map(lambda v: np.log(a) - np.log(b + v))
                         + exponent * (log_age - tx.map(lambda v: np.log(alpha + v))))
        return np.asarray(
            x.map(lambda v: gammaln(r + v) - gammaln(r) + betaln(a, b + v + 1.0) - betaln(a, b))
            + r * np.log(alpha) - exponent * log_age + np.logaddexp(0.0, log_odds_dead),
            dtype=np.float64,
        )

    def _probability_alive(self, params: tuple[float, ...], x: FloatArray, tx: FloatArray,
                           T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))."""
        r, alpha, a, b = params
        log_odds_dead = (np.log(a) - np.log(b + x)
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
        return np.asarray(expit(-log_odds_dead), dtype=np.float64)

    def _expected_if_alive(self, params: tuple[float, ...], t: FloatArray | np.float64,
                           x: FloatArray, T: FloatArray) -> FloatArray:
        """E[Y(t) | alive, x, T] (Batislam et al. 2007).

        Given alive, p | data ~ Beta(a, b+x+1) and lambda | data ~ Gamma(r+x, alpha+T), so
        ``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
        2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]``.
        """
        r, alpha, a, b = params
        age = alpha + T
        log_term = ((r + x) * (np.log(age) - np.log(age + t))
                    + log_hyp2f1(r + x, b + x + 1.0, a + b + x, t / (age + t)))
        return np.asarray((a + b + x) / (a - 1.0) * -np.expm1(log_term), dtype=np.float64)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))].

        E[(1-p)/p (1 - exp(-lambda p t))] over the mixing distributions (Batislam et al.).
        """
        r, alpha, a, b = self._params()
        horizon_ = horizon("t", t)
        log_term = (r * (np.log(alpha) - np.log(alpha + horizon_))
                    + log_hyp2f1(r, b + 1.0, a + b, horizon_ / (alpha + horizon_)))
        return np.asarray(b / (a - 1.0) * -np.expm1(log_term), dtype=np.float64)

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n).

        Dropping at time 0 (probability p) gives X = 0; otherwise the process is BG/NBD
        with one more survived dropout opportunity:
        ``[n=0] a/(a+b) + B(a, b+n+1)/B(a, b) NBD(n; t)
        + [n>0] B(a+1, b+n)/B(a, b) P(NBD(t) >= n)``.
        """
        r, alpha, a, b = self._params()
        count, horizon_ = np.broadcast_arrays(purchase_count(n), horizon("t", t))
        pmf, tail = nbd.pmf_and_tail(count, horizon_, r=r, alpha=alpha)
        base = betaln(a, b)
        dropped_later = np.where(count > 0, np.exp(betaln(a + 1.0, b + count) - base) * tail,
                                 0.0)
        dropped_at_zero = np.where(count == 0, a / (a + b), 0.0)
        return np.asarray(
            dropped_at_zero + np.exp(betaln(a, b + count + 1.0) - base) * pmf + dropped_later,
            dtype=np.float64,
        )
