"""2F1 on the log scale where SciPy overflows, and likelihoods at extreme inputs."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from kithkin.clv import ParetoNBD
from kithkin.clv.special import _log_series, log_hyp2f1, log_hyp2f1_c_eq_a_plus_1

mpmath.mp.dps = 40


def _reference(a: float, b: float, c: float, z: float) -> float:
    return float(mpmath.log(mpmath.hyp2f1(a, b, c, z)))


@pytest.mark.parametrize(("a", "b", "z"), [
    (0.5, 1.6, 0.01),
    (5000.6, 1.6, 0.999),       # heavy buyer, alpha >> beta
    (800.0, 799.0, 0.9999),     # b close to a: (1 - z)^(1 - b) overflows float64
    (3.0, 250.0, 0.95),         # b > a + 1: no Euler transform
    (0.3, 0.2, 0.0),
])
def test_c_equals_a_plus_one_form_matches_mpmath(a: float, b: float, z: float) -> None:
    ours = float(log_hyp2f1_c_eq_a_plus_1(a, b, z))
    assert ours == pytest.approx(_reference(a, b, a + 1.0, z), rel=1e-9, abs=1e-12)


def test_series_fallback_where_scipy_overflows() -> None:
    a, b, c, z = 400.0, 380.0, 200.0, 0.9
    with np.errstate(all="ignore"):
        from scipy.special import hyp2f1
        assert not np.isfinite(np.log(hyp2f1(a, b, c, z)))
    assert float(log_hyp2f1(a, b, c, z)) == pytest.approx(_reference(a, b, c, z), rel=1e-9)


@pytest.mark.parametrize("params", [
    (0.553, 10.578, 0.606, 11.669),
    (5.0, 0.01, 0.1, 500.0),      # alpha << beta
    (0.2, 800.0, 30.0, 0.05),     # alpha >> beta
])
def test_pareto_nbd_is_finite_at_extreme_histories(params: tuple[float, ...]) -> None:
    x = np.array([0.0, 1.0, 50.0, 1000.0, 5000.0, 300.0])
    tx = np.array([0.0, 0.001, 20.0, 999.0, 3000.0, 3000.0])
    age = np.array([1e-6, 1000.0, 20.0, 1000.0, 10000.0, 3000.0])
    model = ParetoNBD.from_params(dict(zip(ParetoNBD.param_names, params, strict=True)))
    assert np.all(np.isfinite(model.log_likelihood(frequency=x, recency=tx, T=age)))
    p_alive = model.probability_alive(x, tx, age)
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert np.all(np.isfinite(model.expected_purchases(52.0, x, tx, age)))


def test_pareto_nbd_likelihood_matches_a_direct_mpmath_evaluation() -> None:
    r, alpha, s, beta = 0.8, 3.0, 1.4, 9.0
    x, tx, age = 120.0, 150.0, 160.0
    rr, aa, ss, bb = map(mpmath.mpf, (r, alpha, s, beta))
    big = max(aa, bb)
    z_b = ss + 1 if aa >= bb else rr + x

    def term(t: float) -> mpmath.mpf:
        return mpmath.hyp2f1(rr + ss + x, z_b, rr + ss + x + 1, abs(aa - bb) / (big + t)) / (
            big + t) ** (rr + ss + x)

    likelihood = (mpmath.gamma(rr + x) * aa**rr * bb**ss / mpmath.gamma(rr)) * (
        1 / ((aa + age) ** (rr + x) * (bb + age) ** ss)
        + ss / (rr + ss + x) * (term(tx) - term(age)))
    model = ParetoNBD.from_params({"r": r, "alpha": alpha, "s": s, "beta": beta})
    ours = model.log_likelihood(frequency=[x], recency=[tx], T=[age])
    assert float(ours[0]) == pytest.approx(float(mpmath.log(likelihood)), rel=1e-9)


def test_large_calls_split_over_threads_give_scipys_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.special import hyp2f1

    from kithkin.clv import special
    from kithkin.clv.special import _hyp2f1
    # four threads whatever the machine has, so the split path is the one compared
    monkeypatch.setattr(special, "_WORKERS", 4)
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 40.0, 50_001)
    b, z = rng.uniform(0.1, 20.0, a.size), rng.uniform(0.0, 0.995, a.size)
    np.testing.assert_array_equal(_hyp2f1(a, b, a + 1.0, z), hyp2f1(a, b, a + 1.0, z))


def test_c_minus_a_minus_b_an_integer_up_to_rounding() -> None:
    """BG/NBD with a = 1 + r puts c - a - b at 0 up to rounding, where SciPy's value near
    z = 1 loses most digits (a new customer's expected purchases then fell from t = 19 to
    t = 20 days); the series gives the true value."""
    a, b = 0.05, 7.0
    c = 1.05 + b - 1.0  # c - a - b = 8.9e-16
    z = np.array([19.0, 20.0]) / (0.051098 + np.array([19.0, 20.0]))
    series = _log_series(np.full(2, a), np.full(2, b), np.full(2, c), z)
    np.testing.assert_allclose(log_hyp2f1(a, b, c, z), series, rtol=1e-9)
