"""Pareto/NBD P(X(t) = n): our quadrature against the closed form at 50 digits.

lifetimes has no Pareto/NBD P(X(t) = n); the reference here is the closed form of Fader,
Hardie & Lee (2006), "Deriving an expression for P(X(t) = x) under the Pareto/NBD model",
evaluated with mpmath so its cancelling 2F1 terms cannot lose precision.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from kithkin.clv import ParetoNBD

mpmath.mp.dps = 50


def _closed_form(n: int, t: float, r: float, alpha: float, s: float, beta: float) -> float:
    r, alpha, s, beta, t = map(mpmath.mpf, (r, alpha, s, beta, t))
    nbd = (mpmath.gamma(r + n) / (mpmath.gamma(r) * mpmath.factorial(n))
           * (alpha / (alpha + t)) ** r * (t / (alpha + t)) ** n)
    first = nbd * (beta / (beta + t)) ** s
    if alpha >= beta:
        def b(a: mpmath.mpf, base: mpmath.mpf) -> mpmath.mpf:
            return mpmath.hyp2f1(a, s + 1, r + s + n + 1, (alpha - beta) / base) / base ** a
        shift = alpha
    else:
        def b(a: mpmath.mpf, base: mpmath.mpf) -> mpmath.mpf:
            return mpmath.hyp2f1(a, r + n, r + s + n + 1, (beta - alpha) / base) / base ** a
        shift = beta
    b1 = b(r + s, shift)
    finite = mpmath.fsum(
        mpmath.gamma(r + s + j) / (mpmath.gamma(r + s) * mpmath.factorial(j)) * t**j
        * b(r + s + j, shift + t) for j in range(n + 1)
    )
    second = alpha**r * beta**s * mpmath.beta(r + n, s + 1) / mpmath.beta(r, s) * (b1 - finite)
    return float(first + second)


@pytest.mark.parametrize("params", [
    {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},  # CDNOW, alpha < beta
    {"r": 1.3, "alpha": 20.0, "s": 2.5, "beta": 4.0},           # alpha >= beta
])
@pytest.mark.parametrize("t", [0.5, 39.0, 250.0])
def test_quadrature_matches_closed_form(params: dict[str, float], t: float) -> None:
    model = ParetoNBD.from_params(params)
    ours = model.probability_of_purchases(np.arange(8), t)
    reference = [_closed_form(n, t, **params) for n in range(8)]
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-12)
