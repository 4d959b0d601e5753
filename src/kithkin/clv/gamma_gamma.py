"""The Gamma-Gamma model of spend per transaction, and discounted CLV.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis"; Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".  A customer's
transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, so the
mean spend is p/nu and observed averages shrink toward the population mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from kithkin.clv import base, inputs
from kithkin.clv.base import CLVModel, FloatArray, TransactionModel
from kithkin.clv.compression import Column
from kithkin.clv.estimation import Likelihood, maximise
from kithkin.errors import ConvergenceError, ValidationError

DAYS_PER_YEAR: Final = 365.25
DAYS_PER_MONTH: Final = DAYS_PER_YEAR / 12.0
EXCLUSION_REASON: Final = (
    "customers with frequency 0 have no repeat transactions, so their spend says nothing "
    "about spend per repeat transaction; they are excluded from the fit and get the "
    "population mean spend"
)

Q_MAX: Final = 1000.0
"""Upper bound of q, the shape of the spend rates across customers.

When customers' average spends differ no more than one customer's orders do, the
likelihood rises without end along q, gamma -> infinity at a fixed population mean
p gamma / (q - 1): the heterogeneity vanishing. The fit then failed (lifetimes' too),
leaving CLV unknown for a 60-customer shop whose order values were all alike. At q = 1000
the customers' mean spends differ by about 3 % (coefficient of variation 1/sqrt(q - 2))
and each customer's expected spend is, within that, the population mean the far end of
the ridge gives, so the fit stops there."""


class GammaGamma(CLVModel):
    """Gamma-Gamma spend model.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * (p^2 + q^2 + gamma^2)`` added to the mean negative
        log-likelihood (as in lifetimes).

    Attributes
    ----------
    n_excluded_ : int
        Customers left out of the fit because their frequency is 0 (see
        ``EXCLUSION_REASON``).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
    http://brucehardie.com/notes/025/
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value
    curves for customer base analysis. Journal of Marketing Research 42(4), 415-430.
    """

    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    n_excluded_: int

    def fit(self, *, frequency: ArrayLike, monetary_value: ArrayLike,
            weights: ArrayLike | None = None) -> Self:
        """Estimate p, q, gamma by maximum likelihood from repeat customers.

        Parameters
        ----------
        frequency : array_like
            Repeat transactions x per customer.
        monetary_value : array_like
            Mean value of the repeat transactions (> 0 where frequency > 0; ignored where
            frequency is 0).
        weights : array_like, optional
            How many customers each row stands for.

        Raises
        ------
        ValidationError
            For malformed input.
        ConvergenceError
            When no customer has repeat purchases or the optimiser fails (e.g. every
            customer has the same average, leaving the spread unidentified).
        """
        x, spend = _spend_inputs(frequency, monetary_value)
        w = inputs.weights_for(weights, x.size)
        repeat = (x > 0) & (w > 0)
        if not np.any(repeat):
            raise ConvergenceError(
                "Gamma-Gamma needs customers with repeat purchases; every frequency is 0"
            )
        # No row compression: averages are continuous, so (x, m) rows rarely repeat and
        # hashing them would cost more than it saves.
        x, spend, w_repeat = x[repeat], spend[repeat], w[repeat]
        every = max(1, x.size // base.SAMPLE_SIZE)
        estimate = maximise(
            model="GammaGamma",
            names=self.param_names,
            likelihood=_Spend.of(x, spend, w_repeat).likelihood(),
            penalizer=self.penalizer,
            start=np.zeros(3),
            upper=np.array([np.inf, np.log(Q_MAX), np.inf]),
            sample=_Spend.of(x[::every], spend[::every], w_repeat[::every]).likelihood()
            if x.size >= base.SAMPLE_FROM else None,
        )
        self._store(estimate, n_customers=round(float(w[repeat].sum())))
        self.n_excluded_ = round(float(w[~repeat].sum()))
        return self

    def log_likelihood(self, *, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood of the observed average (repeat customers only)."""
        x, spend = _spend_inputs(frequency, monetary_value)
        if np.any(x == 0):
            raise ValidationError("the Gamma-Gamma likelihood is defined for frequency > 0 only")
        return _log_likelihood(np.asarray(self._params()), _Spend.of(x, spend, np.ones(x.size)))

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """E[spend per transaction | x, m] = p (gamma + x m) / (p x + q - 1).

        Fader & Hardie (2013), eq. 5: a weighted mean of the population mean
        ``p gamma/(q-1)`` and the customer's own average m, with weight ``p x/(p x+q-1)``
        on m.  Customers with x = 0 get the population mean (infinite when q <= 1).
        """
        p, q, gamma = self._params()
        x, spend = _spend_inputs(frequency, monetary_value, broadcast=True)
        spend = np.where(x > 0, spend, 0.0)
        denominator = p * x + q - 1.0
        with np.errstate(divide="ignore"):
            value = np.where(denominator > 0, p * (gamma + x * spend) / denominator, np.inf)
        return np.asarray(value, dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: TransactionModel,
        *,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        horizon_days: float,
        discount_rate_annual: float,
        margin: ArrayLike,
        time_unit_days: float,
    ) -> FloatArray:
        """Discounted expected margin over the next ``horizon_days``.

        The horizon is cut into K = round(horizon_days / 30.44) equal steps of
        ``horizon_days / K`` days (monthly for whole months).  With E[Y(t)] the
        transaction model's conditional expected purchases,

        ``CLV = margin * E[spend] * sum_{k=1..K} (E[Y(t_k)] - E[Y(t_{k-1})])
        / (1 + discount_rate_annual)^(k * step_days / 365.25)``,

        where ``t_k = k * step_days / time_unit_days`` converts days into the model's
        time unit, i.e. each step's expected purchases are valued at its end.  This is the
        discrete form of FHL (2005, iso-value curves) DERL times expected spend.

        Parameters
        ----------
        transaction_model : TransactionModel
            A fitted BG/NBD, Pareto/NBD or MBG/NBD model.
        frequency, recency, T : array_like
            The history in the transaction model's time unit.
        monetary_value : array_like
            Mean repeat-transaction value.
        horizon_days : float
            Length of the future window, in days (> 0).
        discount_rate_annual : float
            Yearly discount rate, e.g. 0.1 for 10% (>= 0).
        margin : array_like
            Fraction of spend that is margin (<= 1; may vary by customer).
        time_unit_days : float
            Days per model time unit: 1 for daily summaries, 7 for weekly (CDNOW).
        """
        steps, step_days = _steps(horizon_days)
        if not (np.isfinite(discount_rate_annual) and discount_rate_annual >= 0):
            raise ValidationError("discount_rate_annual must be a finite number >= 0")
        if not (np.isfinite(time_unit_days) and time_unit_days > 0):
            raise ValidationError("time_unit_days must be a finite number > 0")
        margin_ = inputs.as_float_array("margin", margin)
        if np.any(margin_ > 1):
            raise ValidationError("margin is a fraction of spend and must not exceed 1")
        spend = self.expected_spend(frequency, monetary_value)
        ends_days = step_days * np.arange(1, steps + 1)
        factors = (1.0 + discount_rate_annual) ** (-ends_days / DAYS_PER_YEAR)
        # sum_k f_k (E[Y(t_k)] - E[Y(t_k-1)]) = sum_k (f_k - f_k+1) E[Y(t_k)], f_K+1 = 0
        coefficients = factors - np.append(factors[1:], 0.0)
        discounted = transaction_model.expected_purchases_sum(
            ends_days / time_unit_days, coefficients, frequency, recency, T)
        return np.asarray(margin_ * spend * discounted, dtype=np.float64)

    def _extra_state(self) -> dict[str, Any]:
        return {"n_excluded": self.n_excluded_}

    def _restore_extra_state(self, data: dict[str, Any]) -> None:
        self.n_excluded_ = int(data.get("n_excluded", 0))


@dataclass(frozen=True)
class _Spend:
    """Repeat customers' (x, m, weight) with the parameter-free terms precomputed.

    Of the log-likelihood only ``(px+q) log(gamma + x m)`` needs a pass over the rows per
    evaluation; every other term is a function of x (evaluated on its distinct values
    and weighted by their counts) or a constant sum.
    """

    x: Column
    weights: FloatArray
    weighted_x: FloatArray
    pooled: FloatArray  # x m, the customer's total spend
    log_spend: FloatArray
    x_log_spend: FloatArray
    x_weight: FloatArray

    @classmethod
    def of(cls, x: FloatArray, spend: FloatArray, weights: FloatArray) -> _Spend:
        log_spend = np.log(spend)
        column = Column.of(x)
        return cls(x=column, weights=weights, weighted_x=weights * x, pooled=x * spend,
                   log_spend=log_spend, x_log_spend=x * log_spend,
                   x_weight=np.bincount(column.codes, weights,
                                            minlength=column.unique.size).astype(np.float64))

    def likelihood(self) -> Likelihood:
        return Likelihood(rows=lambda params: _log_likelihood(params, self),
                          weights=self.weights, totals=self.totals)

    def totals(self, params: FloatArray) -> tuple[float, FloatArray]:
        """Weighted total of :func:`_log_likelihood` and its gradient in (p, q, gamma)."""
        p, q, gamma = params
        shifted = gamma + self.pooled
        log_shifted = np.log(shifted)
        inverse = 1.0 / shifted
        w, wx = self.weights, self.weighted_x
        on_log, x_on_log = float(w @ log_shifted), float(wx @ log_shifted)
        on_inverse, x_on_inverse = float(w @ inverse), float(wx @ inverse)
        spend_terms = float(w @ self.x_log_spend)
        xv, xw = self.x.unique, self.x_weight
        weight = float(xw.sum())
        value = (float(xw @ (gammaln(p * xv + q) - gammaln(p * xv) + p * xv * np.log(xv)))
                 + weight * (q * np.log(gamma) - gammaln(q)) + p * spend_terms
                 - float(w @ self.log_spend) - p * x_on_log - q * on_log)
        gradient = np.array([
            float(xw @ (xv * (digamma(p * xv + q) - digamma(p * xv) + np.log(xv))))
            + spend_terms - x_on_log,
            float(xw @ digamma(p * xv + q)) + weight * (np.log(gamma) - digamma(q)) - on_log,
            weight * q / gamma - p * x_on_inverse - q * on_inverse,
        ])
        return value, gradient


def _log_likelihood(params: FloatArray, data: _Spend) -> FloatArray:
    """Density of the observed average m of x transactions (Fader & Hardie 2013, eq. 4).

    ``log f = log G(px+q) - log G(px) - log G(q) + q log gamma + (px-1) log m
    + px log x - (px+q) log(gamma + x m)``
    """
    p, q, gamma = params
    x = data.x
    return np.asarray(
        x.map(lambda v: gammaln(p * v + q) - gammaln(p * v) + p * v * np.log(v))
        - gammaln(q) + q * np.log(gamma) + p * data.x_log_spend - data.log_spend
        - (p * x.full + q) * np.log(gamma + data.pooled),
        dtype=np.float64,
    )


def _spend_inputs(frequency: ArrayLike, monetary_value: ArrayLike, *,
                  broadcast: bool = False) -> tuple[FloatArray, FloatArray]:
    x = inputs.as_float_array("frequency", frequency)
    spend = inputs.as_float_array("monetary_value", monetary_value)
    if broadcast:
        try:
            x, spend = np.broadcast_arrays(x, spend)
        except ValueError as exc:
            raise ValidationError(
                f"frequency and monetary_value have incompatible shapes {x.shape}, {spend.shape}"
            ) from exc
    else:
        x, spend = np.atleast_1d(x), np.atleast_1d(spend)
        inputs.same_length("frequency", x, monetary_value=spend)
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValidationError("frequency must be non-negative whole numbers")
    bad = (x > 0) & ~(spend > 0)
    if np.any(bad):
        raise ValidationError(
            "monetary_value must be > 0 where frequency > 0 "
            f"(first offending position: {int(np.flatnonzero(bad)[0])})"
        )
    return x, spend


def _steps(horizon_days: float) -> tuple[int, float]:
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise ValidationError("horizon_days must be a finite number > 0")
    steps = max(1, round(horizon_days / DAYS_PER_MONTH))
    return steps, horizon_days / steps
