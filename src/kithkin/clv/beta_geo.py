"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
after each repeat purchase they drop out with probability p ~ Beta(a, b).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, gammaln

from kithkin.clv import nbd
from kithkin.clv.base import FloatArray, TransactionModel, horizon, purchase_count
from kithkin.clv.compression import Column, combine
from kithkin.clv.estimation import Totals
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
    _regroups_rows: ClassVar[bool] = True

    @staticmethod
    def _log_likelihood(params: FloatArray, x: Column, tx: Column, T: Column) -> FloatArray:
        """FHL (2005) eq. 6 in log space.

        ``log L = log G(r+x) - log G(r) + r log alpha
        + log[ B(a, b+x)/B(a, b) (alpha+T)^-(r+x)
               + [x>0] B(a+1, b+x-1)/B(a, b) (alpha+t_x)^-(r+x) ]``
        """
        r, alpha, a, b = params
        base = betaln(a, b)
        exponent = r + x.full
        survived = (x.map(lambda v: betaln(a, b + v) - base)
                    - exponent * T.map(lambda v: np.log(alpha + v)))
        dropped = (x.map(lambda v: np.where(
                       v > 0, betaln(a + 1.0, b + np.maximum(v, 1.0) - 1.0) - base, -np.inf))
                   - exponent * tx.map(lambda v: np.log(alpha + v)))
        return np.asarray(x.map(lambda v: gammaln(r + v) - gammaln(r)) + r * np.log(alpha)
                          + np.logaddexp(survived, dropped), dtype=np.float64)

    @staticmethod
    def _totals(x: Column, tx: Column, T: Column, weights: FloatArray) -> Totals | None:
        """The weighted log-likelihood with its analytic gradient (see :class:`_Rows`)."""
        return _Rows.of(x, tx, T, weights).totals

    def _probability_alive(self, params: tuple[float, ...], x: FloatArray, tx: FloatArray,
                           T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

        Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model", eq. 2.
        """
        r, alpha, a, b = params
        repeat = x > 0
        # two logs and one exp per customer (this runs for every customer at every score)
        log_odds_dead = (np.log(a / (b + np.where(repeat, x, 1.0) - 1.0))
                         + (r + x) * np.log((alpha + T) / (alpha + tx)))
        with np.errstate(over="ignore"):
            alive = 1.0 / (1.0 + np.exp(log_odds_dead))
        return np.asarray(np.where(repeat, alive, 1.0), dtype=np.float64)

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
class _Rows:
    """Customer rows regrouped for the weighted log-likelihood and its gradient.

    Of FHL eq. 6, the "still alive" term depends on a row only through (x, T) and the
    "dropped out" term only through (x, t_x); daily data has a few ten thousand such
    pairs against hundreds of thousands of rows, and a few hundred distinct x.  Every
    function of the parameters is evaluated per distinct x or per pair.  A customer
    without a repeat purchase (x = 0) has the alive term only, so those rows are summed
    into their (0, T) pair once; per row with x > 0 remain two gathers, one
    log-sum-exp, the share w of the alive term, and two weighted bincounts that carry w
    back to the pairs, since every derivative of ``log(A + B)`` is ``w dA + (1 - w) dB``.
    """

    weights: FloatArray  # rows with x > 0
    total_weight: float
    age_pair: NDArray[np.intp]  # rows with x > 0
    last_pair: NDArray[np.intp]  # rows with x > 0
    single_weight: FloatArray  # per (x, T) pair: weight of its rows with x = 0
    age_x: NDArray[np.intp]  # code of x per (x, T) pair
    age_T: FloatArray
    last_x: NDArray[np.intp]  # code of x per (x, t_x) pair
    last_x_value: FloatArray
    last_tx: FloatArray
    last_weight: FloatArray
    x_values: FloatArray
    x_weight: FloatArray

    @classmethod
    def of(cls, x: Column, tx: Column, T: Column, weights: FloatArray) -> _Rows:
        age_pair = combine((x.codes, x.unique.size), (T.codes, T.unique.size))
        last_pair = combine((x.codes, x.unique.size), (tx.codes, tx.unique.size))
        ages, lasts = int(age_pair.max()) + 1, int(last_pair.max()) + 1
        age_x, last_x = np.empty(ages, dtype=np.intp), np.empty(lasts, dtype=np.intp)
        age_T, last_tx = np.empty(ages), np.empty(lasts)
        age_x[age_pair], age_T[age_pair] = x.codes, T.full
        last_x[last_pair], last_tx[last_pair] = x.codes, tx.full
        repeat = x.full > 0
        single = ~repeat
        return cls(weights=weights[repeat], total_weight=float(weights.sum()),
                   age_pair=age_pair[repeat], last_pair=last_pair[repeat],
                   single_weight=np.bincount(age_pair[single], weights[single],
                                             minlength=ages).astype(np.float64),
                   age_x=age_x, age_T=age_T, last_x=last_x,
                   last_x_value=x.unique[last_x], last_tx=last_tx,
                   last_weight=np.bincount(last_pair[repeat], weights[repeat],
                                           minlength=lasts).astype(np.float64),
                   x_values=x.unique,
                   x_weight=np.bincount(x.codes, weights,
                                        minlength=x.unique.size).astype(np.float64))

    def totals(self, params: FloatArray) -> tuple[float, FloatArray]:
        """Weighted total log-likelihood and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = params
        xv, xw, weight = self.x_values, self.x_weight, self.total_weight
        repeat = xv > 0
        x_repeat = np.where(repeat, xv, 1.0)
        base, ab = betaln(a, b), digamma(a + b)
        # per distinct x: the beta functions and their derivatives in a and b
        survived_x = betaln(a, b + xv) - base
        dropped_x = np.where(repeat, betaln(a + 1.0, b + x_repeat - 1.0) - base, -np.inf)
        abx = digamma(a + b + xv)
        d_survived_x = (ab - abx, digamma(b + xv) - abx - digamma(b) + ab)
        d_dropped_x = (np.where(repeat, digamma(a + 1.0) - digamma(a) + ab - abx, 0.0),
                       np.where(repeat, digamma(b + x_repeat - 1.0) - abx - digamma(b) + ab,
                                0.0))
        # per pair: the (alpha + age)^-(r+x) factors
        age_exponent, last_exponent = r + xv[self.age_x], r + self.last_x_value
        log_age, log_last = np.log(alpha + self.age_T), np.log(alpha + self.last_tx)
        survived = survived_x[self.age_x] - age_exponent * log_age
        dropped = dropped_x[self.last_x] - last_exponent * log_last
        # per row: log(e^S + e^D) as max + log1p(exp(-|S - D|)), faster than logaddexp
        row_survived, row_dropped = survived[self.age_pair], dropped[self.last_pair]
        total = np.maximum(row_survived, row_dropped) + np.log1p(
            np.exp(-np.abs(row_survived - row_dropped)))
        alive = self.weights * np.exp(row_survived - total)
        on_survived = np.bincount(self.age_pair, alive,
                                  minlength=survived.size) + self.single_weight
        on_dropped = np.where(dropped > -np.inf, self.last_weight - np.bincount(
            self.last_pair, alive, minlength=dropped.size), 0.0)

        value = (float(xw @ (gammaln(r + xv) - gammaln(r))) + weight * r * np.log(alpha)
                 + float(self.weights @ total) + float(self.single_weight @ survived))
        survived_by_x = np.bincount(self.age_x, on_survived, minlength=xv.size)
        dropped_by_x = np.bincount(self.last_x, on_dropped, minlength=xv.size)
        gradient = np.array([
            float(xw @ (digamma(r + xv) - digamma(r))) + weight * np.log(alpha)
            - float(on_survived @ log_age) - float(on_dropped @ log_last),
            weight * r / alpha - float(on_survived @ (age_exponent / (alpha + self.age_T)))
            - float(on_dropped @ (last_exponent / (alpha + self.last_tx))),
            float(survived_by_x @ d_survived_x[0]) + float(dropped_by_x @ d_dropped_x[0]),
            float(survived_by_x @ d_survived_x[1]) + float(dropped_by_x @ d_dropped_x[1]),
        ])
        return float(value), gradient
