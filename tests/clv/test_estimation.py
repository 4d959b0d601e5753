"""The fast fitting paths: analytic gradients, sample-curvature Newton, row coding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from kithkin.clv import BetaGeo, GammaGamma, ParetoNBD, base, estimation, gamma_gamma, pareto_nbd
from kithkin.clv.beta_geo import _Rows
from kithkin.clv.compression import Column, codes_of, combine, compress
from kithkin.clv.gamma_gamma import _log_likelihood, _Spend


def _history(rng: np.random.Generator, n: int, *, whole: bool) -> tuple[np.ndarray, ...]:
    """A Pareto/NBD-like population: x repeat purchases, t_x <= T, x = 0 => t_x = 0."""
    age = rng.integers(1, 730, n).astype(float) if whole else rng.uniform(1, 50, n)
    lifetime = np.minimum(rng.exponential(300.0, n), age)
    x = rng.poisson(rng.gamma(0.9, 1 / 25.0, n) * lifetime).astype(float)
    last = lifetime * rng.random(n) ** (1.0 / np.maximum(x, 1.0))
    tx = np.where(x > 0, np.floor(last) if whole else last, 0.0)
    return x, tx, age


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_beta_geo_gradient_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, tx, age = _history(rng, 300, whole=seed == 3)
    weights = rng.integers(1, 5, x.size).astype(float)
    columns = [Column.of(c) for c in (x, tx, age)]
    rows = _Rows.of(columns[0], columns[1], columns[2], weights)
    params = rng.uniform(0.3, 4.0, 4)
    value, gradient = rows.totals(params)
    per_row = BetaGeo._log_likelihood(params, *columns)
    assert value == pytest.approx(float(weights @ per_row), rel=1e-12)
    numeric = approx_fprime(params, lambda p: rows.totals(p)[0], 1e-6)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("seed", [1, 2])
def test_gamma_gamma_gradient_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.poisson(2, 200).astype(float) + 1.0
    spend = rng.uniform(5, 50, 200)
    weights = rng.integers(1, 4, 200).astype(float)
    data = _Spend.of(x, spend, weights)
    params = rng.uniform(1.0, 10.0, 3)
    value, gradient = data.totals(params)
    assert value == pytest.approx(float(weights @ _log_likelihood(params, data)), rel=1e-12)
    numeric = approx_fprime(params, lambda p: data.totals(p)[0], 1e-6)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-4)


def _spy_on_lbfgsb(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = estimation._lbfgsb

    def spy(**kwargs: object) -> estimation._Optimum:
        calls.append(1)
        return original(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(estimation, "_lbfgsb", spy)
    return calls


def test_sample_newton_reaches_the_lbfgsb_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """At the default thresholds: same optimum (never worse), same standard errors."""
    rng = np.random.default_rng(7)
    x, tx, age = _history(rng, 150_000, whole=True)
    spend = np.where(x > 0, rng.gamma(6.0, 1.0, x.size) / rng.gamma(3.5, 1 / 15.0, x.size),
                     0.0)
    assert x.size >= base.SAMPLE_FROM and (x > 0).sum() >= base.SAMPLE_FROM
    calls = _spy_on_lbfgsb(monkeypatch)
    fast_bg = BetaGeo().fit(frequency=x, recency=tx, T=age)
    fast_gg = GammaGamma().fit(frequency=x, monetary_value=spend)
    assert calls == []  # Newton converged on its own
    monkeypatch.setattr(base, "SAMPLE_FROM", 10**12)
    slow_bg = BetaGeo().fit(frequency=x, recency=tx, T=age)
    slow_gg = GammaGamma().fit(frequency=x, monetary_value=spend)
    assert calls == [1, 1]
    for fast, slow in ((fast_bg, slow_bg), (fast_gg, slow_gg)):
        assert fast.log_likelihood_ >= slow.log_likelihood_ - 1e-6
        for name in fast.param_names:
            assert fast.params_[name] == pytest.approx(slow.params_[name], rel=1e-5)
            assert fast.standard_errors_[name] == pytest.approx(
                slow.standard_errors_[name], rel=1e-3)


def test_sample_newton_on_cdnow_matches_published_fit(
    monkeypatch: pytest.MonkeyPatch, cdnow: pd.DataFrame, bg: BetaGeo, gg: GammaGamma
) -> None:
    monkeypatch.setattr(base, "SAMPLE_FROM", 500)
    monkeypatch.setattr(base, "SAMPLE_SIZE", 400)
    calls = _spy_on_lbfgsb(monkeypatch)
    fast = BetaGeo().fit(frequency=cdnow["frequency"], recency=cdnow["recency"], T=cdnow["T"])
    fast_gg = GammaGamma().fit(frequency=cdnow["frequency"],
                               monetary_value=cdnow["monetary_value"])
    assert calls == []
    assert fast.log_likelihood_ >= bg.log_likelihood_ - 1e-6
    assert fast.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert fast_gg.log_likelihood_ >= gg.log_likelihood_ - 1e-6
    for model, reference in ((fast, bg), (fast_gg, gg)):
        for name in model.param_names:
            assert model.params_[name] == pytest.approx(reference.params_[name], rel=1e-5)


def test_a_failing_sample_falls_back_to_lbfgsb(cdnow: pd.DataFrame, bg: BetaGeo) -> None:
    x, tx, age = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    full = BetaGeo()._likelihood(x, tx, age, np.ones(x.size))
    broken = estimation.Likelihood(rows=full.rows, weights=full.weights,
                                   totals=lambda p: (float("nan"), np.full(4, np.nan)))
    estimate = estimation.maximise(model="BetaGeo", names=BetaGeo.param_names,
                                   likelihood=full, penalizer=0.0, start=np.zeros(4),
                                   sample=broken)
    assert estimate.log_likelihood == pytest.approx(bg.log_likelihood_, abs=1e-6)


@pytest.mark.parametrize("kind", ["whole", "fractional", "wide", "small"])
def test_codes_and_compression_are_exact(kind: str) -> None:
    rng = np.random.default_rng(3)
    n = 20 if kind == "small" else 5_000
    values = {
        "whole": rng.integers(0, 50, n).astype(float),
        "fractional": rng.integers(0, 50, n) / 4.0,
        "wide": rng.integers(0, 2**40, n).astype(float),
        "small": rng.integers(0, 5, n).astype(float),
    }[kind]
    codes, distinct = codes_of(values)
    np.testing.assert_array_equal(distinct[codes], values)
    assert np.unique(distinct).size == distinct.size
    other = rng.integers(0, 7, n).astype(float)
    packed = compress(values, other, weights=np.ones(n))
    np.testing.assert_array_equal(packed.columns[0][packed.inverse], values)
    np.testing.assert_array_equal(packed.columns[1][packed.inverse], other)
    assert packed.weights.sum() == n
    assert packed.weights.size == np.unique(np.column_stack([values, other]), axis=0).shape[0]


def test_combine_survives_key_overflow() -> None:
    rng = np.random.default_rng(4)
    columns = [rng.integers(0, 2**25, 3_000) for _ in range(3)]  # 2^75 combinations
    codes = combine(*((c.astype(np.intp), 2**25) for c in columns))
    expected = np.unique(np.column_stack(columns), axis=0, return_inverse=True)[1].ravel()
    # same partition of the rows, whatever the numbering
    assert pd.crosstab(codes, expected).astype(bool).sum(axis=1).max() == 1
    assert np.unique(codes).size == np.unique(expected).size


def test_pareto_nbd_stops_at_its_scale_bounds_when_everyone_buys_at_one_rate() -> None:
    """One purchase rate for everyone (Poisson, no gamma heterogeneity): the likelihood
    rises without end along r, alpha -> infinity at fixed r/alpha. Unbounded, a small
    shop's fit walked to alpha = 8 million days through slow 2F1 series; bounded at
    SCALE_SPANS spans, it stops there with the shared rate the data show."""
    rng = np.random.default_rng(3)
    n = 200
    age = rng.uniform(200, 400, size=n)
    alive_for = np.minimum(rng.exponential(1 / rng.gamma(1.0, 1 / 300, size=n)), age)
    x = rng.poisson(0.02 * alive_for).astype(float)  # one rate, 0.02 a day, for everyone
    tx = np.array([np.max(rng.uniform(0, span, size=int(k)), initial=0.0)
                   for k, span in zip(x, alive_for, strict=True)])
    model = ParetoNBD().fit(frequency=x, recency=tx, T=age)
    top = pareto_nbd.SCALE_SPANS * age.max()
    assert model.params_["alpha"] <= top * (1 + 1e-9)
    assert model.params_["beta"] <= top * (1 + 1e-9)
    assert model.params_["r"] / model.params_["alpha"] == pytest.approx(0.02, rel=0.25)


def test_gamma_gamma_stops_at_its_q_bound_when_customers_spend_alike() -> None:
    """Every order's value drawn from one distribution, whoever the customer: the
    likelihood rises without end along q, gamma -> infinity (lifetimes does not converge
    either) and a small shop's CLV was unknown. Bounded at Q_MAX, the fit stops there and
    every customer's expected spend is the population mean, within a few per cent."""
    rng = np.random.default_rng(0)  # unbounded: "stopped on a flat or saddle point"
    x = rng.integers(1, 15, size=35).astype(float)
    m = np.array([rng.uniform(9, 180, size=int(k)).mean() for k in x])
    model = GammaGamma().fit(frequency=x, monetary_value=m)
    assert model.params_["q"] <= gamma_gamma.Q_MAX * (1 + 1e-9)
    spend = model.expected_spend(x, m)
    p, q, g = (model.params_[n] for n in ("p", "q", "gamma"))
    assert spend == pytest.approx(np.full(x.size, p * g / (q - 1)), rel=0.05)
    assert p * g / (q - 1) == pytest.approx(np.average(m, weights=x), rel=0.1)
