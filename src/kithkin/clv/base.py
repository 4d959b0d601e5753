"""What every CLV model shares: constructor validation, fitted state, summary, JSON.

The transaction models (BG/NBD, Pareto/NBD, MBG/NBD) also share fitting: validate the
history, compress identical rows, maximise the model's log-likelihood.  Each model only
supplies its per-row log-likelihood and its predictions.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from kithkin.clv import inputs
from kithkin.clv.compression import Column, compress
from kithkin.clv.estimation import Estimate, Likelihood, Totals, maximise
from kithkin.errors import ConvergenceError, ValidationError

FloatArray = NDArray[np.float64]
_Z_95 = float(norm.ppf(0.975))
_DISTINCT_PAIRS_FROM = 10_000
"""Customers from which grouping by distinct (x, T) pays for its hashing."""
SAMPLE_FROM = 100_000
"""Rows from which a fit with analytic gradients starts from a sample (estimation._newton)."""
SAMPLE_SIZE = 20_000
"""About how many rows that sample has (every k-th row)."""


class CLVModel(ABC):
    """Base of all models: ``params_``, ``log_likelihood_``, ``standard_errors_``, JSON."""

    param_names: ClassVar[tuple[str, ...]]

    params_: dict[str, float]
    standard_errors_: dict[str, float]
    log_likelihood_: float
    n_customers_: int

    def __init__(self, *, penalizer: float = 0.0) -> None:
        if not (isinstance(penalizer, int | float) and math.isfinite(penalizer)
                and penalizer >= 0):
            raise ValidationError(f"penalizer must be a finite number >= 0, got {penalizer!r}")
        self.penalizer = float(penalizer)

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({shown}, n_customers={self.n_customers_})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "params_")

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and Wald 95% intervals, one row per parameter."""
        self._require_fitted()
        estimate = pd.Series(self.params_, dtype="float64")
        error = pd.Series(self.standard_errors_, dtype="float64")
        return pd.DataFrame({
            "estimate": estimate,
            "standard_error": error,
            "lower_95": estimate - _Z_95 * error,
            "upper_95": estimate + _Z_95 * error,
        })

    def to_json(self) -> str:
        """Serialise the fitted model (parameters, errors, likelihood) as JSON."""
        self._require_fitted()
        return json.dumps({
            "model": type(self).__name__,
            "penalizer": self.penalizer,
            "params": self.params_,
            "standard_errors": {
                k: (None if math.isnan(v) else v) for k, v in self.standard_errors_.items()
            },
            "log_likelihood": None if math.isnan(self.log_likelihood_) else self.log_likelihood_,
            "n_customers": self.n_customers_,
            **self._extra_state(),
        })

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted model written by :meth:`to_json` (of the same class)."""
        try:
            data = json.loads(text)
            if data["model"] != cls.__name__:
                raise ValidationError(f"JSON holds a {data['model']} model, not {cls.__name__}")
            model = cls(penalizer=data["penalizer"])
            if set(data["params"]) != set(cls.param_names):
                raise ValidationError(
                    f"{cls.__name__} JSON must hold params {', '.join(cls.param_names)}"
                )
            model.params_ = {k: float(data["params"][k]) for k in cls.param_names}
            model.standard_errors_ = {
                k: (math.nan if data["standard_errors"].get(k) is None
                    else float(data["standard_errors"][k])) for k in cls.param_names
            }
            model.log_likelihood_ = (math.nan if data["log_likelihood"] is None
                                     else float(data["log_likelihood"]))
            model.n_customers_ = int(data["n_customers"])
            model._restore_extra_state(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"not a serialised {cls.__name__}: {exc!r}") from exc
        return model

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Self:
        """A model with given parameters (e.g. published or stored ones), ready to predict.

        Standard errors and the log-likelihood are unknown (NaN); ``n_customers_`` is 0.
        """
        if set(params) != set(cls.param_names):
            raise ValidationError(f"{cls.__name__} needs params {', '.join(cls.param_names)}")
        values = {k: float(params[k]) for k in cls.param_names}
        if not all(math.isfinite(v) and v > 0 for v in values.values()):
            raise ValidationError(f"{cls.__name__} params must be finite and > 0: {values}")
        model = cls()
        model.params_ = values
        model.standard_errors_ = dict.fromkeys(cls.param_names, math.nan)
        model.log_likelihood_ = math.nan
        model.n_customers_ = 0
        model._restore_extra_state({})
        return model

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model saved with :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def _store(self, estimate: Estimate, n_customers: int) -> None:
        self.params_ = dict(zip(self.param_names, map(float, estimate.params), strict=True))
        self.standard_errors_ = dict(
            zip(self.param_names, map(float, estimate.standard_errors), strict=True)
        )
        self.log_likelihood_ = estimate.log_likelihood
        self.n_customers_ = n_customers

    def _params(self) -> tuple[float, ...]:
        self._require_fitted()
        return tuple(self.params_[name] for name in self.param_names)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise ValidationError(f"{type(self).__name__} is not fitted; call fit() first")

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, data: dict[str, Any]) -> None:
        return None


class TransactionModel(CLVModel):
    """A buy-till-you-die model of repeat purchases in continuous time.

    Time is in whatever unit the summary uses (CDNOW: weeks; kithkin's metrics: days);
    t in the predictions is in the same unit.
    """

    _start: ClassVar[tuple[float, ...]]
    """Starting values (natural scale) for the optimiser."""
    _regroups_rows: ClassVar[bool] = False
    """True when :meth:`_totals` groups the rows itself (no (x, t_x, T) compression)."""
    _alive_memo: tuple[tuple[float, ...], FloatArray, FloatArray, FloatArray,
                       FloatArray] | None = None
    """The last large history's P(alive) (:meth:`_alive`)."""

    def fit(
        self,
        *,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array_like
            Repeat purchases, age at the last repeat purchase, age at the end of
            observation (one value per customer, or per distinct row with ``weights``).
        weights : array_like, optional
            How many customers each row stands for.

        Raises
        ------
        ValidationError
            For malformed input.
        ConvergenceError
            When the optimiser fails or the data cannot identify the parameters.
        """
        history = inputs.history(frequency, recency, T)
        w = inputs.weights_for(weights, history.frequency.size)
        self._check_identifiable(history.frequency, w)
        x, tx, age = history.frequency, history.recency, history.T
        likelihood = self._likelihood(x, tx, age, w)
        sample = None
        if likelihood.totals is not None and w.size >= SAMPLE_FROM:
            every = max(1, w.size // SAMPLE_SIZE)
            if np.any((x[::every] > 0) & (w[::every] > 0)):
                sample = self._likelihood(x[::every], tx[::every], age[::every], w[::every])
        estimate = maximise(
            model=type(self).__name__,
            names=self.param_names,
            likelihood=likelihood,
            penalizer=self.penalizer,
            start=np.log(np.asarray(self._start, dtype=np.float64)),
            sample=sample,
            upper=self._log_upper(age),
        )
        self._store(estimate, n_customers=round(float(w.sum())))
        return self

    def _log_upper(self, T: FloatArray) -> FloatArray | None:
        """Log upper bounds of parameters the model knows the data cannot pin down past
        some size (None: only the general bound)."""
        return None

    def _likelihood(self, x: FloatArray, tx: FloatArray, T: FloatArray,
                    weights: FloatArray) -> Likelihood:
        """The log-likelihood over the distinct (x, t_x, T) rows, weighted by their counts.

        A model with an analytic total (:meth:`_totals`) regroups the rows by pairs itself
        and gets them as they are: in daily data most (x, t_x, T) triples are distinct
        (about 580,000 of a million customers), so hashing them would cost more than the
        rows it saves.
        """
        if self._regroups_rows:
            x_, tx_, age_ = Column.of(x), Column.of(tx), Column.of(T)
            totals = self._totals(x_, tx_, age_, weights)
            if totals is not None:
                return Likelihood(
                    rows=lambda params: self._log_likelihood(params, x_, tx_, age_),
                    weights=weights, totals=totals)
        rows = compress(x, tx, T, weights=weights)
        x_, tx_, age_ = (Column.of(column) for column in rows.columns)
        return Likelihood(rows=lambda params: self._log_likelihood(params, x_, tx_, age_),
                          weights=rows.weights, totals=self._totals(x_, tx_, age_, rows.weights))

    def log_likelihood(self, *, frequency: ArrayLike, recency: ArrayLike,
                       T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood under the fitted parameters."""
        history = inputs.history(frequency, recency, T, broadcast=True)
        params = np.asarray(self._params())
        return self._log_likelihood(params, *(Column.of(np.ravel(c)) for c in (
            history.frequency, history.recency, history.T))).reshape(history.T.shape)

    @staticmethod
    def _check_identifiable(frequency: FloatArray, weights: FloatArray) -> None:
        if not np.any((frequency > 0) & (weights > 0)):
            raise ConvergenceError(
                "no customer has a repeat purchase (all frequency is 0): the purchase and "
                "dropout rates cannot be identified"
            )

    @staticmethod
    @abstractmethod
    def _log_likelihood(params: FloatArray, x: Column, tx: Column, T: Column) -> FloatArray:
        """Per-row log-likelihood for natural-scale ``params``."""

    @staticmethod
    def _totals(x: Column, tx: Column, T: Column, weights: FloatArray) -> Totals | None:
        """Weighted total log-likelihood with its analytic gradient, if the model has one.

        None (the default) means finite differences of :meth:`_log_likelihood`.
        """
        return None

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike,
                          T: ArrayLike) -> FloatArray:
        """P(customer still active at T | x, t_x, T)."""
        params = self._params()
        h = inputs.history(frequency, recency, T, broadcast=True)
        return self._alive(params, h)

    def _alive(self, params: tuple[float, ...], h: inputs.History) -> FloatArray:
        """P(alive) of a validated history; for a large one the answer is kept with a
        copy of the history and the parameters, and given again (as a copy) while both
        are equal.

        A refresh asks one fitted model for P(alive), expected purchases and CLV of the
        same customers, its holdout check and at-risk score ask again, and P(alive) is
        the costly part of each (Pareto/NBD: 2F1 terms). Equality of the values, not
        identity of the arrays, decides, so a caller's array changed in place is never
        answered from the memo."""
        if h.T.size < _DISTINCT_PAIRS_FROM:
            return self._probability_alive(params, h.frequency, h.recency, h.T)
        memo = self._alive_memo
        if (memo is not None and memo[0] == params and memo[1].shape == h.T.shape
                and all(np.array_equal(kept, now) for kept, now in zip(
                    memo[1:4], (h.frequency, h.recency, h.T), strict=True))):
            return memo[4].copy()
        alive = self._probability_alive(params, h.frequency, h.recency, h.T)
        self._alive_memo = (params, h.frequency.copy(), h.recency.copy(), h.T.copy(),
                            alive.copy())
        return alive

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> FloatArray:
        """E[purchases in (T, T + t] | x, t_x, T] = P(alive) * E[purchases | alive, x, T].

        For one horizon over many customers this goes through
        :meth:`expected_purchases_sum`, which evaluates the expensive part once per
        distinct (x, T).
        """
        params = self._params()
        horizon_ = horizon("t", t)
        h = inputs.history(frequency, recency, T, broadcast=True)
        if horizon_.ndim == 0 and h.T.size >= _DISTINCT_PAIRS_FROM:
            return self.expected_purchases_sum(horizon_[None], [1.0], h.frequency,
                                               h.recency, h.T)
        try:
            t_, x, tx, age = np.broadcast_arrays(horizon_, h.frequency, h.recency, h.T)
        except ValueError as exc:
            raise ValidationError(f"t has shape {horizon_.shape}, incompatible with the "
                                  f"history's {h.T.shape}") from exc
        return np.asarray(self._probability_alive(params, x, tx, age)
                          * self._expected_if_alive(params, t_, x, age), dtype=np.float64)

    def expected_purchases_sum(self, horizons: ArrayLike, coefficients: ArrayLike,
                               frequency: ArrayLike, recency: ArrayLike,
                               T: ArrayLike) -> FloatArray:
        """``sum_k coefficients[k] * E[purchases in (T, T + horizons[k]] | history]``.

        A discounted sum of future purchases in one pass: P(alive) is computed once, and
        the expectation given alive, which depends on the history only through (x, T),
        once per distinct (x, T) pair and horizon (a million daily-data customers have a
        few tens of thousands of such pairs).
        """
        params = self._params()
        times = np.atleast_1d(horizon("horizons", horizons))
        weights = np.atleast_1d(inputs.as_float_array("coefficients", coefficients))
        if times.ndim != 1 or weights.shape != times.shape:
            raise ValidationError("horizons and coefficients must be 1-D of equal length")
        h = inputs.history(frequency, recency, T, broadcast=True)
        pairs = compress(h.frequency.ravel(), h.T.ravel(), weights=np.ones(h.T.size))
        x, age = pairs.columns
        per_pair = np.zeros(x.size)
        for t, weight in zip(times, weights, strict=True):
            per_pair += weight * self._expected_if_alive(params, np.float64(t), x, age)
        alive = self._alive(params, h)
        return np.asarray(alive * per_pair[pairs.inverse].reshape(h.T.shape), dtype=np.float64)

    @abstractmethod
    def _probability_alive(self, params: tuple[float, ...], x: FloatArray, tx: FloatArray,
                           T: FloatArray) -> FloatArray:
        """P(alive) for validated, broadcast arrays."""

    @abstractmethod
    def _expected_if_alive(self, params: tuple[float, ...], t: FloatArray | np.float64,
                           x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T + t] | alive at T, x, T] (independent of t_x)."""

    @abstractmethod
    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[repeat purchases in (0, t]] for a customer just acquired."""

    @abstractmethod
    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n): n repeat purchases in (0, t] for a customer just acquired."""


def horizon(name: str, t: ArrayLike) -> FloatArray:
    """Validate a prediction horizon (non-negative, finite)."""
    array = inputs.as_float_array(name, t)
    if np.any(array < 0):
        raise ValidationError(f"{name} must be non-negative")
    return array


def purchase_count(n: ArrayLike) -> FloatArray:
    """Validate a number of purchases (non-negative whole numbers)."""
    array = inputs.as_float_array("n", n)
    if np.any(array < 0) or np.any(array != np.floor(array)):
        raise ValidationError("n must be non-negative whole numbers")
    return array
