"""L2-regularised logistic regression in NumPy/SciPy (no scikit-learn dependency).

Why logistic regression: the at-risk score must be a *probability* (value at risk = CLV x
probability of defection), and a logistic model fitted by maximum likelihood on the
label it predicts is calibrated in the large by construction (its mean prediction on the
training data equals the base rate). Features are standardised with the training
means and deviations, stored with the coefficients so the run record explains the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from kithkin.errors import ConvergenceError, ValidationError


@dataclass(frozen=True)
class Logistic:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # intercept first
    iterations: int

    def predict(self, X: np.ndarray) -> np.ndarray:
        """P(label = 1) per row."""
        z = (X - self.mean) / self.scale
        result: np.ndarray = special.expit(self.coef[0] + z @ self.coef[1:])
        return result

    def record(self) -> dict[str, Any]:
        """Coefficients per standardised feature, for the run record."""
        return {"intercept": round(float(self.coef[0]), 4),
                "coefficients": {n: round(float(c), 4)
                                 for n, c in zip(self.names, self.coef[1:], strict=True)},
                "iterations": self.iterations}


def fit(X: np.ndarray, y: np.ndarray, names: tuple[str, ...], *,
        l2: float = 1.0) -> Logistic:
    """Maximum likelihood with an L2 penalty ``l2 / 2 * |w|^2`` (intercept free).

    Raises
    ------
    ValidationError
        When a single class is present (nothing to learn).
    ConvergenceError
        When L-BFGS fails.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        raise ValidationError("the at-risk training period holds a single outcome; "
                              "no score can be learnt")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-12] = 1.0
    Z = np.column_stack([np.ones(len(X)), (X - mean) / scale])
    penalty = np.r_[0.0, np.full(X.shape[1], l2)]
    n = float(len(y))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = Z @ w
        # log(1 + e^z) - y z, stably
        value = float(np.sum(np.logaddexp(0.0, z) - y * z)) / n + 0.5 * float(
            penalty @ (w * w)) / n
        grad = Z.T @ (special.expit(z) - y) / n + penalty * w / n
        return value, grad

    result = optimize.minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B",
                               options={"maxiter": 500})
    if not np.all(np.isfinite(result.x)):
        raise ConvergenceError(f"at-risk logistic regression: {result.message}")
    return Logistic(names=names, mean=mean, scale=scale, coef=result.x,
                    iterations=int(result.nit))
