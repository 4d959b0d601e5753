"""Same data, same answers as lifetimes (an independent implementation)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from kithkin.clv import BetaGeo, GammaGamma, ModifiedBetaGeo, TransactionModel

RTOL = 1e-4


@pytest.fixture(autouse=True)
def _quiet_lifetimes() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _theirs_with_our_params(fitter_class: type, model: TransactionModel) -> Any:
    """A lifetimes fitter carrying our parameters, so predictions compare like for like."""
    fitter = fitter_class()
    fitter.params_ = pd.Series(model.params_)
    return fitter


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("bg", BetaGeoFitter), ("pareto", ParetoNBDFitter), ("mbg", ModifiedBetaGeoFitter)],
)
def test_fit_is_at_least_as_good_as_lifetimes(
    ours: str, theirs: type, cdnow: pd.DataFrame, request: pytest.FixtureRequest
) -> None:
    model: TransactionModel = request.getfixturevalue(ours)
    fitter = theirs().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    their_params = np.array([fitter.params_[k] for k in model.param_names])
    their_model = type(model).from_params(dict(zip(model.param_names, their_params,
                                                    strict=True)))
    their_ll = float(np.sum(their_model.log_likelihood(
        frequency=cdnow["frequency"], recency=cdnow["recency"], T=cdnow["T"])))
    assert model.log_likelihood_ >= their_ll - 1e-3
    if their_ll < model.log_likelihood_ - 1e-3:
        # lifetimes' Pareto/NBD once stopped short of the optimum in a full-suite worker
        # (s 0.583, beta 10.89 against the published 0.606, 11.669, which ours reproduce:
        # test_published); ours is then strictly better, which is what this test asks
        return
    np.testing.assert_allclose(
        [model.params_[k] for k in model.param_names], their_params, rtol=5e-3
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("bg", BetaGeoFitter), ("pareto", ParetoNBDFitter), ("mbg", ModifiedBetaGeoFitter)],
)
def test_predictions_agree_with_lifetimes(
    ours: str, theirs: type, cdnow: pd.DataFrame, request: pytest.FixtureRequest
) -> None:
    model: TransactionModel = request.getfixturevalue(ours)
    fitter = _theirs_with_our_params(theirs, model)
    x, tx, age = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(
        model.probability_alive(x, tx, age),
        fitter.conditional_probability_alive(x, tx, age), rtol=RTOL)
    for t in (1.0, 39.0, 200.0):
        np.testing.assert_allclose(
            model.expected_purchases(t, x, tx, age),
            fitter.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age),
            rtol=RTOL)
        np.testing.assert_allclose(
            model.expected_purchases_new_customer(t),
            fitter.expected_number_of_purchases_up_to_time(t), rtol=RTOL)
    if not hasattr(fitter, "probability_of_n_purchases_up_to_time"):
        return  # lifetimes' ParetoNBDFitter lacks it: see test_pareto_counts.py
    for n in range(6):
        np.testing.assert_allclose(
            model.probability_of_purchases(n, 39.0),
            fitter.probability_of_n_purchases_up_to_time(39.0, n), rtol=RTOL)


def test_own_log_likelihood_agrees_with_lifetimes_on_mbg(mbg: ModifiedBetaGeo,
                                                         cdnow: pd.DataFrame) -> None:
    their_params = np.array([mbg.params_[k] for k in mbg.param_names])
    theirs = ModifiedBetaGeoFitter._negative_log_likelihood(
        np.log(their_params), cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(),
        cdnow["T"].to_numpy(), np.ones(len(cdnow)), 0.0)
    assert mbg.log_likelihood_ / len(cdnow) == pytest.approx(-theirs, rel=1e-10)


def test_gamma_gamma_agrees_with_lifetimes(gg: GammaGamma, cdnow: pd.DataFrame) -> None:
    repeat = cdnow[cdnow["frequency"] > 0]
    fitter = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    np.testing.assert_allclose([gg.params_[k] for k in ("p", "q", "gamma")],
                               [fitter.params_[k] for k in ("p", "q", "v")], rtol=5e-3)
    fitter.params_ = pd.Series({"p": gg.params_["p"], "q": gg.params_["q"],
                                "v": gg.params_["gamma"]})
    np.testing.assert_allclose(
        gg.expected_spend(repeat["frequency"], repeat["monetary_value"]),
        fitter.conditional_expected_average_profit(repeat["frequency"],
                                                   repeat["monetary_value"]), rtol=RTOL)


def test_clv_agrees_with_lifetimes_monthly_convention(cdnow: pd.DataFrame) -> None:
    # lifetimes values 30-day steps discounted monthly; in days, 360 days is 12 such steps
    # and a monthly rate m is the annual rate (1 + m)^(365.25 / 30) - 1.
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    model = BetaGeo().fit(frequency=days["frequency"], recency=days["recency"], T=days["T"])
    gg = GammaGamma().fit(frequency=days["frequency"], monetary_value=days["monetary_value"])
    ours = gg.customer_lifetime_value(
        model, frequency=days["frequency"], recency=days["recency"], T=days["T"],
        monetary_value=days["monetary_value"], horizon_days=360,
        discount_rate_annual=1.01 ** (365.25 / 30) - 1, margin=1.0, time_unit_days=1)
    bgf = _theirs_with_our_params(BetaGeoFitter, model)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # set by fit()
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series({"p": gg.params_["p"], "q": gg.params_["q"],
                             "v": gg.params_["gamma"]})
    theirs = ggf.customer_lifetime_value(
        bgf, days["frequency"], days["recency"], days["T"], days["monetary_value"],
        time=12, discount_rate=0.01, freq="D")
    np.testing.assert_allclose(ours, theirs.to_numpy(), rtol=RTOL)


def test_standard_errors_agree_with_lifetimes(bg: BetaGeo, cdnow: pd.DataFrame) -> None:
    fitter = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose([bg.standard_errors_[k] for k in bg.param_names],
                               [fitter.standard_errors_[k] for k in bg.param_names], rtol=2e-3)
