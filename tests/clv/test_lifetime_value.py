"""Expected spend and discounted CLV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kithkin.clv import BetaGeo, GammaGamma
from kithkin.errors import ValidationError


def _clv(gg: GammaGamma, bg: BetaGeo, data: pd.DataFrame, **overrides: float) -> np.ndarray:
    options = {"horizon_days": 365.25, "discount_rate_annual": 0.0, "margin": 0.3,
               "time_unit_days": 7.0, **overrides}
    return np.asarray(gg.customer_lifetime_value(
        bg, frequency=data["frequency"], recency=data["recency"], T=data["T"],
        monetary_value=data["monetary_value"], **options))


def test_expected_spend_shrinks_toward_the_population_mean(gg: GammaGamma) -> None:
    p, q, gamma = gg.params_["p"], gg.params_["q"], gg.params_["gamma"]
    population = p * gamma / (q - 1)
    assert float(gg.expected_spend(0, 0.0)) == pytest.approx(population)
    few, many = gg.expected_spend([1, 50], [200.0, 200.0])
    assert population < few < many < 200.0


def test_undiscounted_clv_is_margin_times_spend_times_purchases(
    gg: GammaGamma, bg: BetaGeo, cdnow: pd.DataFrame
) -> None:
    clv = _clv(gg, bg, cdnow)
    purchases = bg.expected_purchases(365.25 / 7, cdnow["frequency"], cdnow["recency"],
                                      cdnow["T"])
    spend = gg.expected_spend(cdnow["frequency"], cdnow["monetary_value"])
    np.testing.assert_allclose(clv, 0.3 * spend * purchases, rtol=1e-10)


def test_discounting_lowers_clv_by_at_most_the_full_year_factor(
    gg: GammaGamma, bg: BetaGeo, cdnow: pd.DataFrame
) -> None:
    plain = _clv(gg, bg, cdnow)
    discounted = _clv(gg, bg, cdnow, discount_rate_annual=0.2)
    assert np.all(discounted < plain)
    assert np.all(discounted > plain / 1.2)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("horizon_days", 0.0, "horizon_days"),
    ("discount_rate_annual", -0.1, "discount_rate_annual"),
    ("time_unit_days", 0.0, "time_unit_days"),
    ("margin", 1.5, "margin"),
])
def test_clv_options_are_validated(gg: GammaGamma, bg: BetaGeo, cdnow: pd.DataFrame,
                                   option: str, value: float, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _clv(gg, bg, cdnow.iloc[:5], **{option: value})
