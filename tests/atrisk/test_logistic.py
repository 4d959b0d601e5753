"""The at-risk logistic regression reaches the penalised maximum-likelihood optimum."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import optimize, special

from kithkin.atrisk import logistic
from kithkin.errors import ValidationError


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    X[:, 3] = X[:, 2] + 1e-3 * rng.normal(size=rows)  # nearly collinear, as model signals are
    X[:, 4] = 0.0  # constant: a signal absent from this business
    y = (rng.random(rows) < special.expit(0.5 + X[:, 0] - 2 * X[:, 1])).astype(float)
    return X, y


def _objective(fitted: logistic.Logistic, X: np.ndarray, y: np.ndarray) -> tuple[float, Any]:
    Z = np.column_stack([np.ones(len(X)), (X - fitted.mean) / fitted.scale])
    penalty = np.r_[0.0, np.ones(X.shape[1])]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = Z @ w
        value = (np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * penalty @ (w * w)) / len(y)
        return float(value), (Z.T @ (special.expit(z) - y) + penalty * w) / len(y)

    return loss(fitted.coef)[0], loss


@pytest.mark.parametrize("seed", [1, 2])
def test_fit_matches_a_tightly_converged_quasi_newton_optimum(seed: int) -> None:
    X, y = _data(5_000, seed)
    fitted = logistic.fit(X, y, tuple("abcde"))
    value, loss = _objective(fitted, X, y)
    reference = optimize.minimize(loss, np.zeros(X.shape[1] + 1), jac=True,
                                  method="L-BFGS-B",
                                  options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12})
    assert value <= reference.fun + 1e-12
    assert np.max(np.abs(loss(fitted.coef)[1])) < 1e-8
    Z = (X - fitted.mean) / fitted.scale
    reference_p = special.expit(reference.x[0] + Z @ reference.x[1:])
    assert np.max(np.abs(fitted.predict(X) - reference_p)) < 1e-6
    assert fitted.iterations < 20
    # calibrated in the large: the mean prediction is the base rate
    assert fitted.predict(X).mean() == pytest.approx(y.mean(), abs=1e-3)


def test_a_single_outcome_cannot_be_learnt() -> None:
    X, _ = _data(100, 3)
    with pytest.raises(ValidationError):
        logistic.fit(X, np.ones(100), tuple("abcde"))
