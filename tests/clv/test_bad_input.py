"""Malformed input fails with a ValidationError naming the problem; unfittable data with
a ConvergenceError saying why."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kithkin.clv import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD, TransactionModel
from kithkin.errors import ConvergenceError, ValidationError

TRANSACTION_MODELS = (BetaGeo, ParetoNBD, ModifiedBetaGeo)
GOOD: dict[str, Any] = {
    "frequency": [0, 2, 5], "recency": [0.0, 10.0, 30.0], "T": [40.0, 40.0, 35.0]
}


@pytest.mark.parametrize("cls", TRANSACTION_MODELS)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frequency": [0, -1, 5]}, "frequency must be non-negative"),
        ({"frequency": [0, 1.5, 5]}, "frequency must be whole numbers"),
        ({"recency": [0.0, -2.0, 30.0]}, "recency must be non-negative"),
        ({"recency": [0.0, 50.0, 30.0]}, "recency must not exceed T"),
        ({"recency": [3.0, 10.0, 30.0]}, "recency must be 0 where frequency is 0"),
        ({"T": [40.0, np.nan, 35.0]}, "T must be finite"),
        ({"T": [40.0, 40.0]}, "T has length 2 but frequency has length 3"),
        ({"frequency": ["a", 2, 5]}, "frequency must be numeric"),
    ],
)
def test_invalid_history_is_rejected(cls: type[TransactionModel], change: dict[str, Any],
                                     message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cls().fit(**{**GOOD, **change})


@pytest.mark.parametrize("penalizer", [-0.1, float("nan"), "0.1"])
def test_penalizer_must_be_a_non_negative_number(penalizer: Any) -> None:
    with pytest.raises(ValidationError, match="penalizer"):
        BetaGeo(penalizer=penalizer)


def test_weights_are_validated() -> None:
    with pytest.raises(ValidationError, match="weights has length 2"):
        BetaGeo().fit(**GOOD, weights=[1, 2])
    with pytest.raises(ValidationError, match="weights must be non-negative"):
        BetaGeo().fit(**GOOD, weights=[1, -2, 1])


def test_predictions_need_a_fitted_model_and_valid_horizons(bg: BetaGeo) -> None:
    with pytest.raises(ValidationError, match="not fitted"):
        BetaGeo().probability_alive(1, 2.0, 3.0)
    with pytest.raises(ValidationError, match="t must be non-negative"):
        bg.expected_purchases(-1.0, 1, 2.0, 3.0)
    with pytest.raises(ValidationError, match="n must be non-negative whole numbers"):
        bg.probability_of_purchases(1.5, 10.0)
    with pytest.raises(ValidationError, match="incompatible shapes"):
        bg.probability_alive([1, 2], [2.0, 3.0, 1.0], 3.0)


def test_gamma_gamma_input_is_validated() -> None:
    with pytest.raises(ValidationError, match="monetary_value must be > 0 where frequency > 0"):
        GammaGamma().fit(frequency=[1, 2, 0], monetary_value=[10.0, 0.0, 0.0])
    with pytest.raises(ValidationError, match="monetary_value has length 2"):
        GammaGamma().fit(frequency=[1, 2, 3], monetary_value=[10.0, 5.0])
    with pytest.raises(ValidationError, match="monetary_value must be finite"):
        GammaGamma().fit(frequency=[1, 2], monetary_value=[10.0, np.nan])


@pytest.mark.parametrize("cls", TRANSACTION_MODELS)
def test_all_zero_frequency_cannot_be_fitted(cls: type[TransactionModel]) -> None:
    with pytest.raises(ConvergenceError, match="all frequency is 0"):
        cls().fit(frequency=[0, 0, 0], recency=[0, 0, 0], T=[5.0, 10.0, 20.0])


def test_gamma_gamma_without_repeat_customers_cannot_be_fitted() -> None:
    with pytest.raises(ConvergenceError, match="every frequency is 0"):
        GammaGamma().fit(frequency=[0, 0], monetary_value=[0.0, 0.0])


def test_identical_spend_leaves_gamma_gamma_unidentified() -> None:
    # With no spread in the averages the shape p runs off to infinity.
    with pytest.raises(ConvergenceError, match="GammaGamma"):
        GammaGamma().fit(frequency=[1, 2, 3, 4] * 25, monetary_value=[20.0] * 100)


def test_bg_nbd_with_everyone_buying_constantly_cannot_be_fitted() -> None:
    # Everyone buys every period up to the end at the same rate: no heterogeneity and no
    # sign of dropout, so r, alpha -> infinity and a -> 0 along a flat ridge.
    x = np.arange(1, 41, dtype=float)
    with pytest.raises(ConvergenceError, match="BetaGeo fit"):
        BetaGeo().fit(frequency=x, recency=x, T=x)


def test_a_flat_or_saddle_optimum_has_no_standard_errors() -> None:
    from kithkin.clv.estimation import _standard_errors

    assert _standard_errors(np.diag([1.0, -1.0]), np.zeros(2)) is None
    errors = _standard_errors(np.diag([4.0, 1.0]), np.log([2.0, 3.0]))
    assert errors is not None
    np.testing.assert_allclose(errors, [2.0 * 0.5, 3.0 * 1.0])
