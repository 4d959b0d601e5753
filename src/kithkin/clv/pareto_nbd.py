"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
the unobserved lifetime is exponential with rate mu ~ Gamma(s, beta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, roots_legendre

from kithkin.clv import nbd
from kithkin.clv.base import FloatArray, TransactionModel, horizon, purchase_count
from kithkin.clv.compression import Column, compress, distinct
from kithkin.clv.estimation import Likelihood
from kithkin.clv.special import log_hyp2f1_c_eq_a_plus_1

_QUADRATURE_NODES: Final = 96
_S_EQUALS_ONE: Final = 1e-9


SCALE_SPANS = 5.0
"""Upper bound of Pareto/NBD's scales alpha and beta, in multiples of the longest
customer age."""


class ParetoNBD(TransactionModel):
    """Pareto/NBD: Poisson purchasing, exponential lifetimes, gamma heterogeneity in both.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters added to the mean negative log-likelihood.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who
    are they and what will they do next? Management Science 33(1), 1-24.
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A note on implementing the
    Pareto/NBD model in MATLAB. http://brucehardie.com/notes/008/
    Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and
    related expressions. http://brucehardie.com/notes/009/
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _start: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)

    def _log_upper(self, T: FloatArray) -> FloatArray | None:
        """The scales ``alpha`` (purchase) and ``beta`` (dropout) at most SCALE_SPANS
        observation spans.

        When the data show one rate for everyone the likelihood rises without end along
        a ridge, s, beta -> infinity at fixed s/beta for the dropout rate (r, alpha at
        fixed r/alpha for the purchase rate): the gamma heterogeneity vanishing. The
        optimiser followed that ridge into a region where every 2F1 evaluation is slow
        (seen: 460 s for 10,000 customers to reach beta = 78,000 days over a three-year
        history, for a mean log-likelihood better by 0.003; 13 s for 32 customers of a
        small shop to reach alpha = 8 million days). At a few spans of the data the rates
        are already nearly equal, so the fit stops there: its predictions are those the
        far end of the ridge would give."""
        top = np.log(SCALE_SPANS * max(float(np.max(T, initial=0.0)), 1.0))
        return np.array([np.inf, top, np.inf, top])

    def _likelihood(self, x: FloatArray, tx: FloatArray, T: FloatArray,
                    weights: FloatArray) -> Likelihood:
        """The distinct (x, t_x, T) rows with their counts, and their (x, t_x) and
        (x, T) pairs found once for all the optimiser's evaluations."""
        rows = compress(x, tx, T, weights=weights)
        x_, tx_, age_ = (Column.of(column) for column in rows.columns)
        pairs = _Pairs.of(x_.full, tx_.full, age_.full)
        return Likelihood(
            rows=lambda params: self._log_likelihood(params, x_, tx_, age_, pairs=pairs),
            weights=rows.weights)

    @staticmethod
    def _log_likelihood(params: FloatArray, x: Column, tx: Column, T: Column,
                        pairs: _Pairs | None = None) -> FloatArray:
        """Per-customer log-likelihood (FHL MATLAB note, eq. 2-3).

        ``L = G(r+x) alpha^r beta^s / G(r) [ (alpha+T)^-(r+x) (beta+T)^-s
        + s/(r+s+x) A0 ]``, where A0 is the difference of two 2F1 terms evaluated at t_x
        and T, written with the larger of alpha and beta in the denominator so the 2F1
        argument stays in [0, 1).
        """
        r, alpha, s, beta = params
        pairs = pairs or _Pairs.of(x.full, tx.full, T.full)
        alive = (-(r + x.full) * T.map(lambda v: np.log(alpha + v))
                 - s * T.map(lambda v: np.log(beta + v)))
        dead = (x.map(lambda v: np.log(s) - np.log(r + s + v))
                + pairs.log_a0(r, alpha, s, beta))
        return np.asarray(
            x.map(lambda v: gammaln(r + v) - gammaln(r)) + r * np.log(alpha) + s * np.log(beta)
            + np.logaddexp(alive, dead),
            dtype=np.float64,
        )

    def _probability_alive(self, params: tuple[float, ...], x: FloatArray, tx: FloatArray,
                           T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0).

        Fader & Hardie (2005), "A note on deriving the Pareto/NBD model", eq. 18.
        """
        r, alpha, s, beta = params
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, tx, T)
        return np.asarray(np.exp(alive - np.logaddexp(alive, dead)), dtype=np.float64)

    def _expected_if_alive(self, params: tuple[float, ...], t: FloatArray | np.float64,
                           x: FloatArray, T: FloatArray) -> FloatArray:
        """(r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)].

        Schmittlein et al. (1987), eq. 22 without its P(alive) factor: the posterior mean
        purchase rate times the expected time alive within t.
        """
        r, alpha, s, beta = params
        rate = (r + x) / (alpha + T)
        return np.asarray(rate * _expected_lifetime_within(t, s=s, scale=beta + T),
                          dtype=np.float64)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (SMC 1987, eq. 17)."""
        r, alpha, s, beta = self._params()
        horizon_ = horizon("t", t)
        return np.asarray(r / alpha * _expected_lifetime_within(horizon_, s=s, scale=beta),
                          dtype=np.float64)

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n) for a customer just acquired.

        Conditioning on the death time tau (density (s/beta)(beta/(beta+tau))^(s+1)
        after integrating mu out) gives
        ``P = (beta/(beta+t))^s NBD(n; t) + int_0^t (s/beta)(beta/(beta+tau))^(s+1)
        NBD(n; tau) dtau``,
        the quantity Fader, Hardie & Lee (2006, "Deriving an expression for P(X(t) = x)
        under the Pareto/NBD model") express through 2F1 terms.  The integral is computed
        by Gauss-Legendre quadrature in u = log(1 + tau/beta), which spreads the nodes
        where the integrand changes; unlike the closed form it has no cancelling terms.
        """
        r, alpha, s, beta = self._params()
        count, horizon_ = np.broadcast_arrays(purchase_count(n), horizon("t", t))
        pmf_at_t, _ = nbd.pmf_and_tail(count, horizon_, r=r, alpha=alpha)
        survived = np.exp(-s * np.log1p(horizon_ / beta)) * pmf_at_t
        nodes, node_weights = roots_legendre(_QUADRATURE_NODES)
        upper = np.log1p(horizon_ / beta)  # u at tau = t
        u = (nodes[:, None] + 1.0) * 0.5 * upper.ravel()[None, :]
        tau = beta * np.expm1(u)
        # dtau = beta e^u du and (beta/(beta+tau))^(s+1) = e^{-(s+1)u}: integrand s e^{-s u}
        pmf_at_tau, _ = nbd.pmf_and_tail(count.ravel()[None, :], tau, r=r, alpha=alpha)
        integral = 0.5 * upper.ravel() * np.sum(
            node_weights[:, None] * s * np.exp(-s * u) * pmf_at_tau, axis=0
        )
        return np.asarray(survived + integral.reshape(survived.shape), dtype=np.float64)


def _log_a0(r: float, alpha: float, s: float, beta: float, x: FloatArray, tx: FloatArray,
            T: FloatArray) -> FloatArray:
    """log A0 of the FHL note: the probability mass of dying between t_x and T."""
    x_, tx_, T_ = np.broadcast_arrays(x, tx, T)
    pairs = _Pairs.of(*(np.ravel(v) for v in (x_, tx_, T_)))
    return pairs.log_a0(r, alpha, s, beta).reshape(T_.shape)


@dataclass(frozen=True)
class _Pairs:
    """The distinct (x, t_x) and (x, T) pairs of some rows, and each row's pairs.

    A0 is the difference of a 2F1 term at t_x and the same term at T
    (:func:`_log_a0_term`), which depends on a row only through (x, t): evaluated once
    per distinct pair it costs what the pairs cost, and daily data has a few per cent as
    many pairs as customers (the 2F1 evaluations are the whole cost of Pareto/NBD).
    """

    last: tuple[FloatArray, FloatArray]
    last_codes: NDArray[np.intp]
    age: tuple[FloatArray, FloatArray]
    age_codes: NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, tx: FloatArray, T: FloatArray) -> _Pairs:
        (last_x, last_t), last_codes = distinct(x, tx)
        (age_x, age_t), age_codes = distinct(x, T)
        return cls(last=(last_x, last_t), last_codes=last_codes, age=(age_x, age_t),
                   age_codes=age_codes)

    def log_a0(self, r: float, alpha: float, s: float, beta: float) -> FloatArray:
        """log A0 per row, formed as ``F(t_x) (1 - F(T)/F(t_x))`` in log space (0 when
        t_x = T)."""
        at_tx = _log_a0_term(r, alpha, s, beta, *self.last)[self.last_codes]
        at_T = _log_a0_term(r, alpha, s, beta, *self.age)[self.age_codes]
        gap = np.minimum(at_T - at_tx, 0.0)
        with np.errstate(divide="ignore"):
            return np.asarray(at_tx + np.log(-np.expm1(gap)), dtype=np.float64)


def _log_a0_term(r: float, alpha: float, s: float, beta: float, x: FloatArray,
                 t: FloatArray) -> FloatArray:
    """``log[2F1(a, b; a+1; z(t)) / (max(alpha, beta) + t)^a]`` with a = r+s+x.

    For alpha >= beta the 2F1 terms use z = (alpha-beta)/(alpha+t) and b = s+1, otherwise
    z = (beta-alpha)/(beta+t) and b = r+x; both have c = a+1, evaluated by
    :func:`log_hyp2f1_c_eq_a_plus_1`.
    """
    a = r + s + x
    b: FloatArray | float
    if alpha >= beta:
        shift, b, base = alpha - beta, s + 1.0, alpha + t
    else:
        shift, b, base = beta - alpha, r + x, beta + t
    return np.asarray(log_hyp2f1_c_eq_a_plus_1(a, b, shift / base) - a * np.log(base),
                      dtype=np.float64)


def _expected_lifetime_within(t: FloatArray | np.float64, *, s: float,
                              scale: FloatArray | float) -> FloatArray:
    """Expected time alive within the next t for a customer alive now (Pareto lifetime).

    ``E[min(tau, t)] = integral_0^t (scale/(scale+u))^s du
    = scale [1 - (scale/(scale+t))^(s-1)] / (s-1)``; at s = 1 it is scale log(1 + t/scale).
    """
    log_growth = np.log1p(t / scale)
    if abs(s - 1.0) < _S_EQUALS_ONE:
        return np.asarray(scale * log_growth, dtype=np.float64)
    return np.asarray(scale * -np.expm1(-(s - 1.0) * log_growth) / (s - 1.0), dtype=np.float64)
